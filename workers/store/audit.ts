// The audit index in D1 (audit_events): one row per event the tenant's ledger sequenced, written
// by the audit consumer (workers/ingest/audit-consumer.ts), read by the API and /activity.
import type { TenantDb } from "./tenant-db.ts";

export type AuditRow = {
  seq: number;
  at: number;
  type: string;
  actor_kind: string;
  actor_id: string | null;
  request_id: string | null;
  subject: string | null;
  data: string;
};

/** The tenant's events after `seq` (oldest first), of one type or all, at most `limit`. */
export function auditEventsAfter(
  db: TenantDb,
  page: { after: number; type: string | null; limit: number },
): Promise<AuditRow[]> {
  return db.all<AuditRow>(
    `SELECT seq, at, type, actor_kind, actor_id, request_id, subject, data FROM audit_events
     WHERE tenant_id = ?1 AND seq > ?2 AND (?3 IS NULL OR type = ?3) ORDER BY seq LIMIT ?4`,
    page.after,
    page.type,
    page.limit,
  );
}
