// A poison message in a tenant's group (it passes the shape check but cannot be written) is the
// only one retried, and so the only one dead-lettered after max_retries: the tenant's other
// messages in the same batch are stored and acked. Through the Worker's real queue() handler.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../shared/audit.ts";
import { newId } from "../../shared/ids.ts";
import { packIdOf, type UsageEvent } from "../../shared/usage.ts";
import worker from "../../workers/index.ts";
import { eventsOf } from "../helpers.ts";
import { usageEvent } from "../web/usage-support.ts";

async function deliver(queue: string, bodies: unknown[], bindings: Partial<Env> = {}) {
  const batch = createMessageBatch(
    queue,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch, { ...env, ...bindings });
  const result = await getQueueResult(batch, ctx);
  return { acked: [...result.explicitAcks].sort(), retried: result.retryMessages.map((m) => m.msgId).sort() };
}

function audit(tenantId: string, seq: number): AuditEvent {
  return {
    v: 1,
    tenantId,
    seq,
    at: Date.now(),
    type: "key.created",
    actor: { kind: "system" },
    requestId: null,
    subject: null,
    data: { name: `k${seq}` },
  };
}

/** A well-formed usage event of the tenant's, from the usage tests' shared builder. */
function usage(tenantId: string): UsageEvent {
  return usageEvent(tenantId, Date.now());
}

/** A queue stand-in that keeps what the consumer sends back to it. */
function sendingBack(): { queue: Queue; sentBack: unknown[] } {
  const sentBack: unknown[] = [];
  const queue = {
    send: async (body: unknown) => {
      sentBack.push(body);
    },
  } as unknown as Queue;
  return { queue, sentBack };
}

