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

/** Splits items (each at most MESSAGE_MAX_BYTES) into batches under both batch limits, in order. */
export function splitBatches<T extends { bytes: number }>(items: readonly T[]): T[][] {
  const batches: T[][] = [];
  let current: T[] = [];
  let size = 0;
  for (const item of items) {
    const cost = item.bytes + MESSAGE_OVERHEAD_BYTES;
    if (current.length > 0 && (current.length >= BATCH_MAX_MESSAGES || size + cost > BATCH_MAX_BYTES)) {
      batches.push(current);
      current = [];
      size = 0;
    }
    current.push(item);
    size += cost;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** Counted for a pack's own envelope (its type, tenant and brackets) on top of its events. */
const PACK_OVERHEAD_BYTES = 512;

/**
 * Splits items (each at most MESSAGE_MAX_BYTES) into packs, each sent as one message of all its
 * items' bodies: under MESSAGE_MAX_BYTES together, in order.
 */
export function splitPacks<T extends { bytes: number }>(items: readonly T[]): T[][] {
  const packs: T[][] = [];
  let current: T[] = [];
  let size = PACK_OVERHEAD_BYTES;
  for (const item of items) {
    const cost = item.bytes + 1;
    if (current.length > 0 && size + cost > MESSAGE_MAX_BYTES) {
      packs.push(current);
      current = [];
      size = PACK_OVERHEAD_BYTES;
    }
    current.push(item);
    size += cost;
  }
  if (current.length > 0) packs.push(current);
  return packs;
}
