// Proxy keys as D1 lists them (api_keys): the mirror of the tenant ledger's keys, written only by
// the ledger's outbox (workers/ledger/), and each key's last use by the usage consumer (rollUp in
// usage-events.ts). Hash and secret never reach D1: prefix and a four-character hint only.
import { StoredDimensions } from "../../shared/rule-specs.ts";
import { parseStored } from "../../shared/stored-json.ts";
import type { TenantDb } from "./tenant-db.ts";

/** An api_keys row (tenant_id aside). */
export type ApiKeyRow = {
  id: string;
  name: string;
  /** olk_<tenant>_<id>, the same for every secret of the key */
  prefix: string;
  /** the dimensions bound to the key, a JSON object of strings (keyDimensions reads it) */
  dimensions: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  /** actorRef of who made it ("user:<id>", "admin:<id>"); null for keys made before accounts */
  created_by: string | null;
  /** the current secret's last four characters (null for keys made before hints) */
  secret_hint: string | null;
  rotated_at: number | null;
  previous_hint: string | null;
  previous_until: number | null;
  /** the start of the key's latest call (usage consumer) */
  last_used_at: number | null;
};

export function keyDimensions(r: Pick<ApiKeyRow, "dimensions">): Record<string, string> {
  return parseStored(StoredDimensions, r.dimensions, "api_keys.dimensions");
}

export type KeyListRow = Omit<ApiKeyRow, "created_by" | "last_used_at">;

/** The tenant's keys, newest first. */
export function listKeyRows(db: TenantDb): Promise<KeyListRow[]> {
  return db.all<KeyListRow>(
    `SELECT id, name, prefix, dimensions, created_at, expires_at, revoked_at, secret_hint, rotated_at, previous_hint,
       previous_until FROM api_keys WHERE tenant_id = ?1 ORDER BY created_at DESC, id`,
  );
}

/** The tenant's keys, every column, the live ones first, newest first. */
export function listKeyRowsLiveFirst(db: TenantDb): Promise<ApiKeyRow[]> {
  return db.all<ApiKeyRow>(
    `SELECT id, name, prefix, dimensions, created_at, expires_at, revoked_at, created_by, secret_hint, rotated_at,
         previous_hint, previous_until, last_used_at
       FROM api_keys WHERE tenant_id = ?1 ORDER BY revoked_at IS NOT NULL, created_at DESC, id`,
  );
}

export type KeyDetailRow = Pick<
  ApiKeyRow,
  | "id"
  | "name"
  | "prefix"
  | "revoked_at"
  | "expires_at"
  | "secret_hint"
  | "previous_hint"
  | "previous_until"
  | "created_by"
>;

/** One key of the tenant, for its rotate and revoke pages. */
export function findKeyRow(db: TenantDb, id: string): Promise<KeyDetailRow | null> {
  return db.first<KeyDetailRow>(
    `SELECT id, name, prefix, revoked_at, expires_at, secret_hint, previous_hint, previous_until, created_by
     FROM api_keys WHERE tenant_id = ?1 AND id = ?2`,
    id,
  );
}

/** Who made key `id` (its row's created_by), or null when the tenant has no such key. */
export function findKeyCreator(db: TenantDb, id: string): Promise<Pick<ApiKeyRow, "created_by"> | null> {
  return db.first<Pick<ApiKeyRow, "created_by">>(
    "SELECT created_by FROM api_keys WHERE tenant_id = ?1 AND id = ?2",
    id,
  );
}

/** Whether `id` is one of the tenant's keys (revoked or not). */
export async function keyExists(db: TenantDb, id: string): Promise<boolean> {
  return (await db.first("SELECT id FROM api_keys WHERE tenant_id = ?1 AND id = ?2", id)) !== null;
}

export type KeyChoiceRow = Pick<ApiKeyRow, "id" | "name" | "prefix" | "revoked_at">;

/** The tenant's keys for pickers: live ones first, by name. */
export function listKeyChoices(db: TenantDb): Promise<KeyChoiceRow[]> {
  return db.all<KeyChoiceRow>(
    "SELECT id, name, prefix, revoked_at FROM api_keys WHERE tenant_id = ?1 ORDER BY revoked_at IS NOT NULL, name, id",
  );
}

/** The tenant's keys' names and prefixes, in no order. */
export function listKeyNames(db: TenantDb): Promise<Pick<ApiKeyRow, "id" | "name" | "prefix">[]> {
  return db.all<Pick<ApiKeyRow, "id" | "name" | "prefix">>(
    "SELECT id, name, prefix FROM api_keys WHERE tenant_id = ?1",
  );
}

/** How many of the tenant's keys are not revoked (expired ones count). */
export async function countLiveKeys(db: TenantDb): Promise<number> {
  const row = await db.first<{ n: number }>(
    "SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ?1 AND revoked_at IS NULL",
  );
  return row?.n ?? 0;
}
