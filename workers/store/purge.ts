// What the hourly job deletes: expired sessions and SSO requests, and a closed organisation's rows
// in chunks (so a tenant with millions of usage rows fits in the job's limits), its memberships,
// the people it leaves with no organisation, and last the tenant row. When and for how long the
// job runs is workers/auth/purge.ts.
import type { TenantDb } from "./tenant-db.ts";

/** Tables holding a tenant's rows, children before parents (D1 enforces foreign keys). */
export const TENANT_TABLES = [
  "usage_packs",
  "usage_rollups_hourly",
  "usage_rollups_daily",
  "audit_events",
  "audit_call_runs",
  "ledger_rules",
  "api_keys",
  "provider_credentials",
  "admin_tokens",
  "invitations",
  "password_resets",
  "sso_requests",
  "sso_identities",
  "sso_configs",
  "sessions",
  "webhook_attempts",
  "webhook_messages",
  "webhook_endpoints",
  "cloud_lines",
  "cloud_periods",
  "cloud_import_parts",
  "cloud_imports",
  "cloud_export_periods",
  "cloud_connections",
] as const;
export type TenantTable = (typeof TENANT_TABLES)[number];
const CHUNK = 5_000;

/** Forgets sessions and SSO requests past their expiry. */
export async function deleteExpired(db: D1Database, now: number): Promise<void> {
  await db.batch([
    db.prepare("DELETE FROM sessions WHERE expires_at <= ?").bind(now),
    db.prepare("DELETE FROM sso_requests WHERE expires_at <= ?").bind(now),
  ]);
}

/** Closed organisations whose purge time has come, earliest first. */
export async function tenantsDueForPurge(db: D1Database, now: number): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT id FROM tenants WHERE purge_at IS NOT NULL AND purge_at <= ? ORDER BY purge_at")
    .bind(now)
    .all<{ id: string }>();
  return results.map((r) => r.id);
}

/** The rollup tables, audit_events, audit_call_runs and usage_packs are WITHOUT ROWID: a chunk of them is named by its primary key. */
const ROW_KEY: Partial<Record<TenantTable, string>> = {
  usage_packs: "pack_id, bucket, part",
  usage_rollups_hourly: "dim_name, hour, provider, model, key_id, dim_value",
  usage_rollups_daily: "dim_name, day, provider, model, key_id, dim_value",
  audit_events: "seq",
  audit_call_runs: "first_seq",
};

function chunkDelete(table: TenantTable): string {
  const key = ROW_KEY[table] ?? "rowid";
  const rows = `SELECT ${key} FROM ${table} WHERE tenant_id = ?1 LIMIT ${CHUNK}`;
  return key === "rowid"
    ? `DELETE FROM ${table} WHERE rowid IN (${rows})`
    : `DELETE FROM ${table} WHERE tenant_id = ?1 AND (${key}) IN (${rows})`;
}

/** Deletes one chunk of the tenant's rows in `table`; true when none are left. */
export async function deleteTenantChunk(db: TenantDb, table: TenantTable): Promise<boolean> {
  const deleted = await db.run(chunkDelete(table));
  return deleted.meta.changes < CHUNK;
}

/** Deletes the tenant's memberships; the people they were of. */
export async function deleteTenantMemberships(db: TenantDb): Promise<string[]> {
  const members = await db.all<{ user_id: string }>("SELECT user_id FROM memberships WHERE tenant_id = ?1");
  await db.run("DELETE FROM memberships WHERE tenant_id = ?1");
  return members.map((m) => m.user_id);
}

/** Deletes the person (their recovery codes and sessions first) if they belong to no organisation
 * any more and nothing else names them (an SSO identity, a password reset). */
export async function deleteIfOrphan(db: D1Database, userId: string): Promise<void> {
  await db.batch([
    db
      .prepare(
        "DELETE FROM recovery_codes WHERE user_id = ?1 AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = ?1)",
      )
      .bind(userId),
    db
      .prepare("DELETE FROM sessions WHERE user_id = ?1 AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = ?1)")
      .bind(userId),
    db
      .prepare(
        `DELETE FROM users WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = ?1)
         AND NOT EXISTS (SELECT 1 FROM sso_identities WHERE user_id = ?1)
         AND NOT EXISTS (SELECT 1 FROM password_resets WHERE user_id = ?1)`,
      )
      .bind(userId),
  ]);
}

/** The tenant row itself, last (only of a closed organisation). */
export async function deleteClosedTenant(db: D1Database, tenantId: string): Promise<void> {
  await db.prepare("DELETE FROM tenants WHERE id = ? AND closed_at IS NOT NULL").bind(tenantId).run();
}
