// The rollup query builder (workers/store/usage.ts) against real D1 rows written by the usage
// consumer's own writeUsage: groups, filters, the null group of a dimension, local days in zones
// with DST and half-hour offsets, exact costs; and the API's filters built on it.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../shared/ids.ts";
import { tenantDb } from "../../workers/store/tenant-db.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import {
  dimensionNames,
  localDaySql,
  queryRollups,
  rollupParts,
  rollupSql,
  topDimensionValues,
  totalRollups,
} from "../../workers/store/usage.ts";
import { rollupProblem, type UsageRow } from "../../shared/usage-query.ts";
import { dayShifts, hoursOf, localDate, offsetSegments } from "../../shared/zoned-time.ts";
import { writeUsage } from "../../workers/ingest/usage-consumer.ts";
import { newTenant } from "../helpers.ts";
import { usageEvent } from "../web/usage-support.ts";

const HOUR = 3_600_000;

function event(tenantId: string, startedAt: number, over: Partial<UsageEvent> = {}): UsageEvent {
  return usageEvent(tenantId, startedAt, {
    usage: { inputTokens: 10, cachedInputTokens: 2, cacheWriteTokens: 0, outputTokens: 5, reasoningTokens: 1 },
    costNanoUsd: 1_000_000_001,
    ...over,
  });
}

async function seeded(events: (tenantId: string) => UsageEvent[]) {
  const tenantId = newId();
  await writeUsage(env.DB, tenantId, events(tenantId));
  return tenantDb(env.DB, tenantId);
}

const T0 = Date.UTC(2026, 9, 1, 0, 30);

/** Zones whose days are not UTC days: both sides of UTC, DST, :30 and :45 offsets, +14 and -11. */
const ZONES = [
  "UTC",
  "Europe/London",
  "America/Los_Angeles",
  "America/New_York",
  "America/St_Johns",
  "Asia/Kolkata",
  "Asia/Tokyo",
  "Pacific/Chatham",
  "Pacific/Kiritimati",
  "Pacific/Pago_Pago",
];

describe("offsets and local days", () => {
  it("finds the hour a zone changes offset", () => {
    // New York springs forward on 2026-03-08 at 07:00 UTC and falls back on 2026-11-01 at 06:00 UTC.
    const spring = offsetSegments("America/New_York", Date.UTC(2026, 2, 1), Date.UTC(2026, 2, 20));
    expect(spring).toEqual([
      { start: Date.UTC(2026, 2, 1), offset: -5 * HOUR },
      { start: Date.UTC(2026, 2, 8, 7), offset: -4 * HOUR },
    ]);
    const year = offsetSegments("America/New_York", Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1));
    expect(year.map((s) => new Date(s.start).toISOString())).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-03-08T07:00:00.000Z",
      "2026-11-01T06:00:00.000Z",
    ]);
    expect(offsetSegments("Asia/Kolkata", Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1))).toEqual([
      { start: Date.UTC(2026, 0, 1), offset: 5.5 * HOUR },
    ]);
    expect(localDaySql("UTC", 0, Date.UTC(2027, 0, 1))).toBe("(hour / 86400000) * 86400000");
  });

  it("puts each hour in the local day its start falls in, across a DST change", async () => {
    // One call at every UTC hour from 2026-03-08 00:00 to 2026-03-09 06:00 (31 hours).
    const start = Date.UTC(2026, 2, 8);
    const db = await seeded((t) => Array.from({ length: 31 }, (_, i) => event(t, start + i * HOUR + 60_000)));
    const rows = await queryRollups(db, {
      from: start,
      to: start + 31 * HOUR,
      groups: [{ kind: "day" }],
      timeZone: "America/New_York",
      order: "time",
    });
    // Mar 7 (EST, until 05:00 UTC): 5 hours; Mar 8 is 23 hours long; Mar 9 from 04:00 UTC: 3.
    expect(rows.map((r) => [new Date(Number(r.values[0])).toISOString().slice(0, 10), r.requests])).toEqual([
      ["2026-03-07", 5],
      ["2026-03-08", 23],
      ["2026-03-09", 3],
    ]);
    const utc = await queryRollups(db, {
      from: start,
      to: start + 31 * HOUR,
      groups: [{ kind: "day" }],
      order: "time",
    });
    expect(utc.map((r) => r.requests)).toEqual([24, 7]);
  });

  it("gives a :30 zone's hour to the day its start falls in", async () => {
    // 18:00 UTC is 23:30 in Kolkata (Oct 1); 19:00 UTC is 00:30 (Oct 2).
    const db = await seeded((t) => [
      event(t, Date.UTC(2026, 9, 1, 18, 10)),
      event(t, Date.UTC(2026, 9, 1, 18, 50)),
      event(t, Date.UTC(2026, 9, 1, 19, 5)),
    ]);
    const rows = await queryRollups(db, {
      from: Date.UTC(2026, 9, 1),
      to: Date.UTC(2026, 9, 3),
      groups: [{ kind: "day" }],
      timeZone: "Asia/Kolkata",
      order: "time",
    });
    expect(rows.map((r) => [new Date(Number(r.values[0])).toISOString().slice(0, 10), r.requests])).toEqual([
      ["2026-10-01", 2],
      ["2026-10-02", 1],
    ]);
  });
});

