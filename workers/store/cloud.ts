// The cloud-bill intake's tables (cloud_imports, cloud_periods, cloud_lines; d1/SCHEMA.md). An
// import writes its lines under its own id; a billing period counts the lines of the import that
// `cloud_periods` names, so replacing a period is one batch at the end of a successful import and
// a failed one never touches what was there. Money is integer nano-units, read back as text.
import type { TenantDb } from "./tenant-db.ts";

export type CloudImportStatus = "queued" | "running" | "done" | "failed";

export type CloudImportRow = {
  id: string;
  source: "upload" | "aws";
  file_name: string;
  status: CloudImportStatus;
  format: string | null;
  schema_name: string | null;
  /** JSON array of "YYYY-MM" */
  billing_periods: string;
  rows_read: number;
  rows_stored: number;
  bytes_read: number;
  bytes_total: number;
  /** JSON array of the first warnings */
  warnings: string;
  warning_count: number;
  /** JSON object, when failed */
  error: string | null;
  created_by: string;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  /** R2's id of a multipart upload still open, and its part size */
  upload_id: string | null;
  part_size: number | null;
};

const IMPORT_COLUMNS =
  "id, source, file_name, status, format, schema_name, billing_periods, rows_read, rows_stored, bytes_read, bytes_total, warnings, warning_count, error, created_by, created_at, started_at, finished_at, upload_id, part_size";

export async function insertCloudImport(
  db: TenantDb,
  row: Pick<
    CloudImportRow,
    "id" | "source" | "file_name" | "bytes_total" | "created_by" | "created_at" | "upload_id" | "part_size"
  >,
): Promise<void> {
  await db.run(
    `INSERT INTO cloud_imports (tenant_id, id, source, file_name, status, bytes_total, created_by, created_at, upload_id, part_size)
     VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8, ?9)`,
    row.id,
    row.source,
    row.file_name,
    row.bytes_total,
    row.created_by,
    row.created_at,
    row.upload_id,
    row.part_size,
  );
}

export type CloudImportPartRow = { part_number: number; etag: string; size: number };

/** A part received (a part sent again replaces the earlier one, as R2 does). */
export async function recordCloudImportPart(db: TenantDb, importId: string, part: CloudImportPartRow): Promise<void> {
  await db.run(
    `INSERT INTO cloud_import_parts (tenant_id, import_id, part_number, etag, size) VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (tenant_id, import_id, part_number) DO UPDATE SET etag = excluded.etag, size = excluded.size`,
    importId,
    part.part_number,
    part.etag,
    part.size,
  );
}

export function listCloudImportParts(db: TenantDb, importId: string): Promise<CloudImportPartRow[]> {
  return db.all<CloudImportPartRow>(
    `SELECT part_number, etag, size FROM cloud_import_parts WHERE tenant_id = ?1 AND import_id = ?2 ORDER BY part_number`,
    importId,
  );
}

/** The upload is whole: true for the one caller that closed it (a second completion gets false). */
export async function closeCloudImportUpload(db: TenantDb, importId: string, uploadId: string): Promise<boolean> {
  const [closed] = await db.batch([
    db.prepare(
      `UPDATE cloud_imports SET upload_id = NULL WHERE tenant_id = ?1 AND id = ?2 AND upload_id = ?3 AND status = 'queued'`,
      importId,
      uploadId,
    ),
    db.prepare(
      `DELETE FROM cloud_import_parts WHERE tenant_id = ?1 AND import_id = ?2
         AND NOT EXISTS (SELECT 1 FROM cloud_imports WHERE tenant_id = ?1 AND id = ?2 AND upload_id IS NOT NULL)`,
      importId,
    ),
  ]);
  return (closed?.meta.changes ?? 0) > 0;
}

/** Multipart uploads opened before `before` and never completed (the hourly job fails them). */
export function staleCloudUploads(
  db: D1Database,
  before: number,
  limit: number,
): Promise<{ tenant_id: string; id: string; upload_id: string }[]> {
  return db
    .prepare(
      `SELECT tenant_id, id, upload_id FROM cloud_imports
       WHERE upload_id IS NOT NULL AND status = 'queued' AND created_at < ? ORDER BY created_at LIMIT ?`,
    )
    .bind(before, limit)
    .all<{ tenant_id: string; id: string; upload_id: string }>()
    .then((r) => r.results);
}

export function getCloudImport(db: TenantDb, id: string): Promise<CloudImportRow | null> {
  return db.first<CloudImportRow>(`SELECT ${IMPORT_COLUMNS} FROM cloud_imports WHERE tenant_id = ?1 AND id = ?2`, id);
}

