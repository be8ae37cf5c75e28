// Audit queue consumer: stores the ledger's audit events in D1 so they can be listed (a later
// stage archives them to R2 and streams them to webhooks). Idempotent by (tenant, seq): a
// redelivered event is ignored.
import { isAuditEvent, type AuditEvent } from "../../shared/audit.ts";
import { tenantDb } from "../store/index.ts";
import { perTenant } from "./batches.ts";

export async function writeAudit(db: D1Database, tenantId: string, events: readonly AuditEvent[]): Promise<void> {
  const tdb = tenantDb(db, tenantId);
  await tdb.batch(
    events.map((e) =>
      tdb.prepare(
        `INSERT INTO audit_events (tenant_id, seq, at, type, actor_kind, actor_id, request_id, subject, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (tenant_id, seq) DO NOTHING`,
        e.seq,
        e.at,
        e.type,
        e.actor.kind,
        e.actor.kind === "system" ? null : e.actor.id,
        e.requestId,
        e.subject,
        JSON.stringify(e.data),
      ),
    ),
  );
}

export function consumeAudit(batch: MessageBatch, env: Env): Promise<void> {
  return perTenant(batch, env, "audit", isAuditEvent, (e, tenantId, events) => writeAudit(e.DB, tenantId, events));
}
