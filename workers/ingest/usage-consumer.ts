// Usage queue consumer (a message is one event, or a pack of one organisation's: the gateway
// packs them, usage-delivery.ts): settles events with the tenant's ledger (reconciliation), then writes raw
// events, hourly and daily (UTC) rollups and each key's last use to D1 in one batch (one transaction) per tenant
// (the store's writeUsageEvents). Idempotent by request
// id: an event already stored is ignored, and rollups take only the rows the batch inserted, so
// a redelivered batch changes nothing.
import { storedRequestIds, tenantDb, writeUsageEvents } from "../store/index.ts";
import { type UsageEvent, usageEventsOf } from "../../shared/usage.ts";
import { perTenant } from "./batches.ts";

/** Stores the events and rolls them up, in one batch (one transaction) for the tenant. */
export function writeUsage(db: D1Database, tenantId: string, events: UsageEvent[]): Promise<void> {
  return writeUsageEvents(tenantDb(db, tenantId), events);
}

/**
 * Settles the events the ledger may not have seen (the gateway settles each call as it ends; if
 * that was lost, this books the call and releases or reconciles its hold), then stores them.
 * Events already in D1 were settled when first stored; the ledger ignores a settle it has had.
 */
async function settleAndWrite(env: Env, tenantId: string, events: UsageEvent[]): Promise<void> {
  const known = await storedRequestIds(
    tenantDb(env.DB, tenantId),
    events.map((e) => e.requestId),
  );
  const fresh = events.filter((e) => !known.has(e.requestId));
  if (fresh.length > 0) await env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenantId)).settle({ events: fresh });
  await writeUsage(env.DB, tenantId, events);
}

/** An event of a packed message that could not be written, back to the queue as a message of its own. */
async function sendBackAlone(env: Env, event: UsageEvent): Promise<void> {
  await env.USAGE_QUEUE.send(event, { contentType: "json" });
}

export function consumeUsage(batch: MessageBatch, env: Env): Promise<void> {
  return perTenant(batch, env, "usage", usageEventsOf, settleAndWrite, sendBackAlone);
}
