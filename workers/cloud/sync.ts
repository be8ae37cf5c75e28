// The connector's runs (docs/cloud.md, "The AWS connector"): daily from the hourly job's 04:17
// run, or when asked (POST /api/v1/cloud/connection/sync). A run assumes the role, finds the
// export's billing periods, and starts one import per period that is new or that AWS rewrote
// since (its fingerprint changed). The import's Workflow copies the period's data files from S3
// into CLOUD_BILLS with a session of its own (fetchExportFiles), then reads them like an upload.
// A refusal from AWS leaves the connection "cut": no run tries it again until the organisation
// tests or saves it.
import { AppError } from "../../shared/errors.ts";
import { SYSTEM } from "../../shared/audit.ts";
import { newId } from "../../shared/ids.ts";
import {
  connectionsToSync,
  deleteCloudExportPeriod,
  insertCloudImport,
  listCloudExportPeriods,
  recordCloudExportPeriod,
  tenantDb,
} from "../store/index.ts";
import {
  changedPeriods,
  discoverPeriods,
  getObject,
  s3Client,
  type ConnectorFailure,
  type ConnectionVerdict,
  type ExportPeriod,
} from "./aws/index.ts";
import {
  assumeConnectionRole,
  checkConnection,
  configuredConnection,
  exportLocation,
  recordVerdict,
  type Configured,
} from "./connector.ts";
import { actorName, auditImportCreated, type CloudCaller } from "./imports.ts";
import { billObjectKey, startImportWorkflow, type FetchPlan, type ImportTarget } from "./run-import.ts";

/** A run's verdict (the steps it took, in words), the imports it started, the connection's state after. */
export type SyncOutcome = ConnectionVerdict & { imports: string[]; state: string };

function failedVerdict(step: "list_prefix", reason: ConnectorFailure): ConnectionVerdict {
  return {
    ok: false,
    retryable: reason.retryable,
    steps: [{ step, ok: false, message: reason.message, code: reason.code }],
    newest: null,
  };
}

/** One export per billing period: CUR 2.0 over a legacy report of the same month, then the last found. */
function onePerPeriod(periods: readonly ExportPeriod[]): ExportPeriod[] {
  const chosen = new Map<string, ExportPeriod>();
  for (const p of periods) {
    const held = chosen.get(p.billingPeriod);
    if (!held || (held.kind !== "cur2" && p.kind === "cur2")) chosen.set(p.billingPeriod, p);
  }
  return [...chosen.values()].sort((a, b) => a.billingPeriod.localeCompare(b.billingPeriod));
}

/**
 * Finds new or changed periods and starts their imports. The run begins with the same check as
 * "Test connection", so a refusal is explained in the same words; then it assumes the role for
 * the discovery itself.
 */
export async function syncConnection(caller: CloudCaller): Promise<SyncOutcome | AppError> {
  const found = await configuredConnection(caller);
  if (found instanceof AppError) return found;
  const { row } = found;
  const checked = await checkConnection(caller.tenantId, found);
  const failed = async (verdict: ConnectionVerdict): Promise<SyncOutcome> => ({
    ...verdict,
    imports: [],
    state: await recordVerdict(caller, row, verdict, false),
  });
  if (!checked.ok) return failed(checked);
  const periods = await discover(caller, found);
  if (!Array.isArray(periods)) return failed(failedVerdict("list_prefix", periods));
  const db = tenantDb(caller.env.DB, caller.tenantId);
  const seen = new Map((await listCloudExportPeriods(db)).map((p) => [p.manifest_key, p.fingerprint]));
  const imports: string[] = [];
  for (const period of changedPeriods(periods, seen)) {
    imports.push(await startPeriodImport(caller, row.bucket, period));
  }
  const listed = `${periods.length} billing period(s) found under s3://${row.bucket}/${row.prefix}; ${imports.length} new or changed, imported now.`;
  const verdict = {
    ...checked,
    steps: [...checked.steps, { step: "list_prefix" as const, ok: true, message: listed, code: null }],
  };
  return { ...verdict, imports, state: await recordVerdict(caller, row, verdict, true) };
}

