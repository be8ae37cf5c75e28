// TenantLedger: one Durable Object per tenant, the single writer of its hot-path state (keys,
// provider credentials, settings, price overrides). `admit` answers a proxied call in one round
// trip with no D1 query. Changes are mirrored to D1 for listing through an outbox flushed after
// each change (and retried by alarm), so D1 never misses a change the ledger made.
import { DurableObject } from "cloudflare:workers";
import { sameHash } from "../../shared/crypto.ts";
import type { PriceOverride } from "../../shared/pricing.ts";
import { tenantDb } from "../../shared/tenant-db.ts";
import type { WireFormat } from "../gateway/providers/types.ts";
import { migrate } from "./schema.ts";
import type {
  AdmitRequest,
  AdmitResult,
  KeyRecord,
  NewKey,
  ProviderRecord,
  ProviderUpdate,
  TenantSettings,
} from "./types.ts";

type KeyRow = {
  id: string;
  hash: string;
  name: string;
  prefix: string;
  dimensions: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
};
type ProviderRow = {
  name: string;
  format: string;
  base_url: string | null;
  credential: string;
  key_hint: string;
  updated_at: number;
};
type OverrideRow = {
  provider: string;
  model: string;
  input: string;
  cached_input: string;
  cache_write: string;
  output: string;
};

const OUTBOX_RETRY_MS = 10_000;

function keyRecord(row: KeyRow): KeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    dimensions: JSON.parse(row.dimensions) as Record<string, string>,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
  };
}

function providerRecord(row: ProviderRow): ProviderRecord {
  return {
    name: row.name,
    format: row.format as WireFormat,
    baseUrl: row.base_url,
    keyHint: row.key_hint,
    updatedAt: row.updated_at,
  };
}

function overrideRecord(row: OverrideRow): PriceOverride {
  return {
    provider: row.provider,
    model: row.model,
    input: row.input,
    cachedInput: row.cached_input,
    cacheWrite: row.cache_write,
    output: row.output,
  };
}

