// Lease mode: after the first call the isolate holds a lease and admits most calls without a
// ledger round trip (x-outlay-admission: lease); spent still equals the usage events; budgets
// are never exceeded; a revoked key and a new policy reach the isolate within the lease's time
// to live; switching back to strict drops the lease.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { LEASE_TTL_MS } from "../../workers/ledger/leases.ts";
import { newTenant, waitForEvent, waitForEventCount, type Tenant } from "../helpers.ts";
import { budgetStatus, chat, createBudget, nano, usdOf, waitFor } from "./support.ts";

const ADMISSION = "x-outlay-admission";
/** Room for a loaded test machine on top of a promised time (the lease's time to live). */
const SLACK_MS = 1_500;

async function leaseTenant(): Promise<Tenant> {
  const tenant = await newTenant();
  const res = await tenant.api("/settings", { method: "PATCH", json: { admission_mode: "lease" } });
  expect(res.status).toBe(200);
  return tenant;
}

async function callOnce(tenant: Tenant, options: Parameters<typeof chat>[1] = {}) {
  const res = await chat(tenant, options);
  await res.text();
  return res;
}

/** Calls until one is admitted from the lease (the first renewal runs after the first call). */
async function untilLeased(tenant: Tenant): Promise<void> {
  await waitFor(async () => ((await callOnce(tenant)).headers.get(ADMISSION) === "lease" ? true : null), "a lease");
}

