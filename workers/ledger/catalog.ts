// The ledger's reference data: proxy keys, provider credentials, price overrides and settings,
// as rows of its SQLite storage with in-memory copies of what `admit` reads. The ledger is the
// single writer, so each write drops the copy it changed and the next read loads it again.
// Mirroring to D1 and audit events belong to the change modules (key-changes.ts, config-changes.ts).
import { DEFAULT_LOCALE, isLocale } from "../../shared/locale.ts";
import type { PriceOverride } from "../../shared/pricing.ts";
import { isTimeZone } from "../../shared/windows.ts";
import type { WireFormat } from "../../shared/wire-format.ts";
import type {
  Admitted,
  KeyRecord,
  KeyRotation,
  LeasedKey,
  NewKey,
  ProviderRecord,
  ProviderUpdate,
  TenantSettings,
} from "./types.ts";
import { z } from "zod";
import { StoredDimensions } from "../../shared/rule-specs.ts";
import { parseStored } from "../../shared/stored-json.ts";

export type LedgerKeyRow = {
  id: string;
  hash: string;
  name: string;
  prefix: string;
  dimensions: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  hint: string | null;
  rotated_at: number | null;
  rotation_id: string | null;
  previous_hash: string | null;
  previous_hint: string | null;
  previous_until: number | null;
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

const DEFAULT_SETTINGS: TenantSettings = {
  allowPassthroughKeys: false,
  timeZone: "UTC",
  locale: DEFAULT_LOCALE,
  admissionMode: "strict",
};
/** A lease carries at most this many keys; calls with other keys are admitted by the ledger. */
export const LEASED_KEYS_MAX = 10_000;

/** Settings as stored: each field may be missing (older ledgers); unknown values fall back below. */
const StoredSettings = z.object({
  allowPassthroughKeys: z.boolean().optional(),
  timeZone: z.string().optional(),
  locale: z.string().optional(),
  admissionMode: z.string().optional(),
});

function keyDimensions(row: Pick<LedgerKeyRow, "dimensions">): Record<string, string> {
  return parseStored(StoredDimensions, row.dimensions, "key dimensions");
}

function keyRecord(row: LedgerKeyRow): KeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    dimensions: keyDimensions(row),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    hint: row.hint,
    rotatedAt: row.rotated_at,
    previousHint: row.previous_hint,
    previousUntil: row.previous_until,
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

export class Catalog {
  readonly #sql: SqlStorage;
  #keys = new Map<string, { row: LedgerKeyRow; dimensions: Record<string, string> }>();
  #providers = new Map<string, Admitted["provider"]>();
  #overrides = new Map<string, PriceOverride[]>();
  #settings: TenantSettings | null = null;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  // ---- keys ---------------------------------------------------------------------------------

  key(id: string): { row: LedgerKeyRow; dimensions: Record<string, string> } | null {
    let entry = this.#keys.get(id);
    if (!entry) {
      const row = this.#sql.exec<LedgerKeyRow>("SELECT * FROM keys WHERE id = ?", id).toArray()[0];
      if (!row) return null;
      entry = { row, dimensions: keyDimensions(row) };
      this.#keys.set(id, entry);
    }
    return entry;
  }

  keyRecord(id: string): KeyRecord | null {
    const row = this.#sql.exec<LedgerKeyRow>("SELECT * FROM keys WHERE id = ?", id).toArray()[0];
    return row ? keyRecord(row) : null;
  }

  /** The key's last rotation id, or null (the in-memory copy does not keep it). */
  rotationId(id: string): string | null {
    const row = this.#sql.exec<{ rotation_id: string | null }>("SELECT rotation_id FROM keys WHERE id = ?", id);
    return row.toArray()[0]?.rotation_id ?? null;
  }

  insertKey(key: NewKey, now: number): void {
    this.#sql.exec(
      "INSERT INTO keys (id, hash, name, prefix, dimensions, created_at, expires_at, revoked_at, hint) VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
      key.id,
      key.hash,
      key.name,
      key.prefix,
      JSON.stringify(key.dimensions),
      now,
      key.expiresAt,
      key.hint,
    );
    this.#keys.delete(key.id);
  }

  /** The new secret becomes current; the current one becomes the previous, accepted until
   * `previousUntil` (an older previous secret is dropped: there is only one). */
  rotateKey(id: string, rotation: KeyRotation, previousUntil: number, now: number): void {
    this.#sql.exec(
      `UPDATE keys SET previous_hash = hash, previous_hint = hint, previous_until = ?, hash = ?, hint = ?,
         rotated_at = ?, rotation_id = ? WHERE id = ?`,
      previousUntil,
      rotation.hash,
      rotation.hint,
      now,
      rotation.rotationId,
      id,
    );
    this.#keys.delete(id);
  }

  revokeKey(id: string, now: number): void {
    this.#sql.exec("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", now, id);
    this.#keys.delete(id);
  }

  /** Keys that may be used at `now` (not revoked, not expired), newest first, for a lease. */
  activeKeys(now: number): LeasedKey[] {
    return this.#sql
      .exec<LedgerKeyRow>(
        `SELECT * FROM keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)
         ORDER BY created_at DESC LIMIT ${LEASED_KEYS_MAX}`,
        now,
      )
      .toArray()
      .map((row) => {
        const previous = row.previous_hash !== null && row.previous_until !== null && row.previous_until > now;
        return {
          id: row.id,
          hash: row.hash,
          previousHash: previous ? row.previous_hash : null,
          previousUntil: previous ? row.previous_until : null,
          dimensions: keyDimensions(row),
          expiresAt: row.expires_at,
        };
      });
  }

  listKeys(): KeyRecord[] {
    return this.#sql.exec<LedgerKeyRow>("SELECT * FROM keys ORDER BY created_at DESC, id").toArray().map(keyRecord);
  }

  // ---- providers ----------------------------------------------------------------------------

  provider(name: string): Admitted["provider"] {
    if (this.#providers.has(name)) return this.#providers.get(name) ?? null;
    const row = this.#sql.exec<ProviderRow>("SELECT * FROM providers WHERE name = ?", name).toArray()[0];
    const provider = row
      ? { format: row.format as WireFormat, baseUrl: row.base_url, sealedCredential: row.credential }
      : null;
    if (provider) this.#providers.set(name, provider);
    return provider;
  }

  upsertProvider(update: ProviderUpdate, now: number): ProviderRecord {
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
    this.#providers.delete(update.name);
    return providerRecord(this.#sql.exec<ProviderRow>("SELECT * FROM providers WHERE name = ?", update.name).one());
  }

  deleteProvider(name: string): boolean {
    this.#providers.delete(name);
    return this.#sql.exec("DELETE FROM providers WHERE name = ?", name).rowsWritten > 0;
  }

  /** Every provider with its sealed credential, for a lease. */
  providerConfigs(): Record<string, NonNullable<Admitted["provider"]>> {
    const out: Record<string, NonNullable<Admitted["provider"]>> = {};
    for (const row of this.#sql.exec<ProviderRow>("SELECT * FROM providers")) {
      out[row.name] = { format: row.format as WireFormat, baseUrl: row.base_url, sealedCredential: row.credential };
    }
    return out;
  }

  listProviders(): ProviderRecord[] {
    return this.#sql.exec<ProviderRow>("SELECT * FROM providers ORDER BY name").toArray().map(providerRecord);
  }

  // ---- price overrides ----------------------------------------------------------------------

  overridesFor(provider: string): PriceOverride[] {
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

  listOverrides(): PriceOverride[] {
    return this.#sql
      .exec<OverrideRow>("SELECT * FROM price_overrides ORDER BY provider, model")
      .toArray()
      .map(overrideRecord);
  }

  setOverride(o: PriceOverride): void {
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
  }

  deleteOverride(provider: string, model: string): boolean {
    this.#overrides.delete(provider);
    return (
      this.#sql.exec("DELETE FROM price_overrides WHERE provider = ? AND model = ?", provider, model).rowsWritten > 0
    );
  }

  // ---- settings -----------------------------------------------------------------------------

  settings(): TenantSettings {
    if (!this.#settings) {
      const row = this.#sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'settings'").toArray()[0];
      const stored = row ? parseStored(StoredSettings, row.v, "settings") : {};
      this.#settings = {
        allowPassthroughKeys: stored.allowPassthroughKeys === true,
        timeZone: stored.timeZone && isTimeZone(stored.timeZone) ? stored.timeZone : DEFAULT_SETTINGS.timeZone,
        locale: stored.locale && isLocale(stored.locale) ? stored.locale : DEFAULT_SETTINGS.locale,
        admissionMode: stored.admissionMode === "lease" ? "lease" : "strict",
      };
    }
    return this.#settings;
  }

  setSettings(change: Partial<TenantSettings>): TenantSettings {
    const next = { ...this.settings(), ...change };
    this.#sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('settings', ?)", JSON.stringify(next));
    this.#settings = null;
    return this.settings();
  }
}
