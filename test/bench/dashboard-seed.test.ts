// The dashboard benchmark's seeding writes usage packs and rollups straight in SQL; this checks,
// on a small plan in real D1, that they are what the usage consumer itself stores: the events the
// seed stored, read back as the app reads them (usageEventsPage), fed to writeUsage
// (workers/ingest/usage-consumer.ts) under another tenant, read back the same and give exactly
// the same hourly and daily rollup rows and the same last use per key. It also checks the seed's
// pack rows (up to 100 events of one minute, TEXT JSON bodies) and that refused calls the
// consumer stored before seeding (gzipped packs) are spread over the window in audit order.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../shared/ids.ts";
import { NO_TOKENS, type UsageEvent } from "../../shared/usage.ts";
import { writeUsage } from "../../workers/ingest/usage-consumer.ts";
import { BUCKET_MS } from "../../workers/store/usage-events.ts";
import { apportion, DAY_MS, dataPlan, HOUR_MS, SLOTS } from "./dashboard-data.ts";
import { type CheckResult, storedEvents } from "./dashboard-inspect.ts";
import { check, seed, type SeedResult } from "./dashboard-seed.ts";
import type { HookDb } from "./worker-host.ts";

const db = env.DB as unknown as HookDb;
const NOW = Date.UTC(2026, 10, 23, 15, 30);

const ROLLUP_COLUMNS = `hour, provider, model, key_id, dim_name, dim_value, requests, input_tokens, cached_input_tokens,
  cache_write_tokens, output_tokens, reasoning_tokens, cost_nano_usd, unpriced_requests`;

async function rows<T>(sql: string, tenantId: string): Promise<T[]> {
  return (await env.DB.prepare(sql).bind(tenantId).all<T>()).results;
}

type PackRow = {
  pack_id: string;
  bucket: number;
  part: number;
  first_at: number;
  last_at: number;
  n: number;
  nonce: number;
  kind: string;
  len: number;
};