describe("lease mode", () => {
  it("admits most calls from the lease, and spent equals the usage events", async () => {
    const tenant = await leaseTenant();
    const budget = await createBudget(tenant, { limit_usd: "50" });
    const first = await callOnce(tenant);
    expect(first.status).toBe(200);
    expect(first.headers.get(ADMISSION)).toBeNull();
    await untilLeased(tenant);
    let leased = 0;
    for (let i = 0; i < 100; i++) {
      const res = await callOnce(tenant);
      expect(res.status).toBe(200);
      if (res.headers.get(ADMISSION) === "lease") leased += 1;
      expect(res.headers.get(`x-outlay-budget-remaining-${budget}`)).not.toBeNull();
    }
    expect(leased).toBeGreaterThanOrEqual(95);
    const events = await waitForEventCount(tenant.tenantId, 102, 20_000);
    const total = events.reduce((sum, e) => sum + BigInt(e.cost_nano_usd ?? 0), 0n);
    // Reported with the next renewal, at most LEASE_RENEW_MS after the last call.
    const spent = await waitFor(async () => {
      const status = await budgetStatus(tenant, budget);
      return nano(status.spent_usd) === total ? status : null;
    }, "lease calls booked");
    expect(nano(spent.spent_usd)).toBe(total);
    const audit = await waitFor(async () => {
      const res = await tenant.api("/audit?type=lease.granted&limit=5");
      const body = (await res.json()) as { events: unknown[] };
      return body.events.length > 0 ? body.events : null;
    }, "a lease.granted audit event");
    expect(audit.length).toBeGreaterThan(0);
  });

  it("never spends more than a budget under 200 concurrent calls", async () => {
    const tenant = await leaseTenant();
    const call = () =>
      callOnce(tenant, { maxTokens: 1000, headers: { "x-demo-output-tokens": "1000", "x-demo-delay-ms": "100" } });
    const probeBudget = await createBudget(tenant, { limit_usd: "1000" });
    const probe = await call();
    const hold = nano("1000") - nano(probe.headers.get(`x-outlay-budget-remaining-${probeBudget}`) ?? "");
    expect((await tenant.api(`/budgets/${probeBudget}`, { method: "DELETE" })).status).toBe(204);
    const limit = hold * 20n + hold / 2n;
    const id = await createBudget(tenant, { limit_usd: usdOf(limit) });
    // A new budget reaches a leased isolate with its next lease: wait for a leased call that
    // reports it. Every call from here on counts against the budget.
    const counted: Response[] = [];
    await waitFor(async () => {
      const res = await callOnce(tenant);
      counted.push(res);
      return res.headers.get(ADMISSION) === "lease" && res.headers.get(`x-outlay-budget-remaining-${id}`) !== null
        ? true
        : null;
    }, "a lease that carries the new budget");
    const responses = await Promise.all(Array.from({ length: 200 }, () => call()));
    const admitted = responses.filter((r) => r.status === 200).length;
    expect(admitted).toBeLessThanOrEqual(20);
    expect(admitted).toBeGreaterThanOrEqual(15);
    // Read the budget once every call is booked: its event is in, and the ledger's spent equals
    // the events' cost (reported with the next renewal), not after a fixed wait.
    let total = 0n;
    for (const res of [...counted, ...responses]) {
      const event = await waitForEvent(tenant.tenantId, res.headers.get("x-outlay-request-id") ?? "");
      total += BigInt(event.cost_nano_usd ?? 0);
    }
    const status = await waitFor(async () => {
      const current = await budgetStatus(tenant, id);
      return nano(current.spent_usd) === total ? current : null;
    }, "every call booked");
    expect(nano(status.spent_usd)).toBeLessThanOrEqual(limit);
  });

  it(`a revoked key is refused within the lease's time to live (${LEASE_TTL_MS} ms)`, async () => {
    const tenant = await leaseTenant();
    await callOnce(tenant);
    await untilLeased(tenant);
    const revokedAt = Date.now();
    expect((await tenant.api(`/keys/${tenant.keyId}/revoke`, { method: "POST" })).status).toBe(200);
    const refusedAt = await waitFor(
      async () => ((await callOnce(tenant)).status === 401 ? Date.now() : null),
      "the revoked key refused",
      LEASE_TTL_MS * 5,
    );
    expect(refusedAt - revokedAt).toBeLessThanOrEqual(LEASE_TTL_MS + SLACK_MS);
  });

  it("a new policy reaches the isolate within the lease's time to live, and strict mode drops the lease", async () => {
    const tenant = await leaseTenant();
    await callOnce(tenant);
    await untilLeased(tenant);
    const changedAt = Date.now();
    const policy = await tenant.api("/policies", {
      method: "POST",
      json: { name: "No mini", deny_models: ["gpt-4o-mini"] },
    });
    expect(policy.status).toBe(201);
    const deniedAt = await waitFor(
      async () => ((await callOnce(tenant)).status === 403 ? Date.now() : null),
      "the new policy applied",
      LEASE_TTL_MS * 5,
    );
    expect(deniedAt - changedAt).toBeLessThanOrEqual(LEASE_TTL_MS + SLACK_MS);

    const strictAt = Date.now();
    expect((await tenant.api("/settings", { method: "PATCH", json: { admission_mode: "strict" } })).status).toBe(200);
    const other = await waitFor(
      async () => {
        const res = await callOnce(tenant, { model: "gpt-4o" });
        return res.headers.get(ADMISSION) === null ? res : null;
      },
      "a call admitted without the lease",
      LEASE_TTL_MS * 5,
    );
    expect(Date.now() - strictAt).toBeLessThanOrEqual(LEASE_TTL_MS + SLACK_MS);
    expect(other.status).toBe(200);
    expect(other.headers.get(ADMISSION)).toBeNull();
    const again = await callOnce(tenant, { model: "gpt-4o" });
    expect(again.headers.get(ADMISSION)).toBeNull();
  });

  it("keeps the ledger's books whole: lease holds cover what the isolate may still spend", async () => {
    const tenant = await leaseTenant();
    const budget = await createBudget(tenant, { limit_usd: "8" });
    await callOnce(tenant);
    await untilLeased(tenant);
    const status = await budgetStatus(tenant, budget);
    // The free slice is an eighth of what was left, held by the ledger for the lease.
    expect(nano(status.held_usd)).toBeGreaterThan(nano("0.9"));
    expect(nano(status.held_usd)).toBeLessThanOrEqual(nano("1.01"));
    const holds = await env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenant.tenantId)).openHolds();
    expect(holds.some((h) => h.requestId.startsWith("lease:"))).toBe(true);
  });
});