describe("groups and filters", () => {
  const events = (t: string) => [
    event(t, T0, { dimensions: { team: "search", feature: "a" } }),
    event(t, T0 + HOUR, { dimensions: { team: "search" }, keyId: "bbbbbbbbbbbb" }),
    event(t, T0 + 25 * HOUR, { dimensions: { team: "ads" }, model: "gpt-4o-mini", costNanoUsd: 3 }),
    event(t, T0 + 26 * HOUR, { model: "mystery", costNanoUsd: null, provider: "groq" }),
  ];
  const range = { from: Date.UTC(2026, 9, 1), to: Date.UTC(2026, 9, 3) };

  it("sums exactly, and filters by provider, model and key", async () => {
    const db = await seeded(events);
    const all = await totalRollups(db, range);
    expect(all).toEqual({
      requests: 4,
      inputTokens: 40,
      cachedInputTokens: 8,
      cacheWriteTokens: 0,
      outputTokens: 20,
      reasoningTokens: 4,
      costNano: 2_000_000_005n,
      unpricedRequests: 1,
    });
    expect((await totalRollups(db, { ...range, filters: { providers: ["groq"] } })).requests).toBe(1);
    expect((await totalRollups(db, { ...range, filters: { models: ["gpt-4o", "gpt-4o-mini"] } })).costNano).toBe(
      2_000_000_005n,
    );
    expect((await totalRollups(db, { ...range, filters: { keys: ["bbbbbbbbbbbb"] } })).requests).toBe(1);
    expect((await totalRollups(db, { ...range, filters: { models: ["nothing"] } })).requests).toBe(0);
  });

  it("groups by a dimension with a null group, or filters to its values", async () => {
    const db = await seeded(events);
    const byTeam = await queryRollups(db, { ...range, groups: [{ kind: "dimension", dim: "team" }] });
    expect(byTeam.map((r) => [r.values[0], r.requests, r.costNano])).toEqual([
      ["search", 2, 2_000_000_002n],
      ["ads", 1, 3n],
      [null, 1, 0n],
    ]);
    const search = await queryRollups(db, {
      ...range,
      groups: [{ kind: "model" }],
      filters: { dimension: { name: "team", values: ["search"] } },
    });
    expect(search.map((r) => [r.values[0], r.requests])).toEqual([["gpt-4o", 2]]);
    const hasTeam = await totalRollups(db, { ...range, filters: { dimension: { name: "team" } } });
    expect(hasTeam.requests).toBe(3);
    const grouped = await queryRollups(db, {
      ...range,
      groups: [{ kind: "dimension", dim: "team" }],
      filters: { dimension: { name: "team", values: ["ads", "search"] } },
    });
    expect(grouped.map((r) => r.values[0])).toEqual(["search", "ads"]);
  });

  it("orders by time, limits, and keeps only unpriced groups when asked", async () => {
    const db = await seeded(events);
    const byHour = await queryRollups(db, { ...range, groups: [{ kind: "hour" }], order: "time", limit: 3 });
    expect(byHour.map((r) => r.values[0])).toEqual([T0 - 30 * 60_000, T0 + 30 * 60_000, T0 + 24.5 * HOUR]);
    const unpriced = await queryRollups(db, {
      ...range,
      groups: [{ kind: "provider" }, { kind: "model" }],
      unpricedOnly: true,
    });
    expect(unpriced.map((r) => [r.values[0], r.values[1], r.unpricedRequests])).toEqual([["groq", "mystery", 1]]);
  });

  it("refuses what the rollups cannot answer: two dimensions at once", () => {
    const two = [
      { kind: "dimension", dim: "team" },
      { kind: "dimension", dim: "feature" },
    ] as const;
    expect(rollupProblem(two)).toMatch(/one dimension at a time/);
    expect(rollupProblem([{ kind: "dimension", dim: "team" }], { dimension: { name: "feature" } })).not.toBeNull();
    expect(rollupProblem([{ kind: "dimension", dim: "team" }], { dimension: { name: "team" } })).toBeNull();
    expect(() => rollupSql({ ...range, groups: two })).toThrow(RangeError);
  });

  it("binds every value: filter text never becomes SQL", async () => {
    const db = await seeded(events);
    const hostile = "x') OR 1=1 --";
    const sql = rollupSql({
      ...range,
      groups: [{ kind: "model" }],
      filters: { models: [hostile], dimension: { name: "team", values: [hostile] } },
    });
    expect(sql.sql).not.toContain(hostile);
    expect(await queryRollups(db, { ...range, groups: [{ kind: "model" }], filters: { models: [hostile] } })).toEqual(
      [],
    );
  });

  it("lists the dimension names and the top dimension values", async () => {
    const db = await seeded(events);
    expect(await dimensionNames(db)).toEqual(["feature", "team"]);
    const top = await topDimensionValues(db, range.from, range.to, 2);
    expect(top.map((d) => [d.name, d.value, d.costNano])).toEqual([
      ["team", "search", 2_000_000_002n],
      ["feature", "a", 1_000_000_001n],
    ]);
    expect(await dimensionNames(tenantDb(env.DB, newId()))).toEqual([]);
  });
});

