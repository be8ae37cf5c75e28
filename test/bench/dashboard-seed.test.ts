// The dashboard benchmark's seeding writes usage events and hourly rollups straight in SQL; this
// checks, on a small plan in real D1, that the rows are what the usage consumer itself stores:
// the same events fed to writeUsage (workers/ingest/usage-consumer.ts) under another tenant give
// the same event rows, exactly the same hourly and daily rollup rows and the same last use per key.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../shared/ids.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { writeUsage } from "../../workers/ingest/usage-consumer.ts";
import { apportion, dataPlan, HOUR_MS, SLOTS } from "./dashboard-data.ts";
import type { CheckResult } from "./dashboard-inspect.ts";
import { check, seed, type SeedResult } from "./dashboard-seed.ts";
import type { HookDb } from "./worker-host.ts";

const db = env.DB as unknown as HookDb;
const NOW = Date.UTC(2026, 10, 23, 15, 30);

type EventRow = {
  request_id: string;
  key_id: string;
  provider: string;
  model: string;
  endpoint: string;
  stream: number;
  status: number;
  outcome: string;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  usage_source: string;
  cost_nano_usd: number | null;
  unpriced: number;
  price: string | null;
  started_at: number;
  first_byte_ms: number | null;
  total_ms: number;
  dimensions: string;
};

const EVENT_COLUMNS = `request_id, key_id, provider, model, endpoint, stream, status, outcome, input_tokens,
  cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, usage_source, cost_nano_usd, unpriced,
  price, started_at, first_byte_ms, total_ms, dimensions`;
const ROLLUP_COLUMNS = `hour, provider, model, key_id, dim_name, dim_value, requests, input_tokens, cached_input_tokens,
  cache_write_tokens, output_tokens, reasoning_tokens, cost_nano_usd, unpriced_requests`;

async function rows<T>(sql: string, tenantId: string): Promise<T[]> {
  return (await env.DB.prepare(sql).bind(tenantId).all<T>()).results;
}

function asEvent(r: EventRow, tenantId: string): UsageEvent {
  return {
    v: 1,
    requestId: r.request_id,
    tenantId,
    keyId: r.key_id,
    provider: r.provider,
    model: r.model,
    endpoint: r.endpoint,
    stream: r.stream === 1,
    status: r.status,
    outcome: r.outcome as UsageEvent["outcome"],
    usage: {
      inputTokens: r.input_tokens,
      cachedInputTokens: r.cached_input_tokens,
      cacheWriteTokens: r.cache_write_tokens,
      outputTokens: r.output_tokens,
      reasoningTokens: r.reasoning_tokens,
    },
    usageSource: r.usage_source as UsageEvent["usageSource"],
    costNanoUsd: r.cost_nano_usd,
    price: r.price === null ? null : (JSON.parse(r.price) as UsageEvent["price"]),
    startedAt: r.started_at,
    firstByteMs: r.first_byte_ms,
    totalMs: r.total_ms,
    dimensions: JSON.parse(r.dimensions) as Record<string, string>,
  };
}

describe("dashboard benchmark data plan", () => {
  it("is the same every time and apportions exactly", () => {
    const a = dataPlan({ events: 50_000, days: 30, keys: 200, now: NOW });
    const b = dataPlan({ events: 50_000, days: 30, keys: 200, now: NOW });
    expect(b).toEqual(a);
    expect(a.hourly).toHaveLength(30 * 24);
    expect(a.hourly.reduce((s, n) => s + n, 0)).toBe(50_000);
    expect(a.endHour).toBe(Date.UTC(2026, 10, 23, 15));
    expect(a.startHour).toBe(a.endHour - 30 * 24 * HOUR_MS);
    expect(a.slots).toHaveLength(SLOTS);
    expect(new Set(a.slots).size).toBe(a.combos.length);
    expect(a.keys.every((k) => k.models.length >= 1 && k.models.length <= 3)).toBe(true);
    expect(new Set(a.keys.map((k) => k.dimensions.team)).size).toBe(10);
    expect(new Set(a.keys.map((k) => k.dimensions.project)).size).toBe(50);
    expect(new Set(a.keys.map((k) => k.dimensions.feature)).size).toBe(100);
    expect(apportion([1, 1, 1], 10)).toEqual([4, 3, 3]);
    expect(() => apportion([1, 2], 1, 1)).toThrow(/cannot apportion 1 over 2 items/);
  });
});

