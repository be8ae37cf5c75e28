// The pages of the streamed exports (GET /api/v1/audit/export, /api/v1/events/export, the
// dashboard's /activity/export): keyset pages in a stable order, so that an export of any size is
// one pass over an index and never one result held whole. Audit events by `seq` (the primary key,
// or audit_events_by_type for one type). Usage events are read by usageEventsPage (usage-events.ts)
// in `(started_at, request_id)` order.
import { BY_TYPE, CALL_ADMITTED, WITHOUT_CALLS, type AuditRow } from "./audit.ts";
import type { TenantDb } from "./tenant-db.ts";

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
