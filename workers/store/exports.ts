// The pages of the streamed exports (GET /api/v1/audit/export, /api/v1/events/export, the
// dashboard's /activity/export): keyset pages in a stable order, so that an export of any size is
// one pass over an index and never one result held whole. Audit events by `seq` (the primary key,
// or audit_events_by_type for one type). Usage events are read by usageEventsPage (usage-events.ts)
// in `(started_at, request_id)` order.
import { BY_TYPE, WITHOUT_CALLS, type AuditRow } from "./audit.ts";
import { CALL_ADMITTED, callRowsPage, mergeBySeq } from "./audit-calls.ts";
import type { TenantDb } from "./tenant-db.ts";

/** [from, to) in UTC epoch ms; the whole time line where the caller gave no bound. */
export type ExportRange = { from: number; to: number };

const AUDIT_COLUMNS = "seq, at, type, actor_kind, actor_id, request_id, subject, data";

/** The tenant's audit events after `after` (oldest first) with `at` in the range, of the given
 * types (null: all), at most `limit`: call.admitted from its runs (audit-calls.ts), the others
 * from audit_events, merged by seq. */
export async function auditExportPage(
  db: TenantDb,
  page: { after: number; range: ExportRange; types: readonly string[] | null; limit: number },
): Promise<AuditRow[]> {
  const { after, range, types, limit } = page;
  const withCalls = types === null || types.includes(CALL_ADMITTED);
  const others = types?.filter((t) => t !== CALL_ADMITTED) ?? null;
  const [rows, calls] = await Promise.all([
    others?.length === 0 ? [] : otherEvents(db, after, range, others, limit),
    withCalls ? callRowsPage(db, { order: "asc", after, from: range.from, to: range.to, limit }) : [],
  ]);
  return mergeBySeq(rows, calls, "asc", limit);
}

/** audit_events' page (every type but call.admitted, which it does not hold). */
function otherEvents(
  db: TenantDb,
  after: number,
  range: ExportRange,
  types: readonly string[] | null,
  limit: number,
): Promise<AuditRow[]> {
  const where = "tenant_id = ?1 AND seq > ?2 AND at >= ?3 AND at < ?4";
  // One type reads audit_events_by_type (tenant_id, type, seq); all, or several, walk the primary
  // key in seq order and skip the other types, so no page sorts more than it answers.
  if (types === null) {
    return db.all<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE ${where} ORDER BY seq LIMIT ?5`,
      after,
      range.from,
      range.to,
      limit,
    );
  }
  if (types.length === 1) {
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
