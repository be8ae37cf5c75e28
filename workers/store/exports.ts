// The pages of the streamed exports (GET /api/v1/audit/export, /api/v1/events/export, the
// dashboard's /activity/export): keyset pages in a stable order, so that an export of any size is
// one pass over an index and never one result held whole. Audit events by `seq` (the primary key,
// or audit_events_by_type for one type); usage events by `(started_at, request_id)`
// (usage_events_by_time, scanned upwards).
import { BY_TYPE, CALL_ADMITTED, WITHOUT_CALLS, type AuditRow } from "./audit.ts";
import type { TenantDb } from "./tenant-db.ts";
import type { UsageEventRow } from "./usage-events.ts";

/** [from, to) in UTC epoch ms; the whole time line where the caller gave no bound. */
export type ExportRange = { from: number; to: number };

const AUDIT_COLUMNS = "seq, at, type, actor_kind, actor_id, request_id, subject, data";

/** The tenant's audit events after `after` (oldest first) with `at` in the range, of the given
 * types (null: all), at most `limit`. */
export function auditExportPage(
  db: TenantDb,
  page: { after: number; range: ExportRange; types: readonly string[] | null; limit: number },
): Promise<AuditRow[]> {
  const { after, range, types, limit } = page;
  const where = "tenant_id = ?1 AND seq > ?2 AND at >= ?3 AND at < ?4";
  // One type reads audit_events_by_type (tenant_id, type, seq); several, or call.admitted (which
  // that index leaves out: it is most of a trail), walk the primary key in seq order and skip the
  // other types, so no page sorts more than it answers.
  if (types === null) {
    return db.all<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where} ORDER BY seq LIMIT ?5`,
      after,
      range.from,
      range.to,
      limit,
    );
  }
  if (types.length === 1 && types[0] !== CALL_ADMITTED) {
    return db.all<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_events ${BY_TYPE} WHERE ${where} AND type = ?6 AND ${WITHOUT_CALLS}
       ORDER BY seq LIMIT ?5`,
      after,
      range.from,
      range.to,
      limit,
      types[0],
    );
  }
  return db.all<AuditRow>(
    `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where} AND type IN (SELECT value FROM json_each(?6))
     ORDER BY seq LIMIT ?5`,
    after,
    range.from,
    range.to,
    limit,
    JSON.stringify(types),
  );
}

/** A usage_events row as exported: every column, the cost as decimal text (read exactly whatever
 * its size), price and dimensions as stored JSON. */
export type UsageExportRow = Omit<UsageEventRow, "cost"> & { cost_nano_usd: string | null };

/** Where a usage export page starts: after this (started_at, request_id). */
export type UsageCursor = { at: number; id: string };

/** The tenant's usage events after `cursor` and before `to` in (started_at, request_id) order,
 * at most `limit`. The first page's cursor is `{ at: from, id: "" }` (every request id sorts
 * after ""). */
export function usageExportPage(
  db: TenantDb,
  page: { cursor: UsageCursor; to: number; limit: number },
): Promise<UsageExportRow[]> {
  return db.all<UsageExportRow>(
    `SELECT request_id, key_id, provider, model, endpoint, stream, status, outcome, input_tokens,
       cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, usage_source,
       CAST(cost_nano_usd AS TEXT) AS cost_nano_usd, unpriced, price, started_at, first_byte_ms, total_ms, dimensions
     FROM usage_events WHERE tenant_id = ?1 AND (started_at, request_id) > (?2, ?3) AND started_at < ?4
     ORDER BY started_at, request_id LIMIT ?5`,
    page.cursor.at,
    page.cursor.id,
    page.to,
    page.limit,
  );
}
