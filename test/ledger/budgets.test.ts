// Budgets through the gateway: a blocking budget refuses a call whose worst case does not fit,
// before any upstream call; responses say what is left; the ledger's spent equals the events'.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eventsOf, newTenant, testTag, upstreamCalls, waitForEvent, waitForEventCount } from "../helpers.ts";
import {
  auditEvents,
  budgetStatus,
  chat,
  createBudget,
  nano,
  settledStatus,
  untilLaterAudit,
  usdOf,
  waitFor,
} from "./support.ts";

const REMAINING = "x-outlay-budget-remaining-";

describe("budgets", () => {
  it("refuses a call whose worst case does not fit, in the provider's shape, without calling upstream", async () => {
    const tenant = await newTenant();
    const id = await createBudget(tenant, { limit_usd: "0.0001" });
    const tag = testTag();
    const res = await chat(tenant, { maxTokens: 1000, headers: tag.headers });
    const body = (await res.json()) as { error: { code: string; message: string; type: string } };
    expect(res.status).toBe(402);
    expect(res.headers.get("x-outlay-refusal")).toBe("budget_exceeded");
    expect(res.headers.get("x-outlay-refusal-rule")).toBe(id);
    expect(body.error.code).toBe("budget_exceeded");
    expect(body.error.message).toContain('Budget "test budget"');
    const requestId = res.headers.get("x-outlay-request-id") ?? "";
    const event = await waitForEvent(tenant.tenantId, requestId);
    expect(event.outcome).toBe("refused");
    expect(event.status).toBe(402);
    expect(await upstreamCalls(tag.id)).toEqual([]);
    // A smaller call still fits, and reaches the upstream under its own test id.
    const smallTag = testTag();
    const small = await chat(tenant, { maxTokens: 10, headers: smallTag.headers });
    await small.text();
    expect(small.status).toBe(200);
    expect(await upstreamCalls(smallTag.id)).toHaveLength(1);
  });

  it("releases the hold when the upstream cannot be reached, and records the call once", async () => {
    const tenant = await newTenant();
    const id = await createBudget(tenant, { limit_usd: "1" });
    const provider = (base_url: string) =>
      tenant.api("/providers/openai", { method: "PUT", json: { api_key: "demo-openai-credential-0000", base_url } });
    // Nothing listens on port 1 of the loopback address: the connection is refused.
    expect((await provider("http://127.0.0.1:1/openai/v1")).status).toBe(200);
    const res = await chat(tenant, { maxTokens: 1000 });
    const body = (await res.json()) as { error: { code: string; type: string } };
    expect(res.status).toBe(502);
    expect(body.error).toMatchObject({ code: "upstream_unreachable", type: "server_error" });
    const requestId = res.headers.get("x-outlay-request-id") ?? "";
    // Admitted (a hold was taken: the budget covers the worst case), then released with nothing spent.
    const event = await waitForEvent(tenant.tenantId, requestId);
    expect(event).toMatchObject({ outcome: "upstream_unreachable", status: 502, input_tokens: 0, output_tokens: 0 });
    expect(BigInt(event.cost_nano_usd ?? 0)).toBe(0n);
    const status = await settledStatus(tenant, id);
    expect(nano(status.spent_usd)).toBe(0n);
    expect(await env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenant.tenantId)).openHolds()).toEqual([]);
    // One event for it: a later call's event is stored after it, and it is still the only one.
    expect((await provider(`${env.UPSTREAM_URL}/openai/v1`)).status).toBe(200);
    const later = await chat(tenant, { maxTokens: 10 });
    await later.text();
    expect(later.status).toBe(200);
    await waitForEvent(tenant.tenantId, later.headers.get("x-outlay-request-id") ?? "");
    expect((await eventsOf(tenant.tenantId)).filter((e) => e.request_id === requestId)).toHaveLength(1);
    expect((await eventsOf(tenant.tenantId)).map((e) => e.outcome)).toEqual(["upstream_unreachable", "ok"]);
  });

  it("says what is left after the hold, and settles the hold to the actual cost", async () => {
    const tenant = await newTenant();
    const id = await createBudget(tenant, { limit_usd: "1" });
    const res = await chat(tenant, { maxTokens: 200 });
    await res.text();
    expect(res.status).toBe(200);
    const remaining = nano(res.headers.get(`${REMAINING}${id}`) ?? "");
    const hold = nano("1") - remaining;
    // Worst case: 200 output tokens at $0.60/M plus the prompt estimate at $0.15/M.
    expect(hold).toBeGreaterThanOrEqual(120_000n);
    expect(hold).toBeLessThan(130_000n);
    const event = await waitForEvent(tenant.tenantId, res.headers.get("x-outlay-request-id") ?? "");
    const status = await settledStatus(tenant, id);
    expect(nano(status.spent_usd)).toBe(BigInt(event.cost_nano_usd ?? -1));
    expect(nano(status.remaining_usd)).toBe(nano("1") - BigInt(event.cost_nano_usd ?? 0));
  });

  it("counts only the calls its scope covers: key, model glob, dimension, combined", async () => {
    const tenant = await newTenant();
    const team = await createBudget(tenant, {
      limit_usd: "5",
      scope: { dimensions: { team: "search" }, model: "gpt-4o*" },
    });
    const key = await createBudget(tenant, { limit_usd: "5", scope: { key_id: tenant.keyId } });
    const claude = await createBudget(tenant, { limit_usd: "5", scope: { provider: "anthropic" } });
    const search = await chat(tenant, { headers: { "x-outlay-dimension-team": "search" } });
    await search.text();
    expect(search.headers.get(`${REMAINING}${team}`)).not.toBeNull();
    expect(search.headers.get(`${REMAINING}${key}`)).not.toBeNull();
    expect(search.headers.get(`${REMAINING}${claude}`)).toBeNull();
    const ads = await chat(tenant, { headers: { "x-outlay-dimension-team": "ads" } });
    await ads.text();
    expect(ads.headers.get(`${REMAINING}${team}`)).toBeNull();
    const other = await chat(tenant, { model: "gpt-3.5-turbo", headers: { "x-outlay-dimension-team": "search" } });
    await other.text();
    expect(other.headers.get(`${REMAINING}${team}`)).toBeNull();
    await waitForEventCount(tenant.tenantId, 3);
    const events = await eventsOf(tenant.tenantId);
    const searchEvent = events.find((e) => e.request_id === search.headers.get("x-outlay-request-id"));
    expect(nano((await settledStatus(tenant, team)).spent_usd)).toBe(BigInt(searchEvent?.cost_nano_usd ?? -1));
    const all = events.reduce((sum, e) => sum + BigInt(e.cost_nano_usd ?? 0), 0n);
    expect(nano((await settledStatus(tenant, key)).spent_usd)).toBe(all);
    expect(nano((await budgetStatus(tenant, claude)).spent_usd)).toBe(0n);
  });

  it("alert budgets never refuse; each threshold is announced once per window", async () => {
    const tenant = await newTenant();
    // About three calls' actual cost (24 output tokens at $0.60/M plus a short prompt).
    const id = await createBudget(tenant, { limit_usd: "0.00005", mode: "alert", thresholds: [10, 50, 100] });
    for (let i = 0; i < 6; i++) {
      const res = await chat(tenant, { maxTokens: 1000 });
      await res.text();
      expect(res.status).toBe(200);
      expect(nano(res.headers.get(`${REMAINING}${id}`) ?? "0")).toBeLessThan(0n);
    }
    await settledStatus(tenant, id);
    const crossings = await waitFor(async () => {
      const events = await auditEvents(tenant, "budget.threshold");
      return events.length >= 3 ? events : null;
    }, "three threshold events");
    await untilLaterAudit(tenant);
    const again = await auditEvents(tenant, "budget.threshold");
    expect(again.length).toBe(3);
    expect(crossings.map((e) => Number(e.data.percent)).sort((x, y) => x - y)).toEqual([10, 50, 100]);
    expect(crossings.every((e) => e.subject === id)).toBe(true);
  });

  it("refuses an unpriced model under a blocking budget and meters it under an alert budget", async () => {
    const blocking = await newTenant();
    await createBudget(blocking, { limit_usd: "10" });
    const refused = await chat(blocking, { model: "house-model-7b" });
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(refused.status).toBe(403);
    expect(body.error.code).toBe("policy_denied");
    expect(body.error.message).toContain("no known price");

    const alerting = await newTenant();
    await createBudget(alerting, { limit_usd: "10", mode: "alert" });
    const admitted = await chat(alerting, { model: "house-model-7b" });
    await admitted.text();
    expect(admitted.status).toBe(200);
  });

  it("200 concurrent calls against a budget that fits 20: exactly 20 admitted, never overspent", async () => {
    const tenant = await newTenant();
    const call = () =>
      chat(tenant, { maxTokens: 1000, headers: { "x-demo-output-tokens": "1000", "x-demo-delay-ms": "200" } });
    // The worst case of one call, read from the remaining-budget header under a large budget.
    const probeBudget = await createBudget(tenant, { limit_usd: "1000" });
    const probe = await call();
    await probe.text();
    const hold = nano("1000") - nano(probe.headers.get(`${REMAINING}${probeBudget}`) ?? "");
    await settledStatus(tenant, probeBudget);
    expect((await tenant.api(`/budgets/${probeBudget}`, { method: "DELETE" })).status).toBe(204);

    const limit = hold * 20n + hold / 2n;
    const id = await createBudget(tenant, { limit_usd: usdOf(limit) });
    const responses = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const res = await call();
        await res.text();
        return res;
      }),
    );
    const admitted = responses.filter((r) => r.status === 200);
    const refused = responses.filter((r) => r.status === 402);
    expect(admitted.length).toBe(20);
    expect(refused.length).toBe(180);
    const status = await settledStatus(tenant, id);
    expect(nano(status.spent_usd)).toBeLessThanOrEqual(limit);
    const events = await waitForEventCount(tenant.tenantId, 201);
    const admittedIds = new Set(admitted.map((r) => r.headers.get("x-outlay-request-id")));
    const spent = events
      .filter((e) => admittedIds.has(e.request_id))
      .reduce((sum, e) => sum + BigInt(e.cost_nano_usd ?? 0), 0n);
    expect(nano(status.spent_usd)).toBe(spent);
  });
});
