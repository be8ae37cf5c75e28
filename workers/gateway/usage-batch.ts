// Strict mode's accounting leaves the isolate in batches, not one call at a time: a finished
// call's usage event (and, when its admission held money or tokens, its settlement) waits up to
// USAGE_BATCH_MS beside the organisation's other calls that end meanwhile, then they leave
// together: the events as packed queue messages (usage-delivery.ts) and the settlements as one
// TenantLedger.settle. Every call's waitUntil holds the batch's delivery, so the isolate stays
// until its events are sent, exactly as when each call sent its own; the consumer and the ledger
// take each request id once, so a batch delivered twice changes nothing.
//
// The batch is sent from the context of the call that opened it (its timer), with bindings of
// that context: nothing made for one request is used by another. A batch is per organisation
// and per bindings object, so calls that run with other bindings (tests) never share one.
import type { UsageEvent } from "../../shared/usage.ts";

/** How long a batch gathers finished calls: settlement and usage are this much later at most. */
export const USAGE_BATCH_MS = 20;
/** A batch holding this many calls takes no more; the next call opens another. */
export const USAGE_BATCH_MAX = 200;

/** Sends one batch: all its events, and settles the ones that held. */
export type BatchSend = (events: UsageEvent[], settle: UsageEvent[]) => Promise<void>;

type Batch = { events: UsageEvent[]; settle: UsageEvent[]; sent: Promise<void> };

const open = new WeakMap<object, Map<string, Batch>>();

function openBatch(batches: Map<string, Batch>, tenantId: string, send: BatchSend): Batch {
  const batch: Batch = { events: [], settle: [], sent: Promise.resolve() };
  batch.sent = new Promise<void>((resolve) => setTimeout(resolve, USAGE_BATCH_MS)).then(() => {
    if (batches.get(tenantId) === batch) batches.delete(tenantId);
    return send(batch.events, batch.settle);
  });
  batches.set(tenantId, batch);
  return batch;
}

/**
 * Adds a finished call to its organisation's open batch (opening one, sent by `send`, when there
 * is none or it is full); returns the batch's delivery, for the call's waitUntil.
 */
export function batchCall(
  bindings: object,
  tenantId: string,
  event: UsageEvent,
  held: boolean,
  send: BatchSend,
): Promise<void> {
  let batches = open.get(bindings);
  if (!batches) {
    batches = new Map();
    open.set(bindings, batches);
  }
  const current = batches.get(tenantId);
  const batch = current && current.events.length < USAGE_BATCH_MAX ? current : openBatch(batches, tenantId, send);
  batch.events.push(event);
  if (held) batch.settle.push(event);
  return batch.sent;
}
