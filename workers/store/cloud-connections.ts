// The AWS connector's rows (cloud_connections, cloud_export_periods; d1/SCHEMA.md): one
// connection per organisation with the ExternalId Outlay generated for it, and the billing
// periods it imported with their export fingerprints. No credential is ever stored here.
import type { TenantDb } from "./tenant-db.ts";

export type CloudConnectionState = "unconfigured" | "unverified" | "connected" | "failing" | "cut";

export type CloudConnectionRow = {
  external_id: string;
  role_arn: string | null;
  bucket: string | null;
  prefix: string;
  region: string | null;
  state: CloudConnectionState;
  /** JSON verdict of the last test or run */
  last_result: string | null;
  last_checked_at: number | null;
  last_sync_at: number | null;
  created_at: number;
  updated_at: number;
};

const COLUMNS =
  "external_id, role_arn, bucket, prefix, region, state, last_result, last_checked_at, last_sync_at, created_at, updated_at";

export function getCloudConnection(db: TenantDb): Promise<CloudConnectionRow | null> {
  return db.first<CloudConnectionRow>(`SELECT ${COLUMNS} FROM cloud_connections WHERE tenant_id = ?1`);
}

/** The organisation's connection, made (with `externalId`) the first time it is asked for. */
export async function ensureCloudConnection(
  db: TenantDb,
  externalId: string,
  now: number,
): Promise<CloudConnectionRow> {
  await db.run(
    `INSERT INTO cloud_connections (tenant_id, external_id, state, created_at, updated_at)
     VALUES (?1, ?2, 'unconfigured', ?3, ?3) ON CONFLICT (tenant_id) DO NOTHING`,
    externalId,
    now,
  );
  const row = await getCloudConnection(db);
  if (!row) throw new Error("the connection just made is gone");
  return row;
}

export type CloudConnectionTarget = { roleArn: string; bucket: string; prefix: string; region: string };

/** Saves the role and export location; the connection is unverified until tested. */
export async function saveCloudConnection(db: TenantDb, target: CloudConnectionTarget, now: number): Promise<void> {
  await db.run(
    `UPDATE cloud_connections SET role_arn = ?2, bucket = ?3, prefix = ?4, region = ?5, state = 'unverified',
       last_result = NULL, last_checked_at = NULL, updated_at = ?6
     WHERE tenant_id = ?1`,
    target.roleArn,
    target.bucket,
    target.prefix,
    target.region,
    now,
  );
}

/** Forgets the role and location (the ExternalId stays: it is the organisation's for good). */
export async function clearCloudConnection(db: TenantDb, now: number): Promise<boolean> {
  const result = await db.run(
    `UPDATE cloud_connections SET role_arn = NULL, bucket = NULL, prefix = '', region = NULL, state = 'unconfigured',
       last_result = NULL, last_checked_at = NULL, updated_at = ?2
     WHERE tenant_id = ?1 AND role_arn IS NOT NULL`,
    now,
  );
  return result.meta.changes > 0;
}

/** The outcome of a test or a run, unless the connection was changed meanwhile (`roleArn` differs). */
export async function recordCloudConnectionCheck(
  db: TenantDb,
  check: { roleArn: string; state: CloudConnectionState; result: string; at: number; synced: boolean },
): Promise<void> {
  await db.run(
    `UPDATE cloud_connections SET state = ?3, last_result = ?4, last_checked_at = ?5,
       last_sync_at = CASE WHEN ?6 THEN ?5 ELSE last_sync_at END
     WHERE tenant_id = ?1 AND role_arn = ?2`,
    check.roleArn,
    check.state,
    check.result,
    check.at,
    check.synced ? 1 : 0,
  );
}

/** Organisations whose connector the daily run visits: configured, and not cut off. */
export async function connectionsToSync(db: D1Database): Promise<string[]> {
  const { results } = await db
    .prepare(
      `SELECT tenant_id FROM cloud_connections
       WHERE role_arn IS NOT NULL AND state IN ('unverified', 'connected', 'failing') ORDER BY tenant_id`,
    )
    .all<{ tenant_id: string }>();
  return results.map((r) => r.tenant_id);
}

export type CloudExportPeriodRow = {
  billing_period: string;
  manifest_key: string;
  fingerprint: string;
  import_id: string;
  synced_at: number;
};

export function listCloudExportPeriods(db: TenantDb): Promise<CloudExportPeriodRow[]> {
  return db.all<CloudExportPeriodRow>(
    `SELECT billing_period, manifest_key, fingerprint, import_id, synced_at FROM cloud_export_periods
     WHERE tenant_id = ?1 ORDER BY billing_period`,
  );
}

export async function recordCloudExportPeriod(db: TenantDb, row: CloudExportPeriodRow): Promise<void> {
  await db.run(
    `INSERT INTO cloud_export_periods (tenant_id, billing_period, manifest_key, fingerprint, import_id, synced_at)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)
     ON CONFLICT (tenant_id, billing_period) DO UPDATE SET manifest_key = excluded.manifest_key,
       fingerprint = excluded.fingerprint, import_id = excluded.import_id, synced_at = excluded.synced_at`,
    row.billing_period,
    row.manifest_key,
    row.fingerprint,
    row.import_id,
    row.synced_at,
  );
}

/** Forgets the period an import was started for (it failed: the next run tries it again). */
export async function deleteCloudExportPeriod(db: TenantDb, importId: string): Promise<void> {
  await db.run("DELETE FROM cloud_export_periods WHERE tenant_id = ?1 AND import_id = ?2", importId);
}