describe("GET /api/v1/usage filters", () => {
  it("filters by provider, model, key and dimension, in the rollups and the raw events alike", async () => {
    const t = await newTenant({ providers: false });
    await writeUsage(env.DB, t.tenantId, [
      event(t.tenantId, T0, { dimensions: { team: "search", feature: "a" } }),
      event(t.tenantId, T0 + HOUR, { dimensions: { team: "search", feature: "b" }, keyId: "bbbbbbbbbbbb" }),
      event(t.tenantId, T0 + 25 * HOUR, { dimensions: { team: "ads" }, model: "gpt-4o-mini", costNanoUsd: 3 }),
    ]);
    const rows = async (query: string) => {
      const res = await t.api(`/usage?from=2026-10-01&to=2026-10-03&${query}`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { rows: Record<string, unknown>[] }).rows;
    };
    expect((await rows("model=gpt-4o-mini"))[0]?.requests).toBe(1);
    expect((await rows("provider=openai,groq&group_by=model")).length).toBe(2);
    expect((await rows("key=bbbbbbbbbbbb"))[0]?.cost_usd).toBe("1.000000001");
    expect((await rows("dimension=team=search&group_by=dimension:team")).map((r) => r["dimension:team"])).toEqual([
      "search",
    ]);
    expect((await rows("dimension=team"))[0]?.requests).toBe(3);
    // Two dimensions: from the raw events, with the same filters.
    const raw = await rows("dimension=team=search&group_by=dimension:feature");
    expect(raw.map((r) => [r["dimension:feature"], r.requests])).toEqual([
      ["a", 1],
      ["b", 1],
    ]);
    const bad = await t.api("/usage?dimension=team=a&dimension=feature=b");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe("dimension");
  });
});

