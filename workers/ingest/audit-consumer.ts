// Audit queue consumer: stores the ledger's audit events in D1 so they can be listed (a later
// stage archives them to R2 and streams them to webhooks). Idempotent by (tenant, seq): a
// redelivered event is ignored.
import { isAuditEvent, type AuditEvent } from "../../shared/audit.ts";
import { insertAuditEvents, tenantDb } from "../store/index.ts";
import { perTenant } from "./batches.ts";

export function writeAudit(db: D1Database, tenantId: string, events: readonly AuditEvent[]): Promise<void> {
  return insertAuditEvents(tenantDb(db, tenantId), events);
}

export function consumeAudit(batch: MessageBatch, env: Env): Promise<void> {
  return perTenant(batch, env, "audit", isAuditEvent, (e, tenantId, events) => writeAudit(e.DB, tenantId, events));
}
