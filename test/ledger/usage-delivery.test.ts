// Usage events are never dropped silently (docs/budgets.md, "Delivery"): one too large for a queue
// message is shrunk and flagged, not lost; one the queue refuses is handed to the tenant's ledger,
// which keeps it and sends it on. And one request with a 1 MB model name does not silence the
// tenant's audit trail, end to end through the gateway.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { UsageEvent, UsageMessage } from "../../shared/usage.ts";
import { finishCall, ledgerOf } from "../../workers/gateway/admit.ts";
import type { Admitted } from "../../workers/ledger/index.ts";
import { spyOnUsageQueue } from "../e2e/support.ts";
import { sendEvents, TRUNCATED_DIMENSION } from "../../workers/gateway/usage-delivery.ts";
import { eventsOf, newTenant, waitForEvent, worker, type Tenant } from "../helpers.ts";
import { usageEvent, waitFor } from "./support.ts";

/** The usage queue at its boundary, refusing every message (the platform stand-in). */
const refusingQueue = {
  send: () => Promise.reject(new Error("queue unavailable")),
  sendBatch: () => Promise.reject(new Error("queue unavailable")),
} as unknown as Queue;

/** Accounts for a finished call the way the gateway does, with `bindings` in place of env's. */
async function finish(tenant: Tenant, event: UsageEvent, bindings: Partial<Env> = {}): Promise<void> {
  const ctx = createExecutionContext();
  const e = { ...env, ...bindings };
  finishCall(ctx, e, ledgerOf(e, tenant.tenantId), tenant.tenantId, null, event);
  await waitOnExecutionContext(ctx);
}

describe("usage events the queue refuses", () => {
  it("are handed to the tenant's ledger, which sends them on to D1", async () => {
    const tenant = await newTenant({ providers: false });
    const events = Array.from({ length: 3 }, () => usageEvent(tenant, { startedAt: Date.now(), costNanoUsd: 2_000 }));
    for (const event of events) await finish(tenant, event, { USAGE_QUEUE: refusingQueue });
    for (const event of events) {
      const row = await waitForEvent(tenant.tenantId, event.requestId, 15_000);
      expect(row.cost_nano_usd).toBe(2_000);
    }
  });

  it("a batch the queue took but answered with an error is stored once: the ledger sends on the same packs", async () => {
    const tenant = await newTenant({ providers: false });
    // The platform stand-in for a send whose answer was lost: the messages are queued, the caller sees a failure.
    const tookButFailed = {
      send: async (body: unknown, options?: QueueSendOptions) => {
        await env.USAGE_QUEUE.send(body, options);
        throw new Error("network connection lost");
      },
      sendBatch: async (batch: Iterable<MessageSendRequest>) => {
        await env.USAGE_QUEUE.sendBatch(batch);
        throw new Error("network connection lost");
      },
    } as unknown as Queue;
    const events = Array.from({ length: 40 }, () => usageEvent(tenant, { startedAt: Date.now(), costNanoUsd: 7 }));
    const ledger = ledgerOf(env, tenant.tenantId);
    await sendEvents(tookButFailed as Queue<UsageMessage>, events, async (messages) => {
      await ledger?.forwardUsage({ tenantId: tenant.tenantId, messages });
      return null;
    });
    await waitFor(async () => ((await eventsOf(tenant.tenantId)).length >= 40 ? true : null), "40 events in D1");
    // The queue has had every message twice (two tries) and the ledger's copy once more: give them time to land.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const stored = (await eventsOf(tenant.tenantId)).map((e) => e.request_id).sort();
    expect(stored).toEqual(events.map((e) => e.requestId).sort());
    const totals = await env.DB.prepare(
      "SELECT SUM(requests) AS n, SUM(cost_nano_usd) AS cost FROM usage_rollups_hourly WHERE tenant_id = ? AND dim_name = ''",
    )
      .bind(tenant.tenantId)
      .first<{ n: number; cost: number }>();
    expect(totals).toEqual({ n: 40, cost: 280 });
  });

  it("a batch of them (lease mode's report) takes the same way", async () => {
    const tenant = await newTenant({ providers: false });
    const events = Array.from({ length: 150 }, () => usageEvent(tenant, { startedAt: Date.now(), costNanoUsd: 1 }));
    const ledger = ledgerOf(env, tenant.tenantId);
    await sendEvents(refusingQueue as Queue<UsageMessage>, events, async (messages) => {
      await ledger?.forwardUsage({ tenantId: tenant.tenantId, messages });
      return null;
    });
    const stored = await waitFor(async () => {
      const n = (await eventsOf(tenant.tenantId)).length;
      return n === 150 ? n : null;
    }, "150 events in D1");
    expect(stored).toBe(150);
  });
});

