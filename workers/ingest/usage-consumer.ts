// Usage queue consumer (a message is a pack of one organisation's events, or one event: the
// gateway packs them, usage-delivery.ts): settles the events not stored yet with the tenant's
// ledger (reconciliation), then stores them as packs (usage_packs) with the hourly and daily (UTC)
// rollups and each key's last use, in one D1 batch (one transaction) per tenant (the store's
// writeUsageRows). Idempotent by pack: a pack, or the part of it, already stored is not written
// again, and rollups take only the rows this write inserted, so a redelivered message changes
// nothing.
import { missingRows, tenantDb, writeUsageEvents, writeUsageRows } from "../store/index.ts";
import {
  type PackedUsage,
  packedUsageOf,
  type UsageEvent,
  UsageEventSchema,
  type UsagePack,
} from "../../shared/usage.ts";
import { perTenant } from "./batches.ts";

/** Stores events as one new pack with their rollups (tests and tools). */
export function writeUsage(db: D1Database, tenantId: string, events: UsageEvent[]): Promise<void> {
  return writeUsageEvents(tenantDb(db, tenantId), events);
}

/**
 * Settles the events not stored yet (the gateway settles each call as it ends; if that was lost,
 * this books the call and releases or reconciles its hold), then stores them. Events already
 * stored were settled when first stored; the ledger ignores a settle it has had.
 */
async function settleAndWrite(env: Env, tenantId: string, items: PackedUsage[]): Promise<void> {
  const db = tenantDb(env.DB, tenantId);
  // An event with a field of the wrong type throws here: the poison path of batches.ts.
  const checked = items.map((item) => ({ ...item, event: UsageEventSchema.parse(item.event) }));
  const rows = await missingRows(db, checked);
  const fresh = rows.flatMap((r) => r.events);
  if (fresh.length > 0) await env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenantId)).settle({ events: fresh });
  await writeUsageRows(db, rows);
}

/** An event of a pack that could not be written, back to the queue alone, as that part of its pack. */
async function sendBackAlone(env: Env, item: PackedUsage): Promise<void> {
  const alone: UsagePack = {
    v: 1,
    pack: "usage",
    tenantId: item.tenantId,
    events: [item.event],
    id: item.packId,
    part: item.index,
  };
  await env.USAGE_QUEUE.send(alone, { contentType: "json" });
}

export function consumeUsage(batch: MessageBatch, env: Env): Promise<void> {
  return perTenant(batch, env, "usage", packedUsageOf, settleAndWrite, sendBackAlone);
}
