// Queue limits (shared/queue-limits.ts): a pack measured from its items' sizes, without being
// serialized again, is never smaller than the pack as the queue carries it, so packs made by
// splitPacks stay under a message's limit.
import { describe, expect, it } from "vitest";
import { MESSAGE_MAX_BYTES, messageBytes, packBytesBound, splitPacks } from "../../shared/queue-limits.ts";

const tenantId = "abcdefghijkl";

/** An event-like body of about `size` bytes, with multi-byte characters in it. */
const body = (i: number, size: number) => ({ tenantId, requestId: `req_${i}`, note: "é→".repeat(size / 5) });

describe("packBytesBound", () => {
  it("is at least a pack's serialized size, for packs of one to thousands of items, and splitPacks keeps it under the limit", () => {
    for (const [count, size] of [
      [1, 10],
      [2, 300],
      [50, 2_000],
      [400, 600],
      [3_000, 60],
      [40, 30_000],
    ] as const) {
      const items = Array.from({ length: count }, (_, i) => {
        const b = body(i, size);
        return { body: b, bytes: messageBytes(b) };
      });
      const packs = splitPacks(items).map((group) => ({
        bound: packBytesBound(group.map((g) => g.bytes)),
        bytes: messageBytes({ v: 1, pack: "usage", tenantId, events: group.map((g) => g.body) }),
      }));
      expect(packs.filter((p) => p.bound < p.bytes)).toEqual([]);
      // Every item here fits a message alone, so every pack does.
      expect(packs.filter((p) => p.bound > MESSAGE_MAX_BYTES)).toEqual([]);
    }
  });
});