/** A call the gateway refused (as the usage consumer stores it), by key `keyId`. */
function refusedCall(tenantId: string, keyId: string, dimensions: Record<string, string>, at: number): UsageEvent {
  return {
    v: 1,
    requestId: `req_${newId()}`,
    tenantId,
    keyId,
    provider: "openai",
    model: "gpt-4o-mini",
    endpoint: "chat.completions",
    stream: false,
    status: 429,
    outcome: "refused",
    usage: NO_TOKENS,
    usageSource: "none",
    costNanoUsd: 0,
    price: null,
    startedAt: at,
    firstByteMs: null,
    totalMs: 2,
    dimensions,
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
    // Refused calls made through the gateway before seeding, stored by the consumer (gzipped):
    // four with a call.refused audit event (seq 2 to 5, after a key's creation at seq 1), one without.
    const refused = [0, 1, 2, 3, 4].map((i) =>
      refusedCall(seeded, keyIds[i] ?? "", plan.keys[i]?.dimensions ?? {}, NOW + i * 1_000),
    );
    await writeUsage(env.DB, seeded, refused);
    const audit = (seq: number, at: number, type: string, requestId: string | null) =>
      env.DB.prepare(
        `INSERT INTO audit_events (tenant_id, seq, at, type, actor_kind, actor_id, request_id, subject, data)
         VALUES (?1, ?2, ?3, ?4, 'key', ?5, ?6, NULL, '{}')`,
      ).bind(seeded, seq, at, type, keyIds[0], requestId);
    await env.DB.batch([
      audit(1, NOW - 60_000, "key.created", null),
      // Audit order differs from start order: the spread follows seq.
      ...[3, 1, 0, 2].map((r, i) => audit(2 + i, NOW, "call.refused", refused[r]?.requestId ?? null)),
    ]);

    const lines: string[] = [];
    const result = (await seed(db, { tenantId: seeded, plan, keyIds, chunkEvents: 700 }, (l) =>
      lines.push(l),
    )) as SeedResult;
    expect(result.generated).toBe(2_400);
    expect(result.refusals).toBe(4);
    expect(result.chunks).toBeGreaterThan(2);
    expect(lines.some((l) => l.includes("2,400 events"))).toBe(true);
    const helpers = await env.DB.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'bench_%'").all();
    expect(helpers.results).toEqual([]);

    // Whole packs of up to 100 events of one minute, JSON arrays (TEXT).
    const packs = await rows<PackRow>(
      `SELECT pack_id, bucket, part, first_at, last_at, n, nonce, typeof(body) AS kind, json_array_length(body) AS len
       FROM usage_packs WHERE tenant_id = ?1`,
      seeded,
    );
    expect(packs.reduce((s, p) => s + p.n, 0)).toBe(2_405);
    expect(new Set(packs.map((p) => p.pack_id)).size).toBe(packs.length);
    for (const p of packs) {
      expect(p).toMatchObject({ part: -1, nonce: 0, kind: "text", len: p.n });
      expect(p.pack_id).toMatch(/^seed-\d+-\d+-\d+$/);
      expect(p.n).toBeLessThanOrEqual(100);
      expect([Math.floor(p.first_at / BUCKET_MS), Math.floor(p.last_at / BUCKET_MS)]).toEqual([p.bucket, p.bucket]);
    }

    const events = await storedEvents(db, seeded);
    expect(events).toHaveLength(2_405);
    const generated = events.filter((e) => e.outcome !== "refused");
    expect(generated).toHaveLength(2_400);
    expect(new Set(events.map((e) => e.requestId)).size).toBe(2_405);
    expect(generated.every((e) => /^req_[a-z2-7]{21}$/.test(e.requestId) && e.tenantId === seeded)).toBe(true);
    expect(generated.every((e) => e.startedAt >= plan.startHour && e.startedAt < plan.endHour)).toBe(true);
    expect(generated.some((e) => e.costNanoUsd === null && e.price === null && e.outcome === "ok")).toBe(true);
    expect(generated.some((e) => e.outcome === "ok" && (e.costNanoUsd ?? 0) > 0 && e.price !== null)).toBe(true);
    expect(generated.some((e) => e.outcome === "upstream_error" && e.costNanoUsd === 0)).toBe(true);

    // The refused calls come back whole; those with an audit event moved into the window in seq
    // order (their audit events with them), the key's creation before the window.
    const byId = new Map(events.map((e) => [e.requestId, e]));
    const spread = [3, 1, 0, 2].map((r) => byId.get(refused[r]?.requestId ?? ""));
    for (const [i, e] of spread.entries()) {
      const r = refused[[3, 1, 0, 2][i] ?? 0];
      expect(e).toEqual({ ...r, startedAt: e?.startedAt });
      expect(e?.startedAt).toBeGreaterThanOrEqual(plan.startHour);
      expect(e?.startedAt).toBeLessThan(plan.endHour);
    }
    const times = spread.map((e) => e?.startedAt ?? 0);
    expect(times).toEqual([...times].sort((x, y) => x - y));
    expect(byId.get(refused[4]?.requestId ?? "")).toEqual(refused[4]);
    const trail = await rows<{ seq: number; at: number }>(
      "SELECT seq, at FROM audit_events WHERE tenant_id = ?1 ORDER BY seq",
      seeded,
    );
    expect(trail).toEqual([
      { seq: 1, at: plan.startHour - DAY_MS + 1_000 },
      ...times.map((at, i) => ({ seq: 2 + i, at })),
    ]);

    // The same calls through the consumer, in queue-sized batches, under another tenant.
    const asConsumed = events.map((e) => ({ ...e, tenantId: consumed }));
    for (let i = 0; i < asConsumed.length; i += 100) await writeUsage(env.DB, consumed, asConsumed.slice(i, i + 100));
    expect(await storedEvents(db, consumed)).toEqual(asConsumed);

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
    expect(sums.events[0]?.requests).toBe("2405");
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
    expect(sums.refusedAudit).toBe(4);
    // The consumer's packs are gzipped: the check, which sums TEXT bodies in SQL, refuses them.
    await expect(check(db, { tenantId: consumed }, () => undefined)).rejects.toThrow(/gzipped/);
  });

  it("refuses to seed an organisation that already has usage", async () => {
    const tenantId = newId();
    const plan = dataPlan({ events: 100, days: 1, keys: 3, now: NOW });
    const keyIds = plan.keys.map(() => newId());
    await seed(db, { tenantId, plan, keyIds, chunkEvents: 10_000 }, () => undefined);
    await expect(seed(db, { tenantId, plan, keyIds, chunkEvents: 10_000 }, () => undefined)).rejects.toThrow(
      /already has 100 usage events/,
    );
    // Calls other than refused ones that the consumer stored (gzipped) count as well.
    const other = newId();
    const call = { ...refusedCall(other, keyIds[0] ?? "", {}, NOW), outcome: "ok" as const, status: 200 };
    await writeUsage(env.DB, other, [call]);
    await expect(seed(db, { tenantId: other, plan, keyIds, chunkEvents: 10_000 }, () => undefined)).rejects.toThrow(
      /already has 1 usage events/,
    );
  });
});
