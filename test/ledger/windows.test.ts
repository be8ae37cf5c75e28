// Budget windows at their edges, booked through the ledger with chosen times: a month that ends
// in the tenant's zone while UTC is already in the next, the 25-hour day of a DST change,
// rolling windows letting spend slide out, and thresholds firing once per window.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newTenant, type Tenant } from "../helpers.ts";
import { auditEvents, createBudget, untilLaterAudit, usageEvent, waitFor } from "./support.ts";

const ledgerOf = (t: Tenant) => env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(t.tenantId));
const at = (iso: string) => Date.parse(iso);

const spend = (t: Tenant, startedAt: number, costNanoUsd: number) => usageEvent(t, { startedAt, costNanoUsd });

async function spentAt(t: Tenant, budget: string, iso: string): Promise<bigint> {
  const status = await ledgerOf(t).budgetStatus({ id: budget, now: at(iso) });
  if (!status) throw new Error("no budget");
  return status.spentNano;
}

async function tenantIn(timeZone: string): Promise<Tenant> {
  const t = await newTenant();
  const res = await t.api("/settings", { method: "PATCH", json: { time_zone: timeZone } });
  expect(res.status).toBe(200);
  return t;
}

describe("budget windows at their edges", () => {
  it("a month ends at local midnight in the tenant's zone, not in UTC", async () => {
    const t = await tenantIn("America/New_York");
    const budget = await createBudget(t, { limit_usd: "1", window: "monthly" });
    // 23:30 on 31 January in New York is 04:30 on 1 February in UTC.
    await ledgerOf(t).settle({ events: [spend(t, at("2026-02-01T04:30:00Z"), 1000)], now: at("2026-02-01T04:30:01Z") });
    expect(await spentAt(t, budget, "2026-01-15T12:00:00Z")).toBe(1000n);
    expect(await spentAt(t, budget, "2026-02-01T04:59:59.999Z")).toBe(1000n);
    expect(await spentAt(t, budget, "2026-02-01T05:00:00Z")).toBe(0n);
    const status = await ledgerOf(t).budgetStatus({ id: budget, now: at("2026-01-20T00:00:00Z") });
    expect(status?.windowStart).toBe(at("2026-01-01T05:00:00Z"));
    expect(status?.windowEnd).toBe(at("2026-02-01T05:00:00Z"));
  });

  it("the day DST ends is 25 hours long and counts as one window", async () => {
    const t = await tenantIn("America/New_York");
    const budget = await createBudget(t, { limit_usd: "1", window: "daily" });
    await ledgerOf(t).settle({
      events: [spend(t, at("2026-11-01T04:30:00Z"), 100), spend(t, at("2026-11-02T04:30:00Z"), 200)],
      now: at("2026-11-02T04:30:01Z"),
    });
    // 00:30 EDT and 23:30 EST on 1 November: the same local day.
    expect(await spentAt(t, budget, "2026-11-01T12:00:00Z")).toBe(300n);
    expect(await spentAt(t, budget, "2026-11-01T03:59:59Z")).toBe(0n);
    expect(await spentAt(t, budget, "2026-11-02T05:00:00Z")).toBe(0n);
    const status = await ledgerOf(t).budgetStatus({ id: budget, now: at("2026-11-01T12:00:00Z") });
    expect((status?.windowEnd ?? 0) - (status?.windowStart ?? 0)).toBe(25 * 3_600_000);
  });

  it("weekly windows start on Monday in the tenant's zone", async () => {
    const t = await tenantIn("Europe/Berlin");
    const budget = await createBudget(t, { limit_usd: "1", window: "weekly" });
    // Sunday 29 March 2026 23:30 in Berlin (CEST) is still the week of Monday 23 March.
    await ledgerOf(t).settle({ events: [spend(t, at("2026-03-29T21:30:00Z"), 50)], now: at("2026-03-29T21:30:01Z") });
    expect(await spentAt(t, budget, "2026-03-23T00:00:00Z")).toBe(50n);
    expect(await spentAt(t, budget, "2026-03-29T22:00:00Z")).toBe(0n);
  });

  it("a rolling window lets spend slide out after its hours", async () => {
    const t = await newTenant();
    const budget = await createBudget(t, { limit_usd: "1", window: "rolling", rolling_hours: 2 });
    const t0 = at("2026-06-10T10:00:00Z");
    await ledgerOf(t).settle({ events: [spend(t, t0, 70)], now: t0 });
    await ledgerOf(t).settle({ events: [spend(t, t0 + 3_600_000, 30)], now: t0 + 3_600_000 });
    expect(await spentAt(t, budget, "2026-06-10T11:30:00Z")).toBe(100n);
    // Two-hour window in 2-minute buckets: the first spend leaves once its bucket is out.
    expect(await spentAt(t, budget, "2026-06-10T11:59:59Z")).toBe(100n);
    expect(await spentAt(t, budget, "2026-06-10T12:02:00Z")).toBe(30n);
    expect(await spentAt(t, budget, "2026-06-10T13:02:00Z")).toBe(0n);
  });

  it("a lifetime budget never resets", async () => {
    const t = await newTenant();
    const budget = await createBudget(t, { limit_usd: "1", window: "lifetime" });
    await ledgerOf(t).settle({ events: [spend(t, at("2020-01-01T00:00:00Z"), 5)], now: at("2020-01-01T00:00:00Z") });
    await ledgerOf(t).settle({ events: [spend(t, at("2026-01-01T00:00:00Z"), 7)], now: at("2026-01-01T00:00:00Z") });
    expect(await spentAt(t, budget, "2030-01-01T00:00:00Z")).toBe(12n);
  });

  it("each threshold fires exactly once per window, and again in the next window", async () => {
    const t = await tenantIn("Asia/Kolkata");
    // 1000 nano-USD a day; thresholds 50, 80, 100.
    const budget = await createBudget(t, { limit_usd: "0.000001", window: "daily" });
    const day1 = at("2026-03-10T06:00:00Z");
    const day2 = at("2026-03-11T06:00:00Z");
    const ledger = ledgerOf(t);
    await ledger.settle({ events: [spend(t, day1, 499)], now: day1 });
    await ledger.settle({ events: [spend(t, day1 + 1, 1), spend(t, day1 + 2, 1)], now: day1 + 2 }); // 501: crosses 50
    await ledger.settle({ events: [spend(t, day1 + 3, 400)], now: day1 + 3 }); // 901: crosses 80
    await ledger.settle({ events: [spend(t, day1 + 4, 99)], now: day1 + 4 }); // 1000: crosses 100
    await ledger.settle({ events: [spend(t, day1 + 5, 500)], now: day1 + 5 }); // over: nothing new
    await ledger.settle({ events: [spend(t, day2, 600)], now: day2 }); // next day: 50 again
    const fired = await waitFor(async () => {
      const events = await auditEvents(t, "budget.threshold");
      return events.length >= 4 ? events : null;
    }, "four threshold events");
    await untilLaterAudit(t);
    expect((await auditEvents(t, "budget.threshold")).length).toBe(4);
    expect(fired.map((e) => e.data.percent)).toEqual([50, 80, 100, 50]);
    expect(fired.every((e) => e.subject === budget)).toBe(true);
    expect(fired.map((e) => e.data.windowKey)).toEqual([
      at("2026-03-09T18:30:00Z"),
      at("2026-03-09T18:30:00Z"),
      at("2026-03-09T18:30:00Z"),
      at("2026-03-10T18:30:00Z"),
    ]);
  });
});