/** Every billing period of the export (one export per period), or why they could not be read. */
async function discover(caller: CloudCaller, found: Configured): Promise<ExportPeriod[] | ConnectorFailure> {
  const { config, row } = found;
  const assumed = await assumeConnectionRole(found, caller.tenantId);
  if (!assumed.ok) return assumed.reason;
  const discovery = await discoverPeriods(s3Client(assumed.credentials, exportLocation(config, row)), row.prefix);
  return discovery.ok ? onePerPeriod(discovery.value.periods) : discovery.reason;
}

async function startPeriodImport(caller: CloudCaller, bucket: string, period: ExportPeriod): Promise<string> {
  const db = tenantDb(caller.env.DB, caller.tenantId);
  const target: ImportTarget = { tenantId: caller.tenantId, importId: newId() };
  const now = Date.now();
  const bytes = period.dataFiles.reduce((n, f) => n + (f.size ?? 0), 0);
  const fileName = `s3://${bucket}/${period.manifestKey}`.slice(0, 200);
  await insertCloudImport(db, {
    id: target.importId,
    source: "aws",
    file_name: fileName,
    bytes_total: bytes,
    created_by: actorName(caller.actor),
    created_at: now,
    upload_id: null,
    part_size: null,
  });
  // Recorded now so that a second run does not start the same period again; the import forgets
  // it if it fails, so the next run tries again.
  await recordCloudExportPeriod(db, {
    billing_period: period.billingPeriod,
    manifest_key: period.manifestKey,
    fingerprint: period.fingerprint,
    import_id: target.importId,
    synced_at: now,
  });
  await auditImportCreated(caller, target.importId, { source: "aws", bytes, fileName });
  const fetch: FetchPlan = {
    billingPeriod: period.billingPeriod,
    fingerprint: period.fingerprint,
    files: period.dataFiles,
  };
  // A Workflow that cannot start fails its import (and the period is tried again next run).
  if (await startImportWorkflow(caller.env, { ...target, fetch })) await forgetExportPeriod(caller.env, target);
  return target.importId;
}

/**
 * Copies a period's data files from the organisation's bucket into CLOUD_BILLS
 * (`bills/<tenant>/<import>/<0001…>`), with a role session of its own that ends with the copy.
 * Returns a reason when AWS refused (the import then fails with it).
 */
export async function fetchExportFiles(env: Env, target: ImportTarget, plan: FetchPlan): Promise<string | null> {
  const caller: CloudCaller = { env, tenantId: target.tenantId, actor: SYSTEM };
  const found = await configuredConnection(caller);
  if (found instanceof AppError) return found.message;
  const { config, row } = found;
  const assumed = await assumeConnectionRole(found, target.tenantId);
  if (!assumed.ok) return assumed.reason.message;
  const s3 = s3Client(assumed.credentials, exportLocation(config, row));
  for (const [i, file] of plan.files.entries()) {
    const got = await getObject(s3, file.key);
    if (!got.ok) return got.reason.message;
    const key = `${billObjectKey(target)}/${String(i + 1).padStart(4, "0")}`;
    const fixed = new FixedLengthStream(got.value.object.size);
    await Promise.all([env.CLOUD_BILLS.put(key, fixed.readable), got.value.body.pipeTo(fixed.writable)]);
  }
  return null;
}

/** A failed connector import: its period is forgotten, so the next run imports it again. */
export async function forgetExportPeriod(env: Env, target: ImportTarget): Promise<void> {
  await deleteCloudExportPeriod(tenantDb(env.DB, target.tenantId), target.importId);
}

/** How many organisations the daily run visits at once (each run is mostly waiting on AWS). */
const SYNC_CONCURRENCY = 8;

/**
 * The daily run: every organisation whose connection is configured and not cut off, a few at a
 * time. One organisation's failure (even a thrown one) does not stop the others.
 */
export async function syncAllConnections(env: Env): Promise<void> {
  const queue = await connectionsToSync(env.DB);
  const worker = async () => {
    for (let tenantId = queue.shift(); tenantId !== undefined; tenantId = queue.shift()) {
      try {
        const outcome = await syncConnection({ env, tenantId, actor: SYSTEM });
        if (outcome instanceof AppError) console.error("cloud sync skipped", tenantId, outcome.code);
      } catch (thrown) {
        console.error("cloud sync failed", tenantId, thrown instanceof Error ? thrown.name : "unknown");
      }
    }
  };
  await Promise.all(Array.from({ length: SYNC_CONCURRENCY }, worker));
}
