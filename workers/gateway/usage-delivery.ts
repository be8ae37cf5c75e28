// How a usage event leaves the gateway, never dropped silently:
//
//   events ─ each made sendable (one too large for a queue message is shrunk and flagged)
//          ─ packed: one queue message carries as many of the organisation's events as fit
//            (a UsagePack; one event alone goes as itself). The consumer stores a pack once, by
//            an id made from its request ids (packIdOf), so a pack is never re-packed on its way
//          ─ sendBatch in batches under the Queues limits, one retry
//              └─ refused twice ── the messages, as packed, handed to the tenant's ledger
//                 (TenantLedger.forwardUsage): it settles their events and keeps the messages in
//                 its outbox, which sends them on, alarm-retried
//                    └─ the ledger cannot take them either ── retried twice more, then an
//                       alert naming the request ids (the one place left where an event is lost:
//                       the queue and the ledger both down for the whole of waitUntil)
import type { AppError } from "../../shared/errors.ts";
import {
  MESSAGE_MAX_BYTES,
  messageBytes,
  packBytesBound,
  splitBatches,
  splitPacks,
} from "../../shared/queue-limits.ts";
import { type UsageEvent, usageEventsOf, type UsageMessage, type UsagePack } from "../../shared/usage.ts";

/** Takes messages the queue would not (the tenant's ledger): null when taken, else why not. */
export type UsageHandOff = (messages: UsageMessage[]) => Promise<AppError | null>;

/** Bounds a shrunk event's fields are cut to (docs/budgets.md, "Delivery"). */
export const SHRUNK = { model: 256, name: 64, dimensionName: 32, dimensionValue: 128, dimensions: 32 } as const;
/** The dimension that flags a shrunk event. */
export const TRUNCATED_DIMENSION = "outlay-truncated";
const MARK = "…";
const HAND_OFF_TRIES = 3;

function cut(value: string, max: number): string {
  return value.length <= max ? value : value.slice(0, max - MARK.length) + MARK;
}

type Sized<T> = { body: T; bytes: number };

/**
 * The event as is when it fits in a queue message; else its free-text fields cut to SHRUNK (a
 * cut value ends in "…") and the dimension `outlay-truncated: true` added. Counts, cost and
 * times are never changed. With its size, measured once.
 */
export function sendable(event: UsageEvent): Sized<UsageEvent> {
  const bytes = messageBytes(event);
  if (bytes <= MESSAGE_MAX_BYTES) return { body: event, bytes };
  const dimensions: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.dimensions).slice(0, SHRUNK.dimensions - 1)) {
    dimensions[cut(name, SHRUNK.dimensionName)] = cut(value, SHRUNK.dimensionValue);
  }
  dimensions[TRUNCATED_DIMENSION] = "true";
  const shrunk: UsageEvent = {
    ...event,
    requestId: cut(event.requestId, SHRUNK.name),
    keyId: cut(event.keyId, SHRUNK.name),
    provider: cut(event.provider, SHRUNK.name),
    model: cut(event.model, SHRUNK.model),
    endpoint: cut(event.endpoint, SHRUNK.name),
    price: event.price ? { ...event.price, ref: cut(event.price.ref, SHRUNK.model) } : null,
    dimensions,
  };
  console.error("usage event too large for the queue; fields cut", shrunk.requestId, bytes);
  return { body: shrunk, bytes: messageBytes(shrunk) };
}

/** One queue message: a pack of the events, or the event itself when it is alone. */
function messageOf(events: readonly Sized<UsageEvent>[]): Sized<UsageMessage> {
  const [only] = events;
  if (only && events.length === 1) return only;
  const tenantId = only?.body.tenantId ?? "";
  const pack: UsagePack = { v: 1, pack: "usage", tenantId, events: events.map((e) => e.body) };
  return { body: pack, bytes: packBytesBound(events.map((e) => e.bytes)) };
}

/**
 * Sends one organisation's usage events to the queue, packed; the messages of a batch the queue
 * refuses go to `handOff` (see the tree above).
 */
export async function sendEvents(
  queue: Queue<UsageMessage>,
  events: readonly UsageEvent[],
  handOff: UsageHandOff,
): Promise<void> {
  const ready = events.map(sendable);
  const messages = splitPacks(ready).map(messageOf);
  for (const batch of splitBatches(messages)) {
    const sent = batch.map((m) => ({ body: m.body, contentType: "json" as const }));
    if ((await tryTwice(() => queue.sendBatch(sent))) === null) continue;
    await handOver(
      handOff,
      batch.map((m) => m.body),
    );
  }
}

/** null when one of two tries worked, else the last error's name. */
async function tryTwice(send: () => Promise<unknown>): Promise<string | null> {
  let failure = "unknown";
  for (let i = 0; i < 2; i += 1) {
    try {
      await send();
      return null;
    } catch (error) {
      failure = error instanceof Error ? error.name : "unknown";
    }
  }
  return failure;
}

async function handOver(handOff: UsageHandOff, messages: UsageMessage[]): Promise<void> {
  for (let i = 0; i < HAND_OFF_TRIES; i += 1) {
    const failure = await handOff(messages);
    if (!failure) return;
    if (i === HAND_OFF_TRIES - 1) {
      console.error(
        "usage events lost: neither the queue nor the ledger took them",
        messages.flatMap((m) => usageEventsOf(m) ?? []).map((e) => e.requestId),
        failure.code,
      );
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200 * 4 ** i));
  }
}