describe("dashboard benchmark seeding", () => {
  it("writes the events and rollups the usage consumer writes for the same calls", async () => {
    const seeded = newId();
    const consumed = newId();
    const plan = dataPlan({ events: 2_400, days: 3, keys: 12, now: NOW });
    const keyIds = plan.keys.map(() => newId());
    // The keys in both organisations, so the consumer's last-use update has rows to move.
    await env.DB.batch(
      [seeded, consumed].flatMap((tenantId) =>
        keyIds.map((id, i) =>
          env.DB.prepare(
            "INSERT INTO api_keys (tenant_id, id, name, prefix, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
          ).bind(tenantId, id, `key ${i}`, `olk_${tenantId}_${id}`, NOW),
        ),
      ),
    );
    const lines: string[] = [];
    const result = (await seed(db, { tenantId: seeded, plan, keyIds, chunkEvents: 700 }, (l) =>
      lines.push(l),
    )) as SeedResult;
    expect(result.generated).toBe(2_400);
    expect(result.chunks).toBeGreaterThan(2);
    expect(lines.some((l) => l.includes("2,400 events"))).toBe(true);

    const events = await rows<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM usage_events WHERE tenant_id = ?1 ORDER BY request_id`,
      seeded,
    );
    expect(events).toHaveLength(2_400);
    expect(new Set(events.map((e) => e.request_id)).size).toBe(2_400);
    expect(events.every((e) => /^req_[a-z2-7]{21}$/.test(e.request_id))).toBe(true);
    expect(events.every((e) => e.started_at >= plan.startHour && e.started_at < plan.endHour)).toBe(true);
    expect(events.some((e) => e.unpriced === 1 && e.cost_nano_usd === null && e.price === null)).toBe(true);
    expect(events.some((e) => e.outcome === "ok" && (e.cost_nano_usd ?? 0) > 0)).toBe(true);

    // The same calls through the consumer, in queue-sized batches, under another tenant.
    const asConsumed = events.map((e) => asEvent(e, consumed));
    for (let i = 0; i < asConsumed.length; i += 100) await writeUsage(env.DB, consumed, asConsumed.slice(i, i + 100));
    const stored = await rows<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM usage_events WHERE tenant_id = ?1 ORDER BY request_id`,
      consumed,
    );
    expect(stored).toEqual(events);

    for (const [table, time] of [
      ["usage_rollups_hourly", "hour"],
      ["usage_rollups_daily", "day"],
    ] as const) {
      const columns = ROLLUP_COLUMNS.replace("hour", time);
      const order = `ORDER BY dim_name, ${time}, provider, model, key_id, dim_value`;
      const ours = await rows(`SELECT ${columns} FROM ${table} WHERE tenant_id = ?1 ${order}`, seeded);
      const theirs = await rows(`SELECT ${columns} FROM ${table} WHERE tenant_id = ?1 ${order}`, consumed);
      expect(ours.length).toBeGreaterThan(table === "usage_rollups_hourly" ? 500 : 100);
      expect(ours).toEqual(theirs);
    }
    const lastUse = "SELECT id, last_used_at FROM api_keys WHERE tenant_id = ?1 ORDER BY id";
    const ourKeys = await rows<{ id: string; last_used_at: number | null }>(lastUse, seeded);
    expect(ourKeys.every((k) => k.last_used_at !== null)).toBe(true);
    expect(ourKeys).toEqual(await rows(lastUse, consumed));

    const sums = (await check(db, { tenantId: seeded }, () => undefined)) as CheckResult;
    expect(sums.events.map((e) => e.dim_name)).toEqual(["", "feature", "project", "team"]);
    const fields = ({ dim_name, requests, cost, input, output, unpriced }: (typeof sums.events)[number]) => ({
      dim_name,
      requests,
      cost,
      input,
      output,
      unpriced,
    });
    expect(sums.rollups.map(fields)).toEqual(sums.events.map(fields));
    expect(sums.daily.map(fields)).toEqual(sums.events.map(fields));
    expect(sums.lastUsedWrong).toBe(0);
    expect(sums.keysUsed).toBe(12);
  });

  it("refuses to seed an organisation that already has usage", async () => {
    const tenantId = newId();
    const plan = dataPlan({ events: 100, days: 1, keys: 3, now: NOW });
    const keyIds = plan.keys.map(() => newId());
    await seed(db, { tenantId, plan, keyIds, chunkEvents: 10_000 }, () => undefined);
    await expect(seed(db, { tenantId, plan, keyIds, chunkEvents: 10_000 }, () => undefined)).rejects.toThrow(
      /already has 100 usage events/,
    );
  });
});
