// The usage consumer: events stored as packs (usage_packs), hourly and daily rollups and keys' last use written in one
// batch, idempotent by pack (a redelivered message, a pack sent again by the ledger, a pack written in parts, two
// writes of one pack that race: each changes nothing), through the Worker's real queue() handler; and the readers'
// time order over packs whose times overlap.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId, newRequestId } from "../../shared/ids.ts";
import { packIdOf, type UsageEvent, type UsageMessage, type UsagePack } from "../../shared/usage.ts";
import worker from "../../workers/index.ts";
import { TenantDb, tenantDb } from "../../workers/store/tenant-db.ts";
import {
  missingRows,
  type UsageCursor,
  usageEventsPage,
  writeUsageEvents,
  writeUsageRows,
} from "../../workers/store/usage-events.ts";
import { eventsOf } from "../helpers.ts";

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

async function deliver(events: UsageMessage[], attempts = 1) {
  const batch = createMessageBatch<UsageMessage>(
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
    expect(await eventsOf(tenantId)).toHaveLength(3);
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
    expect((await eventsOf(tenantId)).map((r) => r.request_id)).toEqual([good.requestId]);
  });
});

const pack = (events: UsageEvent[], part?: { id: string; part: number }): UsagePack => ({
  v: 1,
  pack: "usage",
  tenantId: events[0]?.tenantId ?? "",
  events,
  ...part,
});

const requestIds = async (tenantId: string) => (await eventsOf(tenantId)).map((r) => r.request_id).sort();

describe("usage packs", () => {
  it("stores a pack once: sent again (as the ledger sends a pack it took over), or in parts, it adds nothing", async () => {
    const tenantId = newId();
    const t = Date.UTC(2026, 10, 20, 10, 15);
    // Two minutes: the pack is stored as a row for each.
    const events = [0, 1, 2, 70_000].map((ms) => event(tenantId, { startedAt: t + ms }));
    await deliver([pack(events)]);
    const after = await rollups(tenantId);
    const rows = await env.DB.prepare("SELECT bucket, part, n FROM usage_packs WHERE tenant_id = ? ORDER BY bucket")
      .bind(tenantId)
      .all();
    expect(rows.results).toEqual([
      { bucket: Math.floor(t / 60_000), part: -1, n: 3 },
      { bucket: Math.floor(t / 60_000) + 1, part: -1, n: 1 },
    ]);
    await deliver([pack(events)], 2);
    await deliver([pack([...events])], 3);
    const id = packIdOf(events);
    const stored = await env.DB.prepare("SELECT DISTINCT pack_id FROM usage_packs WHERE tenant_id = ?")
      .bind(tenantId)
      .all();
    expect(stored.results).toEqual([{ pack_id: id }]);
    await deliver([pack([events[1] as UsageEvent], { id, part: 1 })], 4);
    expect(await rollups(tenantId)).toEqual(after);
    expect(await requestIds(tenantId)).toEqual(events.map((e) => e.requestId).sort());
    expect(after[0]).toMatchObject({ dim_name: "", model: "gpt-4o", requests: 4 });
  });

  it("a pack delivered twice in one batch, beside an event of it sent back alone, is stored and rolled up once", async () => {
    const tenantId = newId();
    const events = [event(tenantId), event(tenantId, { model: "gpt-4o-mini" })];
    const alone = pack([events[1] as UsageEvent], { id: packIdOf(events), part: 1 });
    const result = await deliver([pack(events), pack(events), alone]);
    expect(result.explicitAcks).toHaveLength(3);
    const totals = (await rollups(tenantId)).filter((r) => r.dim_name === "");
    expect(totals).toEqual([
      expect.objectContaining({ model: "gpt-4o", requests: 1 }),
      expect.objectContaining({ model: "gpt-4o-mini", requests: 1 }),
    ]);
    expect(await requestIds(tenantId)).toEqual(events.map((e) => e.requestId).sort());
  });

  it("a pack written event by event, then delivered whole, stores only the events it lacks", async () => {
    const tenantId = newId();
    const events = [event(tenantId), event(tenantId), event(tenantId)];
    const db = tenantDb(env.DB, tenantId);
    const whole = missingRows(
      db,
      events.map((e, index) => ({ tenantId, event: e, packId: "p:test", index, count: 3, alone: false })),
    );
    // Parts 0 and 2 came back alone and were stored; part 1 is still on its way.
    await deliver([pack([events[0] as UsageEvent], { id: "p:test", part: 0 })]);
    await deliver([pack([events[2] as UsageEvent], { id: "p:test", part: 2 })]);
    expect((await whole).map((r) => r.part)).toEqual([-1]);
    const lacking = await missingRows(
      db,
      events.map((e, index) => ({ tenantId, event: e, packId: "p:test", index, count: 3, alone: false })),
    );
    expect(lacking.map((r) => r.part)).toEqual([1]);
    await writeUsageRows(db, lacking);
    await deliver([pack([events[1] as UsageEvent], { id: "p:test", part: 1 })], 2);
    expect(await requestIds(tenantId)).toEqual(events.map((e) => e.requestId).sort());
    const totals = await rollups(tenantId);
    expect(totals[0]).toMatchObject({ dim_name: "", requests: 3 });
  });

  it("two writes of one pack that race store it, and roll it up, once", async () => {
    const tenantId = newId();
    const db = tenantDb(env.DB, tenantId);
    const items = [event(tenantId), event(tenantId)].map((e, index) => ({
      tenantId,
      event: e,
      packId: "p:race",
      index,
      count: 2,
      alone: false,
    }));
    // Both looked before either wrote: both find the pack missing.
    const [first, second] = await Promise.all([missingRows(db, items), missingRows(db, items)]);
    await Promise.all([writeUsageRows(db, first ?? []), writeUsageRows(db, second ?? [])]);
    expect(await eventsOf(tenantId)).toHaveLength(2);
    expect((await rollups(tenantId))[0]).toMatchObject({ dim_name: "", requests: 2 });
  });

  it("drops a message whose pack id or part is not one the consumer gives out", async () => {
    const tenantId = newId();
    const e = event(tenantId);
    const bad = [
      pack([e], { id: "x y", part: 0 }),
      pack([e], { id: "p:ok", part: -1 }),
      pack([e], { id: "p:ok", part: 1.5 }),
      { ...pack([e, event(tenantId)]), id: "p:ok", part: 0 },
    ];
    const result = await deliver(bad);
    expect(result.explicitAcks).toHaveLength(4);
    expect(await eventsOf(tenantId)).toEqual([]);
  });

  it("reads gzipped packs and the JSON packs migration 0012 made alike", async () => {
    const tenantId = newId();
    const [a, b] = [event(tenantId, { startedAt: 1_000 }), event(tenantId, { startedAt: 2_000 })];
    await writeUsageEvents(tenantDb(env.DB, tenantId), [b]);
    await env.DB.prepare(
      `INSERT INTO usage_packs (tenant_id, pack_id, bucket, part, first_at, last_at, n, nonce, body)
       VALUES (?, 'migrated-0-0', 0, -1, 1000, 1000, 1, 0, ?)`,
    )
      .bind(tenantId, JSON.stringify([a]))
      .run();
    const page = await usageEventsPage(tenantDb(env.DB, tenantId), { order: "desc", cursor: null, limit: 10 });
    expect(page).toEqual([b, a]);
  });
});

