// 1,000 calls with random client aborts, upstream 429/500 and cut streams, JSON and SSE, OpenAI
// and Anthropic: afterwards the ledger's spent equals the sum of the usage events to the
// nano-dollar, no hold is left, and redelivering every event (every queue message as sent, every
// event of a pack again as that part of its pack, and direct settles) changes nothing. Then a hold whose settle was lost expires and is reconciled from its usage event.
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { keyHash } from "../../shared/crypto.ts";
import { packIdOf, type UsageEvent, usageEventsOf, type UsagePack } from "../../shared/usage.ts";
import { spyOnUsageQueue } from "../e2e/support.ts";
import { messageBytes, splitBatches } from "../../shared/queue-limits.ts";
import {
  eventsOf,
  newTenant,
  waitForEvent,
  waitForEventCount,
  worker,
  type EventRow,
  type Tenant,
} from "../helpers.ts";
import { budgetStatus, createBudget, nano, settledStatus, usageEvent } from "./support.ts";
import { seededRandom } from "../random.ts";

type Kind = "json" | "stream" | "abort" | "rate_limit" | "server_error" | "cut" | "anthropic";
const KINDS: Kind[] = ["json", "stream", "abort", "rate_limit", "server_error", "cut", "anthropic"];

async function oneCall(tenant: Tenant, kind: Kind, rand: () => number): Promise<void> {
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-demo-output-tokens": String(1 + Math.floor(rand() * 150)),
  };
  if (kind === "rate_limit" || kind === "server_error" || kind === "cut") headers["x-demo-scenario"] = kind;
  const stream = kind !== "json" && kind !== "rate_limit" && kind !== "server_error";
  const controller = new AbortController();
  let res: Response;
  if (kind === "anthropic") {
    res = await worker("/anthropic/v1/messages", {
      method: "POST",
      headers: { ...headers, "x-api-key": tenant.proxyKey, "anthropic-version": "2023-06-01" },
      body: JSON.stringify({
        model: "claude-3-5-haiku-latest",
        max_tokens: 200,
        stream: rand() < 0.5,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
  } else {
    res = await worker("/openai/v1/chat/completions", {
      method: "POST",
      headers: { ...headers, authorization: `Bearer ${tenant.proxyKey}` },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        max_tokens: 200,
        stream,
        messages: [{ role: "user", content: "hi" }],
      }),
      signal: controller.signal,
    });
  }
  if (kind === "abort" && res.body) {
    const reader = res.body.getReader();
    await reader.read();
    await reader.cancel();
    return;
  }
  await res.text().catch(() => "");
}

function toEvent(row: EventRow, tenantId: string): UsageEvent {
  const r = row as EventRow & Record<string, never>;
  return {
    v: 1,
    requestId: row.request_id,
    tenantId,
    keyId: String(r.key_id),
    provider: String(r.provider),
    model: String(r.model),
    endpoint: String(r.endpoint),
    stream: Number(r.stream) === 1,
    status: row.status,
    outcome: row.outcome as UsageEvent["outcome"],
    usage: {
      inputTokens: row.input_tokens,
      cachedInputTokens: row.cached_input_tokens,
      cacheWriteTokens: row.cache_write_tokens,
      outputTokens: row.output_tokens,
      reasoningTokens: row.reasoning_tokens,
    },
    usageSource: row.usage_source as UsageEvent["usageSource"],
    costNanoUsd: row.cost_nano_usd,
    price: null,
    startedAt: Number(r.started_at),
    firstByteMs: null,
    totalMs: Number(r.total_ms),
    dimensions: JSON.parse(row.dimensions) as Record<string, string>,
  };
}

const ledgerOf = (tenantId: string) => env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenantId));
const sum = (rows: EventRow[]) => rows.reduce((total, e) => total + BigInt(e.cost_nano_usd ?? 0), 0n);

