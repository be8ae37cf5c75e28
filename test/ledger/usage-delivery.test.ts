// Usage events are never dropped silently (docs/budgets.md, "Delivery"): one too large for a queue
// message is shrunk and flagged, not lost; one the queue refuses is handed to the tenant's ledger,
// which keeps it and sends it on. And one request with a 1 MB model name does not silence the
// tenant's audit trail, end to end through the gateway.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { UsageEvent } from "../../shared/usage.ts";
import { finishCall, ledgerOf } from "../../workers/gateway/admit.ts";
import { sendEvents, TRUNCATED_DIMENSION } from "../../workers/gateway/usage-delivery.ts";
import { newTenant, waitForEvent, worker, type Tenant } from "../helpers.ts";
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

  it("a batch of them (lease mode's report) takes the same way", async () => {
    const tenant = await newTenant({ providers: false });
    const events = Array.from({ length: 150 }, () => usageEvent(tenant, { startedAt: Date.now(), costNanoUsd: 1 }));
    const ledger = ledgerOf(env, tenant.tenantId);
    await sendEvents(refusingQueue as Queue<UsageEvent>, events, async (batch) => {
      await ledger?.forwardUsage({ tenantId: tenant.tenantId, events: batch });
      return null;
    });
    const stored = await waitFor(async () => {
      const n = await env.DB.prepare("SELECT COUNT(*) AS n FROM usage_events WHERE tenant_id = ?")
        .bind(tenant.tenantId)
        .first<{ n: number }>();
      return n?.n === 150 ? n.n : null;
    }, "150 events in D1");
    expect(stored).toBe(150);
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