export class TenantLedger extends DurableObject<Env> {
  readonly #sql: SqlStorage;
  /** One flush at a time, so mirrored changes reach D1 in the order the ledger made them. */
  #flushing: Promise<void> = Promise.resolve();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    ctx
      .blockConcurrencyWhile(async () => migrate(this.#sql))
      .catch((error: unknown) => {
        console.error("ledger migration failed", error instanceof Error ? error.message : "unknown");
      });
  }

  // ---- hot path ---------------------------------------------------------------------------

  admit(request: AdmitRequest): AdmitResult {
    const row = this.#sql.exec<KeyRow>("SELECT * FROM keys WHERE id = ?", request.keyId).toArray()[0];
    if (!row || !sameHash(row.hash, request.keyHash)) return { ok: false, code: "invalid_api_key", reason: "unknown" };
    if (row.revoked_at !== null && row.revoked_at <= request.now) {
      return { ok: false, code: "invalid_api_key", reason: "revoked" };
    }
    if (row.expires_at !== null && row.expires_at <= request.now) {
      return { ok: false, code: "invalid_api_key", reason: "expired" };
    }
    const provider = this.#sql
      .exec<ProviderRow>("SELECT * FROM providers WHERE name = ?", request.provider)
      .toArray()[0];
    const overrides = this.#sql
      .exec<OverrideRow>("SELECT * FROM price_overrides WHERE provider = ?", request.provider)
      .toArray()
      .map(overrideRecord);
    return {
      ok: true,
      key: { id: row.id, dimensions: JSON.parse(row.dimensions) as Record<string, string> },
      provider: provider
        ? { format: provider.format as WireFormat, baseUrl: provider.base_url, sealedCredential: provider.credential }
        : null,
      allowPassthroughKeys: this.getSettings().allowPassthroughKeys,
      priceOverrides: overrides,
    };
  }

  // ---- keys -------------------------------------------------------------------------------

  async createKey(tenantId: string, key: NewKey, now = Date.now()): Promise<KeyRecord> {
    this.#bindTenant(tenantId);
    const dimensions = JSON.stringify(key.dimensions);
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec(
        "INSERT INTO keys (id, hash, name, prefix, dimensions, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
        key.id,
        key.hash,
        key.name,
        key.prefix,
        dimensions,
        now,
        key.expiresAt,
      );
      this.#enqueue(
        "INSERT INTO api_keys (tenant_id, id, name, prefix, dimensions, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (tenant_id, id) DO NOTHING",
        [key.id, key.name, key.prefix, dimensions, now, key.expiresAt],
      );
    });
    await this.#flush();
    const row = this.#sql.exec<KeyRow>("SELECT * FROM keys WHERE id = ?", key.id).one();
    return keyRecord(row);
  }

  async revokeKey(tenantId: string, id: string, now = Date.now()): Promise<KeyRecord | null> {
    this.#bindTenant(tenantId);
    const row = this.#sql.exec<KeyRow>("SELECT * FROM keys WHERE id = ?", id).toArray()[0];
    if (!row) return null;
    if (row.revoked_at === null) {
      this.ctx.storage.transactionSync(() => {
        this.#sql.exec("UPDATE keys SET revoked_at = ? WHERE id = ?", now, id);
        this.#enqueue("UPDATE api_keys SET revoked_at = ?2 WHERE tenant_id = ?1 AND id = ?3", [now, id]);
      });
      await this.#flush();
    }
    return keyRecord(this.#sql.exec<KeyRow>("SELECT * FROM keys WHERE id = ?", id).one());
  }

  listKeys(): KeyRecord[] {
    return this.#sql.exec<KeyRow>("SELECT * FROM keys ORDER BY created_at DESC, id").toArray().map(keyRecord);
  }

  // ---- providers --------------------------------------------------------------------------

  async setProvider(tenantId: string, update: ProviderUpdate, now = Date.now()): Promise<ProviderRecord> {
    this.#bindTenant(tenantId);
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec(
        `INSERT INTO providers (name, format, base_url, credential, key_hint, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET format = excluded.format, base_url = excluded.base_url,
           credential = excluded.credential, key_hint = excluded.key_hint, updated_at = excluded.updated_at`,
        update.name,
        update.format,
        update.baseUrl,
        update.sealedCredential,
        update.keyHint,
        now,
      );
      this.#enqueue(
        `INSERT INTO provider_credentials (tenant_id, provider, kind, base_url, key_hint, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tenant_id, provider) DO UPDATE SET kind = excluded.kind, base_url = excluded.base_url,
           key_hint = excluded.key_hint, updated_at = excluded.updated_at`,
        [update.name, update.format, update.baseUrl, update.keyHint, now],
      );
    });
    await this.#flush();
    return providerRecord(this.#sql.exec<ProviderRow>("SELECT * FROM providers WHERE name = ?", update.name).one());
  }

  async deleteProvider(tenantId: string, name: string): Promise<boolean> {
    this.#bindTenant(tenantId);
    const existed = this.#sql.exec("SELECT name FROM providers WHERE name = ?", name).toArray().length > 0;
    if (!existed) return false;
    this.ctx.storage.transactionSync(() => {
      this.#sql.exec("DELETE FROM providers WHERE name = ?", name);
      this.#enqueue("DELETE FROM provider_credentials WHERE tenant_id = ?1 AND provider = ?2", [name]);
    });
    await this.#flush();
    return true;
  }

  listProviders(): ProviderRecord[] {
    return this.#sql.exec<ProviderRow>("SELECT * FROM providers ORDER BY name").toArray().map(providerRecord);
  }

  // ---- settings and price overrides ---------------------------------------------------------

  getSettings(): TenantSettings {
    const row = this.#sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'settings'").toArray()[0];
    const stored = row ? (JSON.parse(row.v) as Partial<TenantSettings>) : {};
    return { allowPassthroughKeys: stored.allowPassthroughKeys === true };
  }

  setSettings(tenantId: string, settings: TenantSettings): TenantSettings {
    this.#bindTenant(tenantId);
    this.#sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('settings', ?)", JSON.stringify(settings));
    return this.getSettings();
  }

  listPriceOverrides(): PriceOverride[] {
    return this.#sql
      .exec<OverrideRow>("SELECT * FROM price_overrides ORDER BY provider, model")
      .toArray()
      .map(overrideRecord);
  }

  setPriceOverride(tenantId: string, o: PriceOverride): PriceOverride {
    this.#bindTenant(tenantId);
    this.#sql.exec(
      "INSERT OR REPLACE INTO price_overrides (provider, model, input, cached_input, cache_write, output) VALUES (?, ?, ?, ?, ?, ?)",
      o.provider,
      o.model,
      o.input,
      o.cachedInput,
      o.cacheWrite,
      o.output,
    );
    return o;
  }

  deletePriceOverride(tenantId: string, provider: string, model: string): boolean {
    this.#bindTenant(tenantId);
    return (
      this.#sql.exec("DELETE FROM price_overrides WHERE provider = ? AND model = ?", provider, model).rowsWritten > 0
    );
  }

  // ---- D1 mirror ----------------------------------------------------------------------------

  override async alarm(): Promise<void> {
    await this.#flush();
  }

  #bindTenant(tenantId: string): void {
    const row = this.#sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'tenant_id'").toArray()[0];
    if (!row) this.#sql.exec("INSERT INTO meta (k, v) VALUES ('tenant_id', ?)", tenantId);
    else if (row.v !== tenantId) throw new Error("ledger belongs to another tenant");
  }

  #tenantId(): string | null {
    return this.#sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'tenant_id'").toArray()[0]?.v ?? null;
  }

  /** Params exclude the tenant: it is always ?1, bound by the tenant-scoped accessor. */
  #enqueue(sql: string, params: unknown[]): void {
    this.#sql.exec("INSERT INTO outbox (sql, params) VALUES (?, ?)", sql, JSON.stringify(params));
  }

  #flush(): Promise<void> {
    this.#flushing = this.#flushing.then(() => this.#flushPending());
    return this.#flushing;
  }

  async #flushPending(): Promise<void> {
    const tenantId = this.#tenantId();
    const pending = this.#sql
      .exec<{ seq: number; sql: string; params: string }>("SELECT seq, sql, params FROM outbox ORDER BY seq LIMIT 50")
      .toArray();
    if (!tenantId || pending.length === 0) return;
    const db = tenantDb(this.env.DB, tenantId);
    try {
      await db.batch(pending.map((p) => db.prepare(p.sql, ...(JSON.parse(p.params) as unknown[]))));
    } catch (error) {
      console.error(
        "ledger mirror to D1 failed; retrying by alarm",
        error instanceof Error ? error.message : "unknown",
      );
      await this.ctx.storage.setAlarm(Date.now() + OUTBOX_RETRY_MS);
      return;
    }
    const last = pending[pending.length - 1];
    if (last) this.#sql.exec("DELETE FROM outbox WHERE seq <= ?", last.seq);
    if (pending.length === 50) await this.#flushPending();
  }
}