describe("ledger under chaos", () => {
  it("1,000 mixed calls: spent equals the events exactly, no hold left, redelivery changes nothing", async () => {
    const tenant = await newTenant();
    const budget = await createBudget(tenant, { limit_usd: "100" });
    const alert = await createBudget(tenant, { limit_usd: "0.01", mode: "alert", window: "rolling", rolling_hours: 1 });
    const rand = seededRandom(20261123);
    const plan = Array.from({ length: 1000 }, () => KINDS[Math.floor(rand() * KINDS.length)] ?? "json");
    const spy = spyOnUsageQueue();
    try {
      for (let i = 0; i < plan.length; i += 25) {
        await Promise.all(plan.slice(i, i + 25).map((kind) => oneCall(tenant, kind, rand)));
      }
    } finally {
      spy.restore();
    }
    const events = await waitForEventCount(tenant.tenantId, 1000, 60_000);
    expect(events.length).toBe(1000);
    const outcomes = new Set(events.map((e) => e.outcome));
    for (const outcome of ["ok", "upstream_error", "upstream_cut", "client_abort"]) expect(outcomes).toContain(outcome);

    const status = await settledStatus(tenant, budget, 30_000);
    const total = sum(events);
    expect(total).toBeGreaterThan(0n);
    expect(nano(status.spent_usd)).toBe(total);
    expect(nano((await settledStatus(tenant, alert)).spent_usd)).toBe(total);
    expect(await ledgerOf(tenant.tenantId).openHolds()).toEqual([]);

    // Redeliver every event: through the queue every message as it was sent (as a retried batch
    // would, or the ledger sending on a pack it took over), every event of a pack once more alone
    // as that part of its pack (as the consumer sends back an event of a pack it could not store
    // whole), and straight to settle.
    const sent = spy.bodies.filter((body) => usageEventsOf(body)?.[0]?.tenantId === tenant.tenantId);
    const parts = sent.flatMap((body) => {
      const carried = usageEventsOf(body) ?? [];
      if (carried.length < 2) return [];
      return carried.map((event, part): UsagePack => ({
        v: 1,
        pack: "usage",
        tenantId: tenant.tenantId,
        events: [event],
        id: packIdOf(carried),
        part,
      }));
    });
    expect(parts.length).toBeGreaterThan(0);
    const redelivered = [...sent, ...parts].map((body) => ({ body, bytes: messageBytes(body) }));
    for (const batch of splitBatches(redelivered)) {
      await env.USAGE_QUEUE.sendBatch(batch.map(({ body }) => ({ body, contentType: "json" as const })));
    }
    const again = events.map((row) => toEvent(row, tenant.tenantId));
    await ledgerOf(tenant.tenantId).settle({ events: again });
    await ledgerOf(tenant.tenantId).settle({ events: again.slice(0, 10) });
    // Read once the queue is past the redelivered events, not after a fixed wait: an event of
    // another tenant, sent after them, is stored only once the batches before it were consumed.
    const bystander = await newTenant({ providers: false });
    const sentinel = usageEvent(bystander, { startedAt: Date.now(), costNanoUsd: 0 });
    await env.USAGE_QUEUE.send(sentinel, { contentType: "json" });
    await waitForEvent(bystander.tenantId, sentinel.requestId, 30_000);
    expect((await eventsOf(tenant.tenantId)).length).toBe(1000);
    expect(nano((await budgetStatus(tenant, budget)).spent_usd)).toBe(total);
    const rollups = await env.DB.prepare(
      "SELECT SUM(cost_nano_usd) AS cost, SUM(requests) AS n FROM usage_rollups_hourly WHERE tenant_id = ? AND dim_name = ''",
    )
      .bind(tenant.tenantId)
      .first<{ cost: number; n: number }>();
    expect(BigInt(rollups?.cost ?? 0)).toBe(total);
    expect(rollups?.n).toBe(1000);
  }, 180_000);

  it("a hold whose settle was lost expires, and its usage event reconciles the budget", async () => {
    const tenant = await newTenant();
    const budget = await createBudget(tenant, { limit_usd: "1" });
    const ledger = ledgerOf(tenant.tenantId);
    const hash = await keyHash(env.KEY_PEPPER, tenant.proxyKey);
    const startedAt = Date.now() - 16 * 60_000;
    const requestId = `req_lost${crypto.randomUUID().replaceAll("-", "").slice(0, 17)}`;
    const admitted = await ledger.admit({
      keyId: tenant.keyId,
      keyHash: hash,
      provider: "openai",
      builtInProvider: true,
      requestId,
      now: startedAt,
      call: {
        model: "gpt-4o-mini",
        endpoint: "chat.completions",
        stream: false,
        metered: true,
        inputTokens: 10,
        maxOutputTokens: 1000,
        dimensions: {},
        source: null,
      },
    });
    expect(admitted.ok).toBe(true);
    expect(nano((await budgetStatus(tenant, budget)).held_usd)).toBeGreaterThan(0n);
    // The isolate that ran the call died before settling: the hold expires on the alarm.
    expect(await runDurableObjectAlarm(ledger)).toBe(true);
    expect(await ledger.openHolds()).toEqual([]);
    const released = await budgetStatus(tenant, budget);
    expect(nano(released.held_usd)).toBe(0n);
    expect(nano(released.spent_usd)).toBe(0n);
    // Its usage event arrives through the queue and is booked by attribution.
    const event = usageEvent(tenant, {
      requestId,
      startedAt,
      costNanoUsd: 301_500,
      usage: { inputTokens: 10, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: 500, reasoningTokens: 0 },
    });
    await env.USAGE_QUEUE.send(event, { contentType: "json" });
    await waitForEvent(tenant.tenantId, requestId);
    const until = Date.now() + 10_000;
    while (nano((await budgetStatus(tenant, budget)).spent_usd) === 0n && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(nano((await budgetStatus(tenant, budget)).spent_usd)).toBe(301_500n);
  });
});
