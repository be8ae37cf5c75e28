// The usage consumer: events, hourly and daily rollups and keys' last use written in one batch, idempotent by request id
// (a redelivered batch changes nothing), through the Worker's real queue() handler.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId, newRequestId } from "../../shared/ids.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import worker from "../../workers/index.ts";
import type { TenantDb } from "../../workers/store/tenant-db.ts";
import { rollUp } from "../../workers/store/usage-events.ts";

function event(tenantId: string, overrides: Partial<UsageEvent> = {}): UsageEvent {
  const startedAt = Date.UTC(2026, 10, 20, 10, 15);
  return {
    v: 1,
    requestId: newRequestId(startedAt),
    tenantId,
    keyId: "keykeykeykey",
    provider: "openai",
    model: "gpt-4o",
    endpoint: "chat.completions",
    stream: false,
    status: 200,
    outcome: "ok",
    usage: { inputTokens: 100, cachedInputTokens: 20, cacheWriteTokens: 0, outputTokens: 50, reasoningTokens: 0 },
    usageSource: "provider",
    costNanoUsd: 725_000,
    price: null,
    startedAt,
    firstByteMs: 12,
    totalMs: 40,
    dimensions: { team: "search" },
    ...overrides,
  };
}

async function deliver(events: UsageEvent[], attempts = 1) {
  const batch = createMessageBatch<UsageEvent>(
    "outlay-usage",
    events.map((body, i) => ({ id: `m${i}-${attempts}`, timestamp: new Date(), attempts, body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch, env);
  return getQueueResult(batch, ctx);
}

async function rollups(tenantId: string, table = "usage_rollups_hourly") {
  const res = await env.DB.prepare(
    `SELECT dim_name, dim_value, model, requests, input_tokens, cost_nano_usd FROM ${table} WHERE tenant_id = ? ORDER BY dim_name, dim_value, model`,
  )
    .bind(tenantId)
    .all();
  return res.results;
}

describe("usage consumer", () => {
  it("writes events and rollups, and a redelivered batch changes nothing", async () => {
    const tenantId = newId();
    const events = [
      event(tenantId),
      event(tenantId, { dimensions: {} }),
      event(tenantId, { costNanoUsd: null, model: "mystery" }),
    ];
    const first = await deliver(events);
    expect(first.explicitAcks).toHaveLength(3);
    const after = await rollups(tenantId);
    await deliver(events, 2);
    await deliver([events[0] as UsageEvent], 3);
    expect(await rollups(tenantId)).toEqual(after);
    // The daily rollups hold the same sums (all three calls are on one UTC day).
    expect(await rollups(tenantId, "usage_rollups_daily")).toEqual(after);
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM usage_events WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ n: number }>();
    expect(count?.n).toBe(3);
    expect(after).toEqual([
      { dim_name: "", dim_value: "", model: "gpt-4o", requests: 2, input_tokens: 200, cost_nano_usd: 1_450_000 },
      { dim_name: "", dim_value: "", model: "mystery", requests: 1, input_tokens: 100, cost_nano_usd: 0 },
      {
        dim_name: "team",
        dim_value: "search",
        model: "gpt-4o",
        requests: 1,
        input_tokens: 100,
        cost_nano_usd: 725_000,
      },
      { dim_name: "team", dim_value: "search", model: "mystery", requests: 1, input_tokens: 100, cost_nano_usd: 0 },
    ]);
  });

  it("rolls up only what each batch inserted: a batch of old and new events, other tenants' batches between", async () => {
    const [a, b] = [newId(), newId()];
    const firstA = [event(a), event(a, { dimensions: {} })];
    await deliver(firstA);
    await deliver([event(b), event(b)]);
    // A redelivery of a's first event beside a new one, in one message batch: only the new one is added.
    await deliver([firstA[0] as UsageEvent, event(a, { model: "gpt-4o-mini" })], 2);
    await deliver([event(b)], 2);
    const totals = async (tenantId: string) =>
      (
        await env.DB.prepare(
          "SELECT model, requests FROM usage_rollups_hourly WHERE tenant_id = ? AND dim_name = '' ORDER BY model",
        )
          .bind(tenantId)
          .all()
      ).results;
    expect(await totals(a)).toEqual([
      { model: "gpt-4o", requests: 2 },
      { model: "gpt-4o-mini", requests: 1 },
    ]);
    expect(await totals(b)).toEqual([{ model: "gpt-4o", requests: 3 }]);
  });

  it("reads the inserted rows by rowid range, never the tenant's whole time index", async () => {
    const tenantId = newId();
    await deliver([event(tenantId)]);
    const statements: string[] = [];
    const recorder = {
      prepare: (sql: string) => {
        statements.push(sql);
        return env.DB.prepare("SELECT 1");
      },
    } as unknown as TenantDb;
    rollUp(recorder);
    expect(statements).toHaveLength(5);
    for (const sql of statements) {
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`).bind(tenantId).all<{ detail: string }>();
      const steps = plan.results.map((r) => r.detail);
      expect(steps.filter((d) => /\bSCAN\b|SEARCH/.test(d) && /usage_events\b|\be\b/.test(d))).toEqual([
        expect.stringMatching(/INTEGER PRIMARY KEY \(rowid>\?\)/),
      ]);
    }
  });

  it("keeps each key's last use; a late event never moves it back", async () => {
    const tenantId = newId();
    await env.DB.prepare(
      "INSERT INTO api_keys (tenant_id, id, name, prefix, created_at) VALUES (?, 'keykeykeykey', 'k', 'olk_x_keykeykeykey', 0)",
    )
      .bind(tenantId)
      .run();
    const lastUse = async () =>
      (
        await env.DB.prepare("SELECT last_used_at FROM api_keys WHERE tenant_id = ?")
          .bind(tenantId)
          .first<{ last_used_at: number | null }>()
      )?.last_used_at;
    expect(await lastUse()).toBeNull();
    const t = Date.UTC(2026, 10, 20, 10, 15);
    await deliver([event(tenantId, { startedAt: t }), event(tenantId, { startedAt: t + 60_000 })]);
    expect(await lastUse()).toBe(t + 60_000);
    await deliver([event(tenantId, { startedAt: t - 3_600_000 })]);
    expect(await lastUse()).toBe(t + 60_000);
  });

  it("acks and drops a message that is not a usage event, without losing the rest", async () => {
    const tenantId = newId();
    const good = event(tenantId);
    const batch = createMessageBatch("outlay-usage", [
      { id: "bad", timestamp: new Date(), attempts: 1, body: { hello: "world" } as unknown },
      { id: "good", timestamp: new Date(), attempts: 1, body: good },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["bad", "good"]);
    const stored = await env.DB.prepare("SELECT request_id FROM usage_events WHERE tenant_id = ?").bind(tenantId).all();
    expect(stored.results).toEqual([{ request_id: good.requestId }]);
  });
});