/** Newest first; `before` is the created_at/id of the last row of the previous page. */
export function listCloudImports(
  db: TenantDb,
  page: { before: { at: number; id: string } | null; limit: number },
): Promise<CloudImportRow[]> {
  const before = page.before ?? { at: Number.MAX_SAFE_INTEGER, id: "" };
  return db.all<CloudImportRow>(
    `SELECT ${IMPORT_COLUMNS} FROM cloud_imports
     WHERE tenant_id = ?1 AND (created_at < ?2 OR (created_at = ?2 AND id < ?3))
     ORDER BY created_at DESC, id DESC LIMIT ?4`,
    before.at,
    before.id,
    page.limit,
  );
}

/** queued → running; false when the import is not queued (already taken, or finished). */
export async function startCloudImport(
  db: TenantDb,
  id: string,
  at: number,
  detected: { format: string; schema: string },
): Promise<boolean> {
  const result = await db.run(
    `UPDATE cloud_imports SET status = 'running', started_at = ?3, format = ?4, schema_name = ?5
     WHERE tenant_id = ?1 AND id = ?2 AND status IN ('queued', 'running')`,
    id,
    at,
    detected.format,
    detected.schema,
  );
  return result.meta.changes > 0;
}

export type CloudImportProgress = { rowsRead: number; bytesRead: number; warnings: string; warningCount: number };

export async function recordCloudImportProgress(db: TenantDb, id: string, p: CloudImportProgress): Promise<void> {
  await db.run(
    `UPDATE cloud_imports SET rows_read = ?3, bytes_read = ?4, warnings = ?5, warning_count = ?6
     WHERE tenant_id = ?1 AND id = ?2 AND status = 'running'`,
    id,
    p.rowsRead,
    p.bytesRead,
    p.warnings,
    p.warningCount,
  );
}

export async function failCloudImport(
  db: TenantDb,
  id: string,
  at: number,
  outcome: CloudImportProgress & { error: string },
): Promise<void> {
  await db.run(
    `UPDATE cloud_imports SET status = 'failed', finished_at = ?3, error = ?4, rows_read = ?5, bytes_read = ?6,
       warnings = ?7, warning_count = ?8, rows_stored = 0, upload_id = NULL
     WHERE tenant_id = ?1 AND id = ?2 AND status IN ('queued', 'running')`,
    id,
    at,
    outcome.error,
    outcome.rowsRead,
    outcome.bytesRead,
    outcome.warnings,
    outcome.warningCount,
  );
}

/** One aggregated line as the import writes it (cost and usage as integer text, exact). */
export type CloudLineRow = {
  period_key: string;
  day: number;
  provider: string;
  account: string;
  region: string;
  service: string;
  category: string;
  charge_type: string;
  model: string;
  token_type: string;
  instance_type: string;
  usage_unit: string;
  currency: string;
  cost_nano: string;
  usage_micro: string;
  line_count: number;
};

/** Inserts lines under the import and its part, one statement per call (the rows travel as one
 * JSON parameter, so a batch is not limited by D1's 100 bound parameters). */
export async function insertCloudLines(
  db: TenantDb,
  importId: string,
  part: number,
  rows: readonly CloudLineRow[],
): Promise<void> {
  if (rows.length === 0) return;
  await db.run(
    `INSERT INTO cloud_lines (tenant_id, import_id, part, period_key, day, provider, account, region, service,
       category, charge_type, model, token_type, instance_type, usage_unit, currency, cost_nano, usage_micro, line_count)
     SELECT ?1, ?2, ?4, value ->> '$.period_key', value ->> '$.day', value ->> '$.provider', value ->> '$.account',
       value ->> '$.region', value ->> '$.service', value ->> '$.category', value ->> '$.charge_type',
       value ->> '$.model', value ->> '$.token_type', value ->> '$.instance_type', value ->> '$.usage_unit',
       value ->> '$.currency', CAST(value ->> '$.cost_nano' AS INTEGER), CAST(value ->> '$.usage_micro' AS INTEGER),
       value ->> '$.line_count'
     FROM json_each(?3)`,
    importId,
    JSON.stringify(rows),
    part,
  );
}

/**
 * Deletes up to `limit` lines the import wrote in part `fromPart` or later (a retried part starts
 * clean; from part 0, a failed or restarted import); the count.
 */
export async function deleteCloudImportLines(
  db: TenantDb,
  importId: string,
  limit: number,
  fromPart = 0,
): Promise<number> {
  const result = await db.run(
    `DELETE FROM cloud_lines WHERE rowid IN
       (SELECT rowid FROM cloud_lines WHERE tenant_id = ?1 AND import_id = ?2 AND part >= ?4 LIMIT ?3)`,
    importId,
    limit,
    fromPart,
  );
  return result.meta.changes;
}

/**
 * The import is done: each of its billing periods now counts its lines (replacing whatever
 * import the period had), and its figures are final — one batch, so a reader never sees a
 * period half replaced. Returns the imports whose lines no longer count.
 */