/** A usage queue that records each message as sent (a pack stays a pack) and refuses nothing. */
function recordingQueue(): { queue: Queue; bodies: unknown[] } {
  const bodies: unknown[] = [];
  const queue = {
    send: async (body: unknown) => {
      bodies.push(body);
    },
    sendBatch: async (batch: Iterable<MessageSendRequest>) => {
      for (const m of batch) bodies.push(m.body);
    },
  } as unknown as Queue;
  return { queue, bodies };
}

/** A ledger namespace whose stubs record each settle (the request ids it carried). */
function recordingLedger(): { namespace: Env["TENANT_LEDGER"]; settles: string[][] } {
  const settles: string[][] = [];
  const stub = {
    settle: async (request: { events: UsageEvent[] }) => {
      settles.push(request.events.map((e) => e.requestId));
    },
  };
  const namespace = {
    idFromName: (name: string) => env.TENANT_LEDGER.idFromName(name),
    get: () => stub,
  } as unknown as Env["TENANT_LEDGER"];
  return { namespace, settles };
}

describe("strict mode: calls that end together leave together (usage-batch.ts)", () => {
  const held = { held: true, leased: null, leaseMode: false } as unknown as Admitted;

  it("one packed queue message and one settle for the organisation's calls, each event once", async () => {
    const tenant = await newTenant({ providers: false });
    const { queue, bodies } = recordingQueue();
    const { namespace, settles } = recordingLedger();
    const bindings = { ...env, USAGE_QUEUE: queue, TENANT_LEDGER: namespace };
    const events = Array.from({ length: 12 }, () => usageEvent(tenant, { startedAt: Date.now(), costNanoUsd: 5 }));
    const contexts = events.map((event, i) => {
      const ctx = createExecutionContext();
      // Every other call held money (a budget): only those are settled.
      finishCall(ctx, bindings, null, tenant.tenantId, i % 2 === 0 ? held : null, event);
      return ctx;
    });
    await Promise.all(contexts.map((ctx) => waitOnExecutionContext(ctx)));
    expect(bodies).toEqual([{ v: 1, pack: "usage", tenantId: tenant.tenantId, events }]);
    expect(settles).toEqual([events.filter((_, i) => i % 2 === 0).map((e) => e.requestId)]);
  });

  it("never mixes organisations, or calls made with other bindings", async () => {
    const [a, b] = [await newTenant({ providers: false }), await newTenant({ providers: false })];
    const first = recordingQueue();
    const second = recordingQueue();
    const calls: [Tenant, Queue][] = [
      [a, first.queue],
      [b, first.queue],
      [a, second.queue],
    ];
    const bindingsOf = new Map([first.queue, second.queue].map((q) => [q, { ...env, USAGE_QUEUE: q }]));
    const contexts = calls.map(([tenant, queue]) => {
      const ctx = createExecutionContext();
      const event = usageEvent(tenant, { startedAt: Date.now(), costNanoUsd: 1 });
      finishCall(ctx, bindingsOf.get(queue) ?? env, null, tenant.tenantId, null, event);
      return ctx;
    });
    await Promise.all(contexts.map((ctx) => waitOnExecutionContext(ctx)));
    const tenantsOf = (bodies: unknown[]) => bodies.map((body) => (body as UsageEvent).tenantId).sort();
    expect(tenantsOf(first.bodies)).toEqual([a.tenantId, b.tenantId].sort());
    expect(tenantsOf(second.bodies)).toEqual([a.tenantId]);
  });

  it("through the gateway: concurrent calls are stored once each, in fewer messages than calls", async () => {
    const tenant = await newTenant();
    const budget = await tenant.api("/budgets", {
      method: "POST",
      json: { name: "b", window: "monthly", limit_usd: "50" },
    });
    expect(budget.status).toBe(201);
    const spy = spyOnUsageQueue();
    try {
      const responses = await Promise.all(
        Array.from({ length: 16 }, () =>
          worker("/openai/v1/chat/completions", {
            method: "POST",
            headers: { authorization: `Bearer ${tenant.proxyKey}`, "content-type": "application/json" },
            body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }], max_tokens: 8 }),
          }),
        ),
      );
      const ids = responses.map((r) => r.headers.get("x-outlay-request-id") ?? "");
      expect(responses.map((r) => r.status)).toEqual(Array(16).fill(200));
      await Promise.all(responses.map((r) => r.arrayBuffer()));
      for (const id of ids) expect(id).not.toBe("");
      await waitFor(async () => ((await eventsOf(tenant.tenantId)).length === 16 ? true : null), "16 events");
      expect(new Set((await eventsOf(tenant.tenantId)).map((e) => e.request_id))).toEqual(new Set(ids));
      for (const id of ids) expect(spy.sendsFor(id)).toBe(1);
      expect(spy.sent).toBeLessThan(16);
      // Every hold settled: the budget's spend is the events' cost, nothing still held.
      const ledger = ledgerOf(env, tenant.tenantId);
      await waitFor(async () => ((await ledger?.openHolds())?.length === 0 ? true : null), "no open hold");
    } finally {
      spy.restore();
    }
  });
});