describe("ingest: one poison message in a tenant's group", () => {
  // Each passes the consumer's shape check and fails at the write.
  const auditPoisons: [string, (tenantId: string) => unknown][] = [
    ["an actor id that is not text", (t) => ({ ...audit(t, 2), actor: { kind: "user", id: { nested: true } } })],
    ["a subject that is not text", (t) => ({ ...audit(t, 2), subject: ["a", "list"] })],
    ["data that JSON cannot hold", (t) => ({ ...audit(t, 2), data: { big: 10n } })],
  ];

  it.each(auditPoisons)("audit (%s): only it is retried; the others are stored", async (_, poison) => {
    const tenantId = newId();
    const other = newId();
    const { acked, retried } = await deliver("outlay-audit", [
      audit(tenantId, 1),
      poison(tenantId),
      audit(tenantId, 3),
      audit(other, 1),
    ]);
    expect(retried).toEqual(["m1"]);
    expect(acked).toEqual(["m0", "m2", "m3"]);
    const rows = await env.DB.prepare("SELECT seq FROM audit_events WHERE tenant_id = ? ORDER BY seq")
      .bind(tenantId)
      .all<{ seq: number }>();
    expect(rows.results.map((r) => r.seq)).toEqual([1, 3]);
  });

  // These can never be written: logged and acked, never retried, never stored.
  const malformed: [string, (tenantId: string) => unknown][] = [
    ["a type the catalogue does not have", (t) => ({ ...audit(t, 2), type: "key.vanished" })],
    ["no actor", (t) => ({ ...audit(t, 2), actor: undefined })],
    ["no time", (t) => ({ ...audit(t, 2), at: undefined })],
    ["a seq that is not a whole number", (t) => ({ ...audit(t, 2), seq: 2.5 })],
    ["version 2", (t) => ({ ...audit(t, 2), v: 2 })],
  ];

  it.each(malformed)("audit (%s): dropped, the others stored", async (_, bad) => {
    const tenantId = newId();
    const { acked, retried } = await deliver("outlay-audit", [audit(tenantId, 1), bad(tenantId), audit(tenantId, 3)]);
    expect([acked, retried]).toEqual([["m0", "m1", "m2"], []]);
    const rows = await env.DB.prepare("SELECT seq FROM audit_events WHERE tenant_id = ? ORDER BY seq")
      .bind(tenantId)
      .all<{ seq: number }>();
    expect(rows.results.map((r) => r.seq)).toEqual([1, 3]);
  });

  const usagePoisons: [string, (tenantId: string) => unknown][] = [
    ["token counts missing", (t) => ({ ...usage(t), usage: {} })],
    ["a cost that is not a number", (t) => ({ ...usage(t), costNanoUsd: "lots" })],
    ["no dimensions", (t) => ({ ...usage(t), dimensions: undefined, startedAt: undefined })],
  ];

  it.each(usagePoisons)("usage (%s): only it is retried; the others are stored", async (_, poison) => {
    const tenantId = newId();
    const good = [usage(tenantId), usage(tenantId)];
    const { acked, retried } = await deliver("outlay-usage", [good[0], poison(tenantId), good[1]]);
    expect(retried).toEqual(["m1"]);
    expect(acked).toEqual(["m0", "m2"]);
    const rows = await eventsOf(tenantId);
    expect(rows.map((r) => r.request_id).sort()).toEqual(good.map((e) => e.requestId).sort());
  });

  it.each(auditPoisons)(
    "audit, packed (%s): the pack is acked, its others stored, the poison sent back alone",
    async (_, poison) => {
      const tenantId = newId();
      const { queue, sentBack } = sendingBack();
      const pack = {
        v: 1,
        pack: "audit",
        tenantId,
        events: [audit(tenantId, 1), poison(tenantId), audit(tenantId, 3)],
      };
      const { acked, retried } = await deliver("outlay-audit", [pack, audit(tenantId, 4)], { AUDIT_QUEUE: queue });
      expect([acked, retried]).toEqual([["m0", "m1"], []]);
      expect(sentBack).toEqual([pack.events[1]]);
      const rows = await env.DB.prepare("SELECT seq FROM audit_events WHERE tenant_id = ? ORDER BY seq")
        .bind(tenantId)
        .all<{ seq: number }>();
      expect(rows.results.map((r) => r.seq)).toEqual([1, 3, 4]);
    },
  );

  it("audit, packed: a pack that cannot be sent back is retried whole (its stored events are not doubled)", async () => {
    const tenantId = newId();
    const queue = { send: () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue;
    const pack = {
      v: 1,
      pack: "audit",
      tenantId,
      events: [audit(tenantId, 1), { ...audit(tenantId, 2), subject: ["a", "list"] }, audit(tenantId, 3)],
    };
    const { acked, retried } = await deliver("outlay-audit", [pack], { AUDIT_QUEUE: queue });
    expect([acked, retried]).toEqual([[], ["m0"]]);
    const rows = await env.DB.prepare("SELECT seq FROM audit_events WHERE tenant_id = ? ORDER BY seq")
      .bind(tenantId)
      .all<{ seq: number }>();
    expect(rows.results.map((r) => r.seq)).toEqual([1, 3]);
  });

  it.each(usagePoisons)(
    "usage, packed (%s): the pack is acked, its others stored, the poison sent back alone",
    async (_, poison) => {
      const tenantId = newId();
      const { queue, sentBack } = sendingBack();
      const good = [usage(tenantId), usage(tenantId), usage(tenantId)];
      const pack = { v: 1, pack: "usage", tenantId, events: [good[0], poison(tenantId), good[1]] };
      const { acked, retried } = await deliver("outlay-usage", [pack, good[2]], { USAGE_QUEUE: queue });
      expect([acked, retried]).toEqual([["m0", "m1"], []]);
      // Sent back as the event at index 1 of its pack, so that the pack is never stored twice.
      expect(sentBack).toEqual([
        { v: 1, pack: "usage", tenantId, events: [pack.events[1]], id: packIdOf(pack.events as UsageEvent[]), part: 1 },
      ]);
      const rows = await eventsOf(tenantId);
      expect(rows.map((r) => r.request_id).sort()).toEqual(good.map((e) => e.requestId).sort());
    },
  );

  it("usage, packed: a pack that cannot be sent back is retried whole, and its redelivery doubles nothing", async () => {
    const tenantId = newId();
    const queue = { send: () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue;
    const good = [usage(tenantId), usage(tenantId)];
    const pack = { v: 1, pack: "usage", tenantId, events: [good[0], { ...usage(tenantId), usage: {} }, good[1]] };
    for (let delivery = 0; delivery < 2; delivery += 1) {
      const { acked, retried } = await deliver("outlay-usage", [pack], { USAGE_QUEUE: queue });
      expect([acked, retried]).toEqual([[], ["m0"]]);
    }
    const rows = await eventsOf(tenantId);
    expect(rows.map((r) => r.request_id).sort()).toEqual(good.map((e) => e.requestId).sort());
    const rolled = await env.DB.prepare(
      "SELECT SUM(requests) AS n FROM usage_rollups_hourly WHERE tenant_id = ?1 AND dim_name = ''",
    )
      .bind(tenantId)
      .first<{ n: number }>();
    expect(rolled?.n).toBe(2);
  });

  it("usage, packed: a pack of another shape (another organisation's event, an empty pack, an audit pack) is dropped", async () => {
    const tenantId = newId();
    const { acked, retried } = await deliver("outlay-usage", [
      { v: 1, pack: "usage", tenantId, events: [usage(tenantId), usage(newId())] },
      { v: 1, pack: "usage", tenantId, events: [] },
      { v: 1, pack: "audit", tenantId, events: [usage(tenantId)] },
      { v: 1, pack: "usage", tenantId, events: [audit(tenantId, 1)] },
      { v: 2, pack: "usage", tenantId, events: [usage(tenantId)] },
    ]);
    expect([acked, retried]).toEqual([["m0", "m1", "m2", "m3", "m4"], []]);
    expect(await eventsOf(tenantId)).toEqual([]);
  });

  it("audit, packed: a pack of another shape (an event of another organisation, an empty pack) is dropped", async () => {
    const tenantId = newId();
    const { acked, retried } = await deliver("outlay-audit", [
      { v: 1, pack: "audit", tenantId, events: [audit(tenantId, 1), audit(newId(), 2)] },
      { v: 1, pack: "audit", tenantId, events: [] },
      { v: 1, pack: "usage", tenantId, events: [audit(tenantId, 1)] },
    ]);
    expect([acked, retried]).toEqual([["m0", "m1", "m2"], []]);
    const rows = await env.DB.prepare("SELECT seq FROM audit_events WHERE tenant_id = ?").bind(tenantId).all();
    expect(rows.results).toEqual([]);
  });
});
