// The cloud intake's share of the hourly job (docs/cloud.md): multipart uploads left open for a
// day are aborted and their imports failed; once a day (the 04:xx UTC run) every configured AWS
// connection is visited; and a closed organisation's waiting bills are deleted with it.
import { failCloudImport, staleCloudUploads, tenantDb } from "../store/index.ts";
import { billObjectKey, billPrefix } from "./run-import.ts";
import { syncAllConnections } from "./sync.ts";

/** How long a multipart upload may stay open before the hourly job gives up on it. */
export const UPLOAD_OPEN_MS = 24 * 60 * 60 * 1000;
const BATCH = 100;

/** The UTC hour whose run of the hourly job visits the AWS connections. */
export const SYNC_HOUR_UTC = 4;

export async function runCloudJobs(env: Env, now: number): Promise<void> {
  await expireCloudUploads(env, now);
  if (new Date(now).getUTCHours() === SYNC_HOUR_UTC) await syncAllConnections(env);
}

export async function expireCloudUploads(env: Env, now: number): Promise<void> {
  for (const stale of await staleCloudUploads(env.DB, now - UPLOAD_OPEN_MS, BATCH)) {
    const target = { tenantId: stale.tenant_id, importId: stale.id };
    await env.CLOUD_BILLS.resumeMultipartUpload(billObjectKey(target), stale.upload_id)
      .abort()
      .catch(() => undefined); // already aborted or expired in R2: nothing left to free
    await failCloudImport(tenantDb(env.DB, stale.tenant_id), stale.id, now, {
      rowsRead: 0,
      bytesRead: 0,
      warnings: "[]",
      warningCount: 0,
      error: JSON.stringify({
        code: "upload_expired",
        message: "The multipart upload was not completed within 24 hours; start it again.",
        row: null,
        column: null,
      }),
    });
  }
}

/** Deletes every bill of the organisation still waiting in CLOUD_BILLS. */
export async function purgeCloudBills(env: Env, tenantId: string): Promise<void> {
  const prefix = billPrefix(tenantId);
  for (;;) {
    const listed = await env.CLOUD_BILLS.list({ prefix, limit: 1000 });
    if (listed.objects.length === 0) return;
    await env.CLOUD_BILLS.delete(listed.objects.map((o) => o.key));
    if (!listed.truncated) return;
  }
}