export async function completeCloudImport(
  db: TenantDb,
  id: string,
  at: number,
  outcome: CloudImportProgress & { periodKeys: readonly string[]; billingPeriods: string; rowsStored: number },
): Promise<string[]> {
  const keys = JSON.stringify(outcome.periodKeys);
  const previous = await db.all<{ import_id: string }>(
    `SELECT DISTINCT import_id FROM cloud_periods
     WHERE tenant_id = ?1 AND period_key IN (SELECT value FROM json_each(?2)) AND import_id != ?3`,
    keys,
    id,
  );
  await db.batch([
    db.prepare(
      `INSERT INTO cloud_periods (tenant_id, period_key, import_id, replaced_at)
       SELECT ?1, value, ?2, ?3 FROM json_each(?4) WHERE true
       ON CONFLICT (tenant_id, period_key) DO UPDATE SET import_id = excluded.import_id, replaced_at = excluded.replaced_at`,
      id,
      at,
      keys,
    ),
    db.prepare(
      `UPDATE cloud_imports SET status = 'done', finished_at = ?3, billing_periods = ?4, rows_read = ?5,
         rows_stored = ?6, bytes_read = ?7, warnings = ?8, warning_count = ?9
       WHERE tenant_id = ?1 AND id = ?2`,
      id,
      at,
      outcome.billingPeriods,
      outcome.rowsRead,
      outcome.rowsStored,
      outcome.bytesRead,
      outcome.warnings,
      outcome.warningCount,
    ),
  ]);
  return previous.map((p) => p.import_id);
}

/** Deletes up to `limit` lines of `importId` for periods that now count another import's lines. */
export async function deleteSupersededLines(db: TenantDb, importId: string, limit: number): Promise<number> {
  const result = await db.run(
    `DELETE FROM cloud_lines WHERE rowid IN
       (SELECT l.rowid FROM cloud_lines l
        WHERE l.tenant_id = ?1 AND l.import_id = ?2
          AND NOT EXISTS (SELECT 1 FROM cloud_periods p
                          WHERE p.tenant_id = ?1 AND p.period_key = l.period_key AND p.import_id = ?2)
        LIMIT ?3)`,
    importId,
    limit,
  );
  return result.meta.changes;
}

export const SPEND_DIMENSIONS = [
  "category",
  "charge_type",
  "service",
  "model",
  "token_type",
  "account",
  "region",
  "instance_type",
  "provider",
] as const;
export type SpendDimension = (typeof SPEND_DIMENSIONS)[number];
export type SpendTime = "day" | "month";

export type SpendQuery = {
  /** [from, to) UTC epoch ms, on day boundaries */
  from: number;
  to: number;
  groupBy: readonly (SpendDimension | SpendTime)[];
  filters: Partial<Record<SpendDimension, readonly string[]>>;
  limit: number;
};

export type SpendRow = Record<string, string | number | null> & {
  cost_nano: string;
  currency: string;
  usage_micro: string | null;
  usage_unit: string | null;
  line_count: number;
};

/** Spend summed by the chosen groupings (always by currency: amounts of two currencies are never
 * added). Usage is summed only where every line of a row has the same unit. */
export function querySpend(db: TenantDb, q: SpendQuery): Promise<SpendRow[]> {
  const select: string[] = [];
  for (const g of q.groupBy) {
    if (g === "day") select.push("l.day AS day");
    else if (g === "month") select.push("strftime('%Y-%m', l.day / 1000, 'unixepoch') AS month");
    else select.push(`l.${g} AS ${g}`);
  }
  const params: unknown[] = [q.from, q.to];
  const where = ["l.tenant_id = ?1", "l.day >= ?2", "l.day < ?3"];
  for (const dim of SPEND_DIMENSIONS) {
    const values = q.filters[dim];
    if (!values) continue;
    params.push(JSON.stringify(values));
    where.push(`l.${dim} IN (SELECT value FROM json_each(?${params.length + 1}))`);
  }
  params.push(q.limit);
  const groups = [...q.groupBy, "currency"];
  return db.all<SpendRow>(
    `SELECT ${[...select, "l.currency AS currency"].join(", ")},
       CAST(SUM(l.cost_nano) AS TEXT) AS cost_nano,
       CASE WHEN COUNT(DISTINCT l.usage_unit) = 1 THEN CAST(SUM(l.usage_micro) AS TEXT) END AS usage_micro,
       CASE WHEN COUNT(DISTINCT l.usage_unit) = 1 THEN MIN(l.usage_unit) END AS usage_unit,
       SUM(l.line_count) AS line_count
     FROM cloud_lines l
     JOIN cloud_periods p ON p.tenant_id = l.tenant_id AND p.period_key = l.period_key AND p.import_id = l.import_id
     WHERE ${where.join(" AND ")}
     GROUP BY ${groups.join(", ")}
     ORDER BY ${[...q.groupBy.filter((g) => g === "day" || g === "month"), "SUM(l.cost_nano) DESC"].join(", ")}
     LIMIT ?${params.length + 1}`,
    ...params,
  );
}
