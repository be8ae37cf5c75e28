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
  Admitted,
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
  // In-memory copies of what `admit` reads. The ledger is the single writer of its storage, so
  // each write below drops the entry it changed and the next read loads it again.
  #keys = new Map<string, { row: KeyRow; dimensions: Record<string, string> }>();
  #providers = new Map<string, Admitted["provider"]>();
  #overrides = new Map<string, PriceOverride[]>();
  #settings: TenantSettings | null = null;

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
    const key = this.#key(request.keyId);
    if (!key || !sameHash(key.row.hash, request.keyHash))
      return { ok: false, code: "invalid_api_key", reason: "unknown" };
    if (key.row.revoked_at !== null && key.row.revoked_at <= request.now) {
      return { ok: false, code: "invalid_api_key", reason: "revoked" };
    }
    if (key.row.expires_at !== null && key.row.expires_at <= request.now) {
      return { ok: false, code: "invalid_api_key", reason: "expired" };
    }
    return {
      ok: true,
      key: { id: key.row.id, dimensions: key.dimensions },
      provider: this.#provider(request.provider),
      allowPassthroughKeys: this.getSettings().allowPassthroughKeys,
      priceOverrides: this.#overridesFor(request.provider),
    };
  }

  #key(id: string) {
    let entry = this.#keys.get(id);
    if (!entry) {
      const row = this.#sql.exec<KeyRow>("SELECT * FROM keys WHERE id = ?", id).toArray()[0];
      if (!row) return null;
      entry = { row, dimensions: JSON.parse(row.dimensions) as Record<string, string> };
      this.#keys.set(id, entry);
    }
    return entry;
  }

  #provider(name: string): Admitted["provider"] {
    if (this.#providers.has(name)) return this.#providers.get(name) ?? null;
    const row = this.#sql.exec<ProviderRow>("SELECT * FROM providers WHERE name = ?", name).toArray()[0];
    const provider = row
      ? { format: row.format as WireFormat, baseUrl: row.base_url, sealedCredential: row.credential }
      : null;
    if (provider) this.#providers.set(name, provider);
    return provider;
  }

  #overridesFor(provider: string): PriceOverride[] {
    let list = this.#overrides.get(provider);
    if (!list) {
      list = this.#sql
        .exec<OverrideRow>("SELECT * FROM price_overrides WHERE provider = ?", provider)
        .toArray()
        .map(overrideRecord);
      if (this.#overrides.size >= 256) this.#overrides.clear();
      this.#overrides.set(provider, list);
    }
    return list;
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
    this.#keys.delete(key.id);
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
      this.#keys.delete(id);
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
    this.#providers.delete(update.name);
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
    this.#providers.delete(name);
    await this.#flush();
    return true;
  }

  listProviders(): ProviderRecord[] {
    return this.#sql.exec<ProviderRow>("SELECT * FROM providers ORDER BY name").toArray().map(providerRecord);
  }

  // ---- settings and price overrides ---------------------------------------------------------

  getSettings(): TenantSettings {
    if (!this.#settings) {
      const row = this.#sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'settings'").toArray()[0];
      const stored = row ? (JSON.parse(row.v) as Partial<TenantSettings>) : {};
      this.#settings = { allowPassthroughKeys: stored.allowPassthroughKeys === true };
    }
    return this.#settings;
  }

  setSettings(tenantId: string, settings: TenantSettings): TenantSettings {
    this.#bindTenant(tenantId);
    this.#sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('settings', ?)", JSON.stringify(settings));
    this.#settings = null;
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
    this.#overrides.delete(o.provider);
    return o;
  }

  deletePriceOverride(tenantId: string, provider: string, model: string): boolean {
    this.#bindTenant(tenantId);
    this.#overrides.delete(provider);
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
