// The scheduled job (wrangler.toml [triggers], hourly): forgets expired sessions, SSO requests and
// old sign-in failures, and purges organisations closed 29 days ago or more, so all their data is
// gone within 30 days of closing. A purge deletes in chunks (so a tenant with millions of usage
// rows fits in the job's limits), resumes where it stopped on the next run, and removes the
// tenant row last. People left with no organisation are deleted with it.
import { tenantDb } from "../store/index.ts";
import { ledgerFor } from "../ledger/index.ts";
import { pruneFailures } from "./throttle.ts";

/** Tables holding a tenant's rows, children before parents (D1 enforces foreign keys). */
const TENANT_TABLES = [
  "usage_events",
  "usage_rollups_hourly",
  "usage_rollups_daily",
  "audit_events",
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
] as const;
const CHUNK = 5_000;
/** Stop starting new chunks after this long; the next run goes on. */
const BUDGET_MS = 10 * 60 * 1000;

export async function runScheduled(env: Env, now: number): Promise<void> {
  await env.DB.batch([
    env.DB.prepare("DELETE FROM sessions WHERE expires_at <= ?").bind(now),
    env.DB.prepare("DELETE FROM sso_requests WHERE expires_at <= ?").bind(now),
  ]);
  await pruneFailures(env, now);
  const { results } = await env.DB.prepare(
    "SELECT id FROM tenants WHERE purge_at IS NOT NULL AND purge_at <= ? ORDER BY purge_at",
  )
    .bind(now)
    .all<{ id: string }>();
  const started = Date.now();
  for (const { id } of results) {
    if (!(await purgeTenant(env, id, started))) return;
  }
}

/** The rollup tables are WITHOUT ROWID: a chunk of them is named by its primary key. */
const ROW_KEY: Partial<Record<(typeof TENANT_TABLES)[number], string>> = {
  usage_rollups_hourly: "dim_name, hour, provider, model, key_id, dim_value",
  usage_rollups_daily: "dim_name, day, provider, model, key_id, dim_value",
};

function chunkDelete(table: (typeof TENANT_TABLES)[number]): string {
  const key = ROW_KEY[table] ?? "rowid";
  const rows = `SELECT ${key} FROM ${table} WHERE tenant_id = ?1 LIMIT ${CHUNK}`;
  return key === "rowid"
    ? `DELETE FROM ${table} WHERE rowid IN (${rows})`
    : `DELETE FROM ${table} WHERE tenant_id = ?1 AND (${key}) IN (${rows})`;
}

/** Deletes what is left of one closed tenant; false when the time budget ran out first. */
export async function purgeTenant(env: Env, tenantId: string, started = Date.now()): Promise<boolean> {
  const db = tenantDb(env.DB, tenantId);
  await ledgerFor(env, tenantId).purge();
  for (const table of TENANT_TABLES) {
    for (;;) {
      if (Date.now() - started > BUDGET_MS) return false;
      const deleted = await db.run(chunkDelete(table));
      if (deleted.meta.changes < CHUNK) break;
    }
  }
  const members = await db.all<{ user_id: string }>("SELECT user_id FROM memberships WHERE tenant_id = ?1");
  await db.run("DELETE FROM memberships WHERE tenant_id = ?1");
  const orphans = members.map((m) => m.user_id);
  for (const userId of orphans) {
    await env.DB.batch([
      env.DB.prepare(
        "DELETE FROM recovery_codes WHERE user_id = ?1 AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = ?1)",
      ).bind(userId),
      env.DB.prepare(
        "DELETE FROM sessions WHERE user_id = ?1 AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = ?1)",
      ).bind(userId),
      env.DB.prepare(
        `DELETE FROM users WHERE id = ?1 AND NOT EXISTS (SELECT 1 FROM memberships WHERE user_id = ?1)
         AND NOT EXISTS (SELECT 1 FROM sso_identities WHERE user_id = ?1)
         AND NOT EXISTS (SELECT 1 FROM password_resets WHERE user_id = ?1)`,
      ).bind(userId),
    ]);
  }
  await env.DB.prepare("DELETE FROM tenants WHERE id = ? AND closed_at IS NOT NULL").bind(tenantId).run();
  return true;
}