describe("daily and hourly rollups", () => {
  /** What the rollups must say, summed straight from the events. */
  function expected(events: UsageEvent[], from: number, to: number, key: (e: UsageEvent) => string | null) {
    const sums = new Map<string | null, { requests: number; costNano: bigint }>();
    for (const e of events) {
      if (e.startedAt < from || e.startedAt >= to) continue;
      const k = key(e);
      const s = sums.get(k) ?? { requests: 0, costNano: 0n };
      s.requests += 1;
      s.costNano += BigInt(e.costNanoUsd ?? 0);
      sums.set(k, s);
    }
    return [...sums.entries()].map(([k, s]) => ({ k, ...s })).sort((a, b) => String(a.k).localeCompare(String(b.k)));
  }

  it("answer every hour-aligned range exactly, reading whole UTC days from the daily rows", async () => {
    // 9 days of calls every 5 hours + 7 minutes, with changing models and a team on some.
    const start = Date.UTC(2026, 9, 3, 0, 0);
    const make = (tenantId: string) =>
      Array.from({ length: 44 }, (_, i) =>
        event(tenantId, start + i * (5 * HOUR + 7 * 60_000), {
          model: i % 3 === 0 ? "gpt-4o" : "gpt-4o-mini",
          costNanoUsd: 1_000_000 * (i + 1),
          dimensions: i % 2 === 0 ? { team: i % 4 === 0 ? "search" : "ads" } : {},
        }),
      );
    const tenantId = newId();
    const events = make(tenantId);
    await writeUsage(env.DB, tenantId, events);
    const db = tenantDb(env.DB, tenantId);
    const ranges = [
      [start, start + 9 * 24 * HOUR], // whole days only
      [start + 5 * HOUR, start + 7 * 24 * HOUR + 3 * HOUR], // hours at both ends
      [start + 30 * HOUR, start + 40 * HOUR], // inside one day: hourly only
      [start - 48 * HOUR, start + 100 * 24 * HOUR], // wider than the data
    ];
    for (const [from, to] of ranges as [number, number][]) {
      const byModel = await queryRollups(db, { from, to, groups: [{ kind: "model" }] });
      expect(
        byModel
          .map((r) => ({ k: r.values[0], requests: r.requests, costNano: r.costNano }))
          .sort((a, b) => String(a.k).localeCompare(String(b.k))),
      ).toEqual(expected(events, from, to, (e) => e.model));
      const byTeam = await queryRollups(db, { from, to, groups: [{ kind: "dimension", dim: "team" }] });
      expect(
        byTeam
          .map((r) => ({ k: r.values[0], requests: r.requests, costNano: r.costNano }))
          .sort((a, b) => String(a.k).localeCompare(String(b.k))),
      ).toEqual(expected(events, from, to, (e) => e.dimensions.team ?? null));
      const total = await totalRollups(db, { from, to });
      const all = expected(events, from, to, () => "all")[0];
      expect({ requests: total.requests, costNano: total.costNano }).toEqual({
        requests: all?.requests ?? 0,
        costNano: all?.costNano ?? 0n,
      });
      const top = await topDimensionValues(db, from, to, 10);
      expect(top.map((t) => ({ k: t.value, requests: t.requests })).sort((a, b) => a.k.localeCompare(b.k))).toEqual(
        expected(events, from, to, (e) => e.dimensions.team ?? null)
          .filter((x) => x.k !== null)
          .map((x) => ({ k: x.k, requests: x.requests })),
      );
    }
  });

  it("reads the daily rows only where they give the same answer", () => {
    const day = Date.UTC(2026, 9, 3);
    const parts = (q: Parameters<typeof rollupParts>[0]) => rollupParts(q).map((p) => [p.time, p.from, p.to]);
    expect(parts({ from: day + 5 * HOUR, to: day + 3 * 24 * HOUR + 2 * HOUR, groups: [{ kind: "model" }] })).toEqual([
      ["hour", day + 5 * HOUR, day + 24 * HOUR],
      ["day", day + 24 * HOUR, day + 3 * 24 * HOUR],
      ["hour", day + 3 * 24 * HOUR, day + 3 * 24 * HOUR + 2 * HOUR],
    ]);
    // Hours need every hour.
    const range = { from: day, to: day + 7 * 24 * HOUR };
    expect(parts({ ...range, groups: [{ kind: "hour" }] })).toEqual([["hour", range.from, range.to]]);
    // Local days in a zone that is not UTC: the daily rows, and the hours that belong to another local day.
    expect(parts({ ...range, groups: [{ kind: "day" }], timeZone: "America/New_York" })).toEqual([
      ["day", range.from, range.to],
      ["shift", range.from, range.to],
    ]);
    expect(parts({ ...range, groups: [{ kind: "model" }], timeZone: "America/New_York" })).toEqual([
      ["day", range.from, range.to],
    ]);
    expect(parts({ ...range, groups: [{ kind: "day" }], timeZone: "UTC" })).toEqual([["day", range.from, range.to]]);
    // London keeps UTC in winter: its days are UTC days then.
    const winter = { from: Date.UTC(2026, 11, 1), to: Date.UTC(2026, 11, 8) };
    expect(parts({ ...winter, groups: [{ kind: "day" }], timeZone: "Europe/London" })).toEqual([
      ["day", winter.from, winter.to],
    ]);
  });

  it("moves the fewer hours of each UTC day to their local day, across a DST change", () => {
    const iso = (ms: number) => new Date(ms).toISOString().slice(0, 13);
    const shifts = (tz: string, first: number, days: number) =>
      dayShifts(tz, first, first + days * 24 * HOUR).map((s) => [iso(s.from), iso(s.to), iso(s.day), iso(s.counted)]);
    // Los Angeles falls back on 2026-11-01 at 09:00 UTC: the UTC day's hours before 07:00 (PDT)
    // or 08:00 (PST) are the evening of the local day before.
    expect(shifts("America/Los_Angeles", Date.UTC(2026, 9, 31), 3)).toEqual([
      ["2026-10-31T00", "2026-10-31T07", "2026-10-30T00", "2026-10-31T00"],
      ["2026-11-01T00", "2026-11-01T07", "2026-10-31T00", "2026-11-01T00"],
      ["2026-11-02T00", "2026-11-02T08", "2026-11-01T00", "2026-11-02T00"],
    ]);
    // Tokyo (+9): the UTC day's last 9 hours are the next local morning.
    expect(shifts("Asia/Tokyo", Date.UTC(2026, 9, 31), 1)).toEqual([
      ["2026-10-31T15", "2026-11-01T00", "2026-11-01T00", "2026-10-31T00"],
    ]);
    // Kiritimati (+14): noon UTC is 02:00 the next local day, where the daily row counts; the
    // first 10 hours are the local afternoon of the UTC date.
    expect(shifts("Pacific/Kiritimati", Date.UTC(2026, 9, 31), 1)).toEqual([
      ["2026-10-31T00", "2026-10-31T10", "2026-10-31T00", "2026-11-01T00"],
    ]);
    expect(dayShifts("UTC", Date.UTC(2026, 9, 1), Date.UTC(2026, 10, 1))).toEqual([]);
    for (const tz of ZONES) {
      const all = dayShifts(tz, Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1));
      const perDay = new Map<number, number>();
      for (const s of all) {
        const utcDay = Math.floor(s.from / (24 * HOUR));
        perDay.set(utcDay, (perDay.get(utcDay) ?? 0) + (s.to - s.from) / HOUR);
      }
      expect(Math.max(0, ...perDay.values()), `${tz}: most hours moved in a UTC day`).toBeLessThanOrEqual(12);
    }
  });

  it("answers local days in any zone exactly from the daily rows and the shifted hours", async () => {
    // 12 days of calls every 97 minutes over Europe's and America's DST changes (Oct 25, Nov 1).
    const start = Date.UTC(2026, 9, 22, 3, 11);
    const tenantId = newId();
    const events = Array.from({ length: 180 }, (_, i) =>
      event(tenantId, start + i * 97 * 60_000, {
        model: i % 3 === 0 ? "gpt-4o" : "gpt-4o-mini",
        costNanoUsd: 1_000_000 * (i + 1),
        dimensions: i % 2 === 0 ? { team: i % 4 === 0 ? "search" : "ads" } : {},
      }),
    );
    await writeUsage(env.DB, tenantId, events);
    const db = tenantDb(env.DB, tenantId);
    const dayOf = (tz: string, e: UsageEvent) => localDate(tz, Math.floor(e.startedAt / HOUR) * HOUR);
    const joined = (values: readonly (string | number | null)[]) => values.map((v) => String(v)).join("|");
    const rowsOf = (rows: UsageRow[]) =>
      rows
        .map((r) => ({ k: joined(r.values), requests: r.requests, costNano: r.costNano }))
        .sort((a, b) => a.k.localeCompare(b.k));
    // The ranges are whole hours, so a call is in one exactly when its rollup hour is.
    const sums = (range: { from: number; to: number }, key: (e: UsageEvent) => (string | number | null)[]) =>
      expected(events, range.from, range.to, (e) => joined(key(e)));
    for (const tz of ZONES) {
      // Local days as the dashboard asks for them, and ranges that start and end mid-day.
      const ranges = [
        hoursOf(tz, localDate(tz, start), localDate(tz, start) + 12 * 24 * HOUR),
        hoursOf(tz, Date.UTC(2026, 9, 24), Date.UTC(2026, 10, 2)),
        { from: start - 5 * HOUR + 49 * 60_000, to: start + 9 * 24 * HOUR + 7 * HOUR },
      ].map((r) => ({ from: Math.floor(r.from / HOUR) * HOUR, to: Math.floor(r.to / HOUR) * HOUR }));
      for (const range of ranges) {
        const base = { ...range, timeZone: tz };
        const byDay = await queryRollups(db, { ...base, groups: [{ kind: "day" }] });
        expect(rowsOf(byDay), `${tz} by day`).toEqual(sums(range, (e) => [dayOf(tz, e)]));
        const byModelDay = await queryRollups(db, { ...base, groups: [{ kind: "model" }, { kind: "day" }] });
        expect(rowsOf(byModelDay), `${tz} by model, day`).toEqual(sums(range, (e) => [e.model, dayOf(tz, e)]));
        const byTeamDay = await queryRollups(db, {
          ...base,
          groups: [{ kind: "dimension", dim: "team" }, { kind: "day" }],
        });
        expect(rowsOf(byTeamDay), `${tz} by team, day`).toEqual(
          sums(range, (e) => [e.dimensions.team ?? null, dayOf(tz, e)]),
        );
        const searchByDay = await queryRollups(db, {
          ...base,
          groups: [{ kind: "day" }],
          filters: { dimension: { name: "team", values: ["search"] }, models: ["gpt-4o"] },
        });
        expect(rowsOf(searchByDay), `${tz} search on gpt-4o by day`).toEqual(
          sums(range, (e) =>
            e.dimensions.team === "search" && e.model === "gpt-4o" ? [dayOf(tz, e)] : ["none"],
          ).filter((x) => x.k !== "none"),
        );
        // Ordered by time, every local day once and in order.
        const ordered = await queryRollups(db, { ...base, groups: [{ kind: "day" }], order: "time" });
        const days = ordered.map((r) => Number(r.values[0]));
        expect(days, `${tz} ordered`).toEqual([...days].sort((a, b) => a - b));
      }
    }
  });
});