describe("usage events too large for a queue message", () => {
  const cases: [string, Partial<UsageEvent>][] = [
    ["a 1 MB model name", { model: "m".repeat(1_000_000) }],
    ["a model of multi-byte characters", { model: "模".repeat(50_000) }],
    ["a 200 KB dimension value", { dimensions: { team: "t".repeat(200_000) } }],
    [
      "thousands of dimensions",
      { dimensions: Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`d${i}`, "v".repeat(40)])) },
    ],
    ["a long dimension name", { dimensions: { ["n".repeat(150_000)]: "v" } }],
  ];

  it.each(cases)("are shrunk and flagged, never dropped (%s)", async (_, fields) => {
    const tenant = await newTenant({ providers: false });
    const event = usageEvent(tenant, { startedAt: Date.now(), costNanoUsd: 3_000, ...fields });
    await finish(tenant, event);
    const row = await waitForEvent(tenant.tenantId, event.requestId, 15_000);
    expect(row.cost_nano_usd).toBe(3_000);
    expect(row.input_tokens).toBe(event.usage.inputTokens);
    expect(String(row.model).length).toBeLessThanOrEqual(256);
    const dimensions = JSON.parse(row.dimensions) as Record<string, string>;
    expect(dimensions[TRUNCATED_DIMENSION]).toBe("true");
    expect(Object.keys(dimensions).length).toBeLessThanOrEqual(32);
    for (const [name, value] of Object.entries(dimensions)) {
      expect(name.length).toBeLessThanOrEqual(32);
      expect(value.length).toBeLessThanOrEqual(128);
    }
  });

  it("an event that fits is sent unchanged", async () => {
    const tenant = await newTenant({ providers: false });
    const event = usageEvent(tenant, {
      startedAt: Date.now(),
      costNanoUsd: 1,
      model: "m".repeat(5_000),
      dimensions: { team: "search" },
    });
    await finish(tenant, event);
    const row = await waitForEvent(tenant.tenantId, event.requestId, 15_000);
    expect(row.model).toBe(event.model);
    expect(JSON.parse(row.dimensions)).toEqual({ team: "search" });
  });
});

describe("one request with a 1 MB model name, end to end", () => {
  it("does not stop the tenant's later audit events", async () => {
    const tenant = await newTenant();
    const policy = await tenant.api("/policies", {
      method: "POST",
      json: { name: "only mini", allow_models: ["gpt-4o-mini"] },
    });
    expect(policy.status).toBe(201);
    const res = await worker("/openai/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.proxyKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "m".repeat(1_000_000), messages: [{ role: "user", content: "hi" }] }),
    });
    // Refused either way: at the edge (the name is too long) or by the policy.
    expect([400, 403]).toContain(res.status);
    await res.arrayBuffer();
    const keyRes = await tenant.api("/keys", { method: "POST", json: { name: "after the big one" } });
    expect(keyRes.status).toBe(201);
    const rule = await tenant.api("/budgets", {
      method: "POST",
      json: { name: "later", window: "monthly", limit_usd: "5" },
    });
    expect(rule.status).toBe(201);
    await waitFor(async () => {
      const rows = await env.DB.prepare("SELECT type, data FROM audit_events WHERE tenant_id = ? ORDER BY seq")
        .bind(tenant.tenantId)
        .all<{ type: string; data: string }>();
      const types = rows.results.map((r) => r.type);
      const keyCreated = rows.results.some(
        (r) => r.type === "key.created" && (JSON.parse(r.data) as { name?: string }).name === "after the big one",
      );
      return keyCreated && types.includes("rule.created") ? true : null;
    }, "key.created and rule.created after the 1 MB model");
  });
});