describe("reading packs in time order", () => {
  /** Packs as isolates make them: calls that end together, whose starts spread over minutes. */
  async function seed(tenantId: string): Promise<UsageEvent[]> {
    const base = Date.UTC(2026, 10, 20, 10, 0);
    let seedValue = 7;
    const random = () => {
      seedValue = (seedValue * 48_271) % 2_147_483_647;
      return seedValue / 2_147_483_647;
    };
    const all: UsageEvent[] = [];
    const db = tenantDb(env.DB, tenantId);
    for (let p = 0; p < 40; p += 1) {
      const end = base + p * 9_000;
      const events = Array.from({ length: 1 + Math.floor(random() * 12) }, () => {
        // Some calls at the same start, to exercise the request-id tie-break.
        const startedAt = random() < 0.2 ? base + 60_000 : end - Math.floor(random() * 200_000);
        return event(tenantId, { startedAt, requestId: newRequestId(startedAt) });
      });
      all.push(...events);
      await writeUsageEvents(db, events);
    }
    return all;
  }

  const key = (e: UsageEvent) => [e.startedAt, e.requestId] as const;
  const compare = (a: UsageEvent, b: UsageEvent) => {
    const [x, y] = [key(a), key(b)];
    return x[0] - y[0] || (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0);
  };

  it("pages through every event exactly once, newest first and oldest first, with time bounds", async () => {
    const tenantId = newId();
    const all = (await seed(tenantId)).sort(compare);
    const db = tenantDb(env.DB, tenantId);
    for (const order of ["desc", "asc"] as const) {
      for (const limit of [1, 7, 50]) {
        const seen: UsageEvent[] = [];
        let cursor: UsageCursor | null = null;
        for (;;) {
          const page = await usageEventsPage(db, { order, cursor, limit });
          seen.push(...page);
          const last = page.at(-1);
          if (!last || page.length < limit) break;
          cursor = { at: last.startedAt, id: last.requestId };
        }
        expect(seen.map((e) => e.requestId)).toEqual(
          (order === "asc" ? all : all.toReversed()).map((e) => e.requestId),
        );
      }
    }
    const from = all[10]?.startedAt ?? 0;
    const to = all[60]?.startedAt ?? 0;
    expect(from).toBeLessThan(to);
    const inside = all.filter((e) => e.startedAt >= from && e.startedAt < to);
    const asc = await usageEventsPage(db, { order: "asc", cursor: null, from, to, limit: 1_000 });
    expect(asc.map((e) => e.requestId)).toEqual(inside.map((e) => e.requestId));
    const desc = await usageEventsPage(db, { order: "desc", cursor: null, from, to, limit: 1_000 });
    expect(desc.map((e) => e.requestId)).toEqual(inside.toReversed().map((e) => e.requestId));
  });

  it("walks an index range (by last start or first start), never the tenant's whole table", async () => {
    const tenantId = newId();
    await seed(tenantId);
    const statements: { sql: string; params: unknown[] }[] = [];
    const real = tenantDb(env.DB, tenantId);
    const recorder = Object.create(TenantDb.prototype, { tenantId: { value: tenantId } }) as TenantDb;
    recorder.all = (sql: string, ...params: unknown[]) => {
      statements.push({ sql, params });
      return real.all(sql, ...params);
    };
    await usageEventsPage(recorder, { order: "desc", cursor: { at: Date.UTC(2026, 10, 20, 10, 3), id: "" }, limit: 5 });
    await usageEventsPage(recorder, { order: "asc", cursor: { at: Date.UTC(2026, 10, 20, 10, 3), id: "" }, limit: 5 });
    expect(statements.length).toBeGreaterThan(1);
    for (const { sql, params } of statements) {
      const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
        .bind(tenantId, ...params)
        .all<{ detail: string }>();
      expect(plan.results.map((r) => r.detail)).toEqual([
        expect.stringMatching(
          /^SEARCH usage_packs USING INDEX usage_packs_by_(last|first) \(tenant_id=\? AND (last|first)_at>\? AND \1_at<\?\)$/,
        ),
      ]);
    }
  });
});
