// Audit queue consumer: stores the ledger's audit events in D1 so they can be listed, and hands
// them to the tenant's archiver, which seals them into the signed R2 archive in seq order, and to
// the webhook fan-out (one message per subscribed endpoint, queued for delivery). A message is one
// event or a pack of one organisation's (the ledger's outbox packs them). All three are
// idempotent by (tenant, seq): a redelivered event is ignored. A message is acked only once all
// took it, so a failure of any retries it (workers/ingest/batches.ts).
import { auditEventsOf, type AuditEvent } from "../../shared/audit.ts";
import { archiverFor } from "../archive/index.ts";
import { fanOut } from "../webhooks/index.ts";
import { insertAuditEvents, tenantDb } from "../store/index.ts";
import { perTenant } from "./batches.ts";

export async function writeAudit(env: Env, tenantId: string, events: AuditEvent[]): Promise<void> {
  await insertAuditEvents(tenantDb(env.DB, tenantId), events);
  const outcome = await archiverFor(env, tenantId).append({ tenantId, events });
  // Cannot happen (perTenant groups by tenant, isAuditEvent checked each): retried, then dead-lettered.
  if ("refused" in outcome) throw new Error(`archive refused the events: ${outcome.refused}`);
  await fanOut(env, tenantId, events);
}

/** An event of a packed message that could not be written, back to the queue as a message of its own. */
async function sendBackAlone(env: Env, event: AuditEvent): Promise<void> {
  await env.AUDIT_QUEUE.send(event, { contentType: "json" });
}

export function consumeAudit(batch: MessageBatch, env: Env): Promise<void> {
  return perTenant(batch, env, "audit", auditEventsOf, writeAudit, sendBackAlone);
}
