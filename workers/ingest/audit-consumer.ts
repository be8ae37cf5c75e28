// Audit queue consumer: stores the ledger's audit events in D1 so they can be listed, and hands
// them to the tenant's archiver, which seals them into the signed R2 archive in seq order, and to
// the webhook fan-out (one message per subscribed endpoint, queued for delivery). All three are
// idempotent by (tenant, seq): a redelivered event is ignored. A message is acked only once all
// took it, so a failure of any retries it (workers/ingest/batches.ts).
import { isAuditEvent, type AuditEvent } from "../../shared/audit.ts";
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

export function consumeAudit(batch: MessageBatch, env: Env): Promise<void> {
  return perTenant(batch, env, "audit", isAuditEvent, writeAudit);
}
