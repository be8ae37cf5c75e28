// The scheduled job (wrangler.toml [triggers], hourly): forgets expired sessions, SSO requests and
// old sign-in failures, and purges organisations closed 29 days ago or more, so all their data is
// gone within 30 days of closing. A purge deletes in chunks (so a tenant with millions of usage
// rows fits in the job's limits), resumes where it stopped on the next run, and removes the
// tenant row last. People left with no organisation are deleted with it.
import { purgeArchive } from "../archive/index.ts";
import { purgeCloudBills } from "../cloud/index.ts";
import { ledgerFor } from "../ledger/index.ts";
import {
  deleteClosedTenant,
  deleteExpired,
  deleteIfOrphan,
  deleteTenantChunk,
  deleteTenantMemberships,
  TENANT_TABLES,
  tenantDb,
  tenantsDueForPurge,
} from "../store/index.ts";
import { pruneFailures } from "./throttle.ts";

/** Stop starting new chunks after this long; the next run goes on. */
const BUDGET_MS = 10 * 60 * 1000;

export async function runScheduled(env: Env, now: number): Promise<void> {
  await deleteExpired(env.DB, now);
  await pruneFailures(env, now);
  const due = await tenantsDueForPurge(env.DB, now);
  const started = Date.now();
  for (const id of due) {
    if (!(await purgeTenant(env, id, started))) return;
  }
}

/** Deletes what is left of one closed tenant; false when the time budget ran out first. */
export async function purgeTenant(env: Env, tenantId: string, started = Date.now()): Promise<boolean> {
  const db = tenantDb(env.DB, tenantId);
  await ledgerFor(env, tenantId).purge();
  await purgeArchive(env, tenantId);
  await purgeCloudBills(env, tenantId);
  for (const table of TENANT_TABLES) {
    for (;;) {
      if (Date.now() - started > BUDGET_MS) return false;
      if (await deleteTenantChunk(db, table)) break;
    }
  }
  // People left with no organisation (and nothing else naming them) go with it.
  for (const userId of await deleteTenantMemberships(db)) await deleteIfOrphan(env.DB, userId);
  await deleteClosedTenant(env.DB, tenantId);
  return true;
}
