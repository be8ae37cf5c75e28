// Cloudflare Queues limits (developers.cloudflare.com/queues/platform/limits): a message is at
// most 128 KB (1 KB = 1,000 bytes), of which up to ~100 bytes are the platform's own metadata;
// one sendBatch carries at most 100 messages and 256 KB in all. Every producer measures the
// serialized JSON of a body and splits its batches under these bounds, with a margin.

/** Largest JSON body (UTF-8 bytes) sent as one message: 128,000 less metadata and a margin. */
export const MESSAGE_MAX_BYTES = 126_000;
/** Counted per message on top of its body when filling a batch. */
const MESSAGE_OVERHEAD_BYTES = 200;
/** A batch's bodies and overheads together stay under this (the limit is 256,000). */
export const BATCH_MAX_BYTES = 250_000;
export const BATCH_MAX_MESSAGES = 100;

const encoder = new TextEncoder();

/** The UTF-8 size of a body as the queue carries it (contentType "json"). */
export function messageBytes(body: unknown): number {
  return encoder.encode(JSON.stringify(body)).byteLength;
}

/**
 * Splits items in order into groups: each group's `start` plus every item's bytes and `perItem`
 * stays under `maxBytes`, with at most `maxItems` items (an item alone always makes a group).
 */
function group<T extends { bytes: number }>(
  items: readonly T[],
  limits: { start: number; perItem: number; maxBytes: number; maxItems: number },
): T[][] {
  const groups: T[][] = [];
  let current: T[] = [];
  let size = limits.start;
  for (const item of items) {
    const cost = item.bytes + limits.perItem;
    if (current.length > 0 && (current.length >= limits.maxItems || size + cost > limits.maxBytes)) {
      groups.push(current);
      current = [];
      size = limits.start;
    }
    current.push(item);
    size += cost;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

/** Splits items (each at most MESSAGE_MAX_BYTES) into batches under both batch limits, in order. */
export function splitBatches<T extends { bytes: number }>(items: readonly T[]): T[][] {
  return group(items, {
    start: 0,
    perItem: MESSAGE_OVERHEAD_BYTES,
    maxBytes: BATCH_MAX_BYTES,
    maxItems: BATCH_MAX_MESSAGES,
  });
}

/**
 * The items a queue message carries: the body itself when `isItem` takes it, or the events of a
 * pack of `kind` (`{v: 1, pack: kind, tenantId, events}`, at least one, all of that
 * organisation's and each taken by `isItem`); null for anything else.
 */
export function itemsOfMessage<T extends { tenantId: string }>(
  body: unknown,
  kind: string,
  isItem: (value: unknown) => value is T,
): T[] | null {
  if (isItem(body)) return [body];
  if (typeof body !== "object" || body === null) return null;
  const p = body as { v?: unknown; pack?: unknown; tenantId?: unknown; events?: unknown };
  if (p.v !== 1 || p.pack !== kind || typeof p.tenantId !== "string" || !Array.isArray(p.events)) return null;
  const events: unknown[] = p.events;
  if (events.length === 0 || !events.every((e) => isItem(e) && e.tenantId === p.tenantId)) return null;
  return events as T[];
}

/** Counted for a pack's own envelope (its type, tenant and brackets) on top of its events. */
const PACK_OVERHEAD_BYTES = 512;
/** A pack's bodies, a comma between two, inside its envelope: under a message's limit. */
const PACK_LIMITS = {
  start: PACK_OVERHEAD_BYTES,
  perItem: 1,
  maxBytes: MESSAGE_MAX_BYTES,
  maxItems: Number.POSITIVE_INFINITY,
};

/**
 * Splits items (each at most MESSAGE_MAX_BYTES) into packs, each sent as one message of all its
 * items' bodies (a comma between them): under MESSAGE_MAX_BYTES together, in order.
 */
export function splitPacks<T extends { bytes: number }>(items: readonly T[]): T[][] {
  return group(items, PACK_LIMITS);
}

/**
 * A bound of a pack's size, from its items' sizes (its envelope counted as PACK_OVERHEAD_BYTES),
 * so that a pack is measured without serializing it again.
 */
export function packBytesBound(itemBytes: readonly number[]): number {
  return itemBytes.reduce((sum, bytes) => sum + bytes + PACK_LIMITS.perItem, PACK_LIMITS.start);
}
