// Budgets, policies and rate limits through the management API: the five routes of each kind,
// validation errors that name the field, tenant isolation of rule ids and keys, the audit
// route (rule changes by the admin, in seq order, paged and filtered) and the time zone setting.
import { describe, expect, it } from "vitest";
import { newTenant, worker, type Tenant } from "../helpers.ts";

type Json = Record<string, unknown>;
type Init = RequestInit & { json?: unknown };

type AuditEvent = {
  seq: number;
  at: string;
  type: string;
  actor: { kind: string; id: string | null };
  request_id: string | null;
  subject: string | null;
  data: Json;
};
type AuditPage = { events: AuditEvent[]; next_after: number | null };

const ID = /^[a-z2-7]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ZERO = "0.000000000";

async function json<T = Json>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

/** Creates a rule and returns its view (a setup step: anything but 201 is an error). */
async function create(t: Tenant, path: string, body: unknown): Promise<Json & { id: string }> {
  const res = await t.api(path, { method: "POST", json: body });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as Json & { id: string };
}

type Problem = { status: number; code: unknown; field: unknown; message: unknown };

/** A management API error reduced to what the contract promises: status, code, field, a message. */
async function problem(res: Response): Promise<Problem> {
  const text = await res.text();
  let error: Json = {};
  try {
    error = (JSON.parse(text) as { error?: Json }).error ?? {};
  } catch {
    error = { message: text };
  }
  return { status: res.status, code: error.code, field: error.field, message: error.message };
}

const failure = (status: number, code: string, field?: string): Problem => ({
  status,
  code,
  field,
  message: expect.stringMatching(/.{4}/),
});
const badRequest = (field: string | null) => failure(400, "bad_request", field ?? undefined);
const NOT_FOUND = failure(404, "not_found");

/** The admin token's id: `ola_<tenant>_<id>_<secret>`. */
function adminId(t: Tenant): string {
  return t.adminToken.split("_")[2] ?? "";
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls the audit route until `done` holds (events reach D1 through a queue, asynchronously). */
async function auditUntil(t: Tenant, query: string, done: (events: AuditEvent[]) => boolean): Promise<AuditEvent[]> {
  const until = Date.now() + 10_000;
  for (;;) {
    const res = await t.api(`/audit?${query}`);
    expect(res.status).toBe(200);
    const { events } = await json<AuditPage>(res);
    if (done(events)) return events;
    if (Date.now() > until) throw new Error(`audit ${query}: ${JSON.stringify(events)}`);
    await sleep(100);
  }
}

function monthStart(ms: number, monthOffset = 0): string {
  const d = new Date(ms);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + monthOffset, 1)).toISOString();
}

describe("budgets", () => {
  it("creates a budget with defaults, lists it, and shows a fresh current window", async () => {
    const t = await newTenant({ providers: false });
    const before = Date.now();
    const created = await create(t, "/budgets", { name: "Team", window: "monthly", limit_usd: "25" });
    expect(created).toEqual({
      id: expect.stringMatching(ID),
      name: "Team",
      scope: { key_id: null, provider: null, model: null, dimensions: {} },
      window: "monthly",
      rolling_hours: null,
      limit_usd: "25.000000000",
      mode: "block",
      thresholds: [50, 80, 100],
      fail_open: false,
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    expect(created.created_at).toBe(created.updated_at);

    const list = await json<{ budgets: Json[] }>(await t.api("/budgets"));
    expect(list.budgets).toEqual([created]);

    const one = await json(await t.api(`/budgets/${created.id}`));
    const { current, ...rule } = one;
    expect(rule).toEqual(created);
    const now = Date.now();
    // The window is the UTC calendar month (the tenant's default zone) containing now.
    expect([monthStart(before), monthStart(now)]).toContain((current as Json).window_start);
    expect([monthStart(before, 1), monthStart(now, 1)]).toContain((current as Json).window_end);
    expect(current).toMatchObject({ spent_usd: ZERO, held_usd: ZERO, remaining_usd: "25.000000000" });
  });

  it("keeps every field of a full body, sorts thresholds, and has no window bounds for lifetime", async () => {
    const t = await newTenant({ providers: false });
    const body = {
      name: "Search, GPT-4o",
      scope: { key_id: t.keyId, provider: "openai", model: "gpt-4o*", dimensions: { team: "search" } },
      window: "lifetime",
      limit_usd: "0.123456789",
      mode: "alert",
      thresholds: [90, 25],
      fail_open: true,
    };
    const created = await create(t, "/budgets", body);
    expect(created).toMatchObject({
      ...body,
      rolling_hours: null,
      limit_usd: "0.123456789",
      thresholds: [25, 90],
    });
    const one = await json(await t.api(`/budgets/${created.id}`));
    expect(one.current).toEqual({
      window_start: null,
      window_end: null,
      spent_usd: ZERO,
      held_usd: ZERO,
      remaining_usd: "0.123456789",
    });
  });

  it("shows a rolling window as rolling_hours and a window ending after now", async () => {
    const t = await newTenant({ providers: false });
    const created = await create(t, "/budgets", {
      name: "Day",
      window: "rolling",
      rolling_hours: 24,
      limit_usd: "1.5",
    });
    expect(created).toMatchObject({ window: "rolling", rolling_hours: 24, limit_usd: "1.500000000" });
    const current = (await json(await t.api(`/budgets/${created.id}`))).current as Json;
    const start = Date.parse(String(current.window_start));
    const end = Date.parse(String(current.window_end));
    // 60 buckets of 24 min: the window spans 24 h and ends with the bucket that holds now.
    expect(end - start).toBe(24 * 3_600_000);
    expect(end).toBeGreaterThan(Date.now());
    expect(end - Date.now()).toBeLessThanOrEqual(24 * 60_000);
  });

  it("replaces a budget in full with PUT, keeping its id and creation time", async () => {
    const t = await newTenant({ providers: false });
    const created = await create(t, "/budgets", {
      name: "Old",
      window: "daily",
      limit_usd: "10",
      mode: "alert",
      thresholds: [10],
      scope: { provider: "openai" },
    });
    await sleep(5);
    const res = await t.api(`/budgets/${created.id}`, {
      method: "PUT",
      json: { name: "New", window: "weekly", limit_usd: "7.25" },
    });
    expect(res.status).toBe(200);
    const replaced = await json(res);
    // Fields left out of the PUT body take their defaults: a replace, not a merge.
    expect(replaced).toMatchObject({
      id: created.id,
      name: "New",
      window: "weekly",
      limit_usd: "7.250000000",
      mode: "block",
      thresholds: [50, 80, 100],
      scope: { key_id: null, provider: null, model: null, dimensions: {} },
      created_at: created.created_at,
    });
    expect(Date.parse(String(replaced.updated_at))).toBeGreaterThan(Date.parse(String(created.updated_at)));
    const { current, ...rule } = await json(await t.api(`/budgets/${created.id}`));
    expect(rule).toEqual(replaced);
    expect(current).toMatchObject({ remaining_usd: "7.250000000" });
    expect((await json<{ budgets: Json[] }>(await t.api("/budgets"))).budgets).toEqual([replaced]);
  });

  it("deletes a budget: 204, then 404 for GET, PUT and DELETE, and gone from the list", async () => {
    const t = await newTenant({ providers: false });
    const kept = await create(t, "/budgets", { name: "Kept", window: "daily", limit_usd: "1" });
    const gone = await create(t, "/budgets", { name: "Gone", window: "daily", limit_usd: "1" });
    const del = await t.api(`/budgets/${gone.id}`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect(await del.text()).toBe("");
    expect(await problem(await t.api(`/budgets/${gone.id}`))).toEqual(NOT_FOUND);
    expect(await problem(await t.api(`/budgets/${gone.id}`, { method: "DELETE" }))).toEqual(NOT_FOUND);
    expect(
      await problem(
        await t.api(`/budgets/${gone.id}`, { method: "PUT", json: { name: "Back", window: "daily", limit_usd: "1" } }),
      ),
    ).toEqual(NOT_FOUND);
    const list = await json<{ budgets: Json[] }>(await t.api("/budgets"));
    expect(list.budgets.map((b) => b.id)).toEqual([kept.id]);
  });
});

describe("policies", () => {
  it("creates a policy with defaults, then GET, PUT, list and DELETE round trip", async () => {
    const t = await newTenant({ providers: false });
    const created = await create(t, "/policies", { name: "Open" });
    expect(created).toEqual({
      id: expect.stringMatching(ID),
      name: "Open",
      key_id: null,
      allow_models: null,
      deny_models: [],
      allow_providers: null,
      deny_providers: [],
      max_tokens_cap: null,
      default_max_tokens: null,
      required_dimensions: [],
      allowed_sources: null,
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    expect(await json(await t.api(`/policies/${created.id}`))).toEqual(created);

    const full = {
      name: "Strict",
      key_id: t.keyId,
      allow_models: ["gpt-4o*", "claude-*"],
      deny_models: ["gpt-4o-audio*"],
      allow_providers: ["openai", "anthropic"],
      deny_providers: ["google"],
      max_tokens_cap: 4000,
      default_max_tokens: 4000,
      required_dimensions: ["team", "feature_x"],
      allowed_sources: ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"],
    };
    const put = await t.api(`/policies/${created.id}`, { method: "PUT", json: full });
    expect(put.status).toBe(200);
    const replaced = await json(put);
    expect(replaced).toMatchObject({ id: created.id, ...full, created_at: created.created_at });
    expect(await json(await t.api(`/policies/${created.id}`))).toEqual(replaced);
    expect((await json<{ policies: Json[] }>(await t.api("/policies"))).policies).toEqual([replaced]);

    // Back to defaults: every field left out is reset.
    const reset = await json(await t.api(`/policies/${created.id}`, { method: "PUT", json: { name: "Open" } }));
    expect(reset).toMatchObject({ key_id: null, allow_models: null, allowed_sources: null, required_dimensions: [] });

    expect((await t.api(`/policies/${created.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await t.api(`/policies/${created.id}`)).status).toBe(404);
    expect((await t.api(`/policies/${created.id}`, { method: "DELETE" })).status).toBe(404);
    expect((await json<{ policies: Json[] }>(await t.api("/policies"))).policies).toEqual([]);
  });

  it("lists policies in creation order", async () => {
    const t = await newTenant({ providers: false });
    const first = await create(t, "/policies", { name: "First" });
    const second = await create(t, "/policies", { name: "Second", deny_models: ["*"] });
    const list = await json<{ policies: Json[] }>(await t.api("/policies"));
    expect(list.policies.map((p) => p.id)).toEqual([first.id, second.id]);
  });
});

describe("rate limits", () => {
  it("creates, gets, replaces, lists and deletes a rate limit", async () => {
    const t = await newTenant({ providers: false });
    const created = await create(t, "/rate-limits", { name: "Per minute", requests_per_minute: 60 });
    expect(created).toEqual({
      id: expect.stringMatching(ID),
      name: "Per minute",
      key_id: null,
      requests_per_minute: 60,
      tokens_per_minute: null,
      created_at: expect.stringMatching(ISO),
      updated_at: expect.stringMatching(ISO),
    });
    expect(await json(await t.api(`/rate-limits/${created.id}`))).toEqual(created);
    const body = { name: "Tokens", key_id: t.keyId, tokens_per_minute: 100_000 };
    const replaced = await json(await t.api(`/rate-limits/${created.id}`, { method: "PUT", json: body }));
    expect(replaced).toMatchObject({ id: created.id, ...body, requests_per_minute: null });
    expect((await json<{ rate_limits: Json[] }>(await t.api("/rate-limits"))).rate_limits).toEqual([replaced]);
    expect((await t.api(`/rate-limits/${created.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await t.api(`/rate-limits/${created.id}`)).status).toBe(404);
    expect((await json<{ rate_limits: Json[] }>(await t.api("/rate-limits"))).rate_limits).toEqual([]);
  });

  it("answers 404 for an unknown or malformed id on every single-rule route", async () => {
    const t = await newTenant({ providers: false });
    const body = { name: "x", requests_per_minute: 1 };
    for (const id of ["aaaaaaaaaaaa", "not-an-id", "AAAAAAAAAAAA"]) {
      expect(await problem(await t.api(`/rate-limits/${id}`))).toEqual(NOT_FOUND);
      expect(await problem(await t.api(`/rate-limits/${id}`, { method: "PUT", json: body }))).toEqual(NOT_FOUND);
      expect(await problem(await t.api(`/rate-limits/${id}`, { method: "DELETE" }))).toEqual(NOT_FOUND);
    }
  });
});

describe("rule ids are per kind", () => {
  it("does not find a budget under /policies or /rate-limits", async () => {
    const t = await newTenant({ providers: false });
    const budget = await create(t, "/budgets", { name: "B", window: "daily", limit_usd: "1" });
    for (const [path, body] of [
      ["/policies", { name: "x" }],
      ["/rate-limits", { name: "x", requests_per_minute: 1 }],
    ] as const) {
      expect(await problem(await t.api(`${path}/${budget.id}`))).toEqual(NOT_FOUND);
      expect(await problem(await t.api(`${path}/${budget.id}`, { method: "PUT", json: body }))).toEqual(NOT_FOUND);
      expect(await problem(await t.api(`${path}/${budget.id}`, { method: "DELETE" }))).toEqual(NOT_FOUND);
    }
    const still = await json(await t.api(`/budgets/${budget.id}`));
    expect(still).toMatchObject({ name: "B", window: "daily" });
  });
});

describe("validation", () => {
  const budget = { name: "B", window: "monthly", limit_usd: "25" };
  const budgetCases: [string, Json, string | null][] = [
    ["no name", { window: "monthly", limit_usd: "25" }, "name"],
    ["a blank name", { ...budget, name: "   " }, "name"],
    ["a bad window", { ...budget, window: "hourly" }, "window"],
    ["no window", { name: "B", limit_usd: "25" }, "window"],
    ["rolling without rolling_hours", { ...budget, window: "rolling" }, "rolling_hours"],
    ["rolling_hours with monthly", { ...budget, rolling_hours: 24 }, "rolling_hours"],
    ["rolling_hours 0", { ...budget, window: "rolling", rolling_hours: 0 }, "rolling_hours"],
    ["rolling_hours 8761", { ...budget, window: "rolling", rolling_hours: 8761 }, "rolling_hours"],
    ["fractional rolling_hours", { ...budget, window: "rolling", rolling_hours: 1.5 }, "rolling_hours"],
    ["no limit_usd", { name: "B", window: "monthly" }, "limit_usd"],
    ["a negative limit_usd", { ...budget, limit_usd: "-5" }, "limit_usd"],
    ["a non-decimal limit_usd", { ...budget, limit_usd: "ten" }, "limit_usd"],
    ["an exponent limit_usd", { ...budget, limit_usd: "1e3" }, "limit_usd"],
    ["a numeric limit_usd", { ...budget, limit_usd: 25 }, "limit_usd"],
    ["a limit_usd with spaces", { ...budget, limit_usd: " 5 " }, "limit_usd"],
    ["limit_usd below a nano-dollar", { ...budget, limit_usd: "0.0000000001" }, "limit_usd"],
    ["limit_usd above a billion", { ...budget, limit_usd: "1000000001" }, "limit_usd"],
    ["a bad mode", { ...budget, mode: "warn" }, "mode"],
    ["a repeated threshold", { ...budget, thresholds: [50, 50] }, "thresholds"],
    ["a threshold of 0", { ...budget, thresholds: [0, 50] }, "thresholds.0"],
    ["a fractional threshold", { ...budget, thresholds: [50.5] }, "thresholds.0"],
    ["fail_open as a string", { ...budget, fail_open: "yes" }, "fail_open"],
    ["a bad dimension name", { ...budget, scope: { dimensions: { "Bad Name": "x" } } }, "scope.dimensions.Bad Name"],
    ["an empty dimension value", { ...budget, scope: { dimensions: { team: "" } } }, "scope.dimensions.team"],
    ["a malformed scope.key_id", { ...budget, scope: { key_id: "nope" } }, "scope.key_id"],
    ["an unknown key id", { ...budget, scope: { key_id: "aaaaaaaaaaaa" } }, "scope.key_id"],
    ["an unknown scope field", { ...budget, scope: { team: "x" } }, "scope"],
    ["an unknown field", { ...budget, colour: "red" }, null],
  ];
  for (const [name, body, field] of budgetCases) {
    it(`refuses a budget with ${name}${field ? `, naming ${field}` : ""}`, async () => {
      const t = await newTenant({ providers: false });
      expect(await problem(await t.api("/budgets", { method: "POST", json: body }))).toEqual(badRequest(field));
      expect((await json<{ budgets: Json[] }>(await t.api("/budgets"))).budgets).toEqual([]);
    });
  }

  const policyCases: [string, Json, string | null][] = [
    ["no name", { deny_models: ["*"] }, "name"],
    [
      "default_max_tokens above the cap",
      { name: "P", max_tokens_cap: 100, default_max_tokens: 101 },
      "default_max_tokens",
    ],
    ["a cap of 0", { name: "P", max_tokens_cap: 0 }, "max_tokens_cap"],
    ["a fractional cap", { name: "P", max_tokens_cap: 10.5 }, "max_tokens_cap"],
    ["a bad CIDR", { name: "P", allowed_sources: ["10.0.0.0/33"] }, "allowed_sources.0"],
    ["a bad IPv6 CIDR", { name: "P", allowed_sources: ["10.0.0.1", "2001:db8::/129"] }, "allowed_sources.1"],
    ["a host name as a source", { name: "P", allowed_sources: ["example.com"] }, "allowed_sources.0"],
    ["an empty source list", { name: "P", allowed_sources: [] }, "allowed_sources"],
    ["a bad dimension name", { name: "P", required_dimensions: ["Team"] }, "required_dimensions.0"],
    ["deny_models as a string", { name: "P", deny_models: "gpt-4o" }, "deny_models"],
    ["an empty glob", { name: "P", allow_models: [""] }, "allow_models.0"],
    ["a malformed key_id", { name: "P", key_id: "nope" }, "key_id"],
    ["an unknown key id", { name: "P", key_id: "aaaaaaaaaaaa" }, "key_id"],
    ["an unknown field", { name: "P", max_tokens: 100 }, null],
  ];
  for (const [name, body, field] of policyCases) {
    it(`refuses a policy with ${name}${field ? `, naming ${field}` : ""}`, async () => {
      const t = await newTenant({ providers: false });
      expect(await problem(await t.api("/policies", { method: "POST", json: body }))).toEqual(badRequest(field));
    });
  }

  const limitCases: [string, Json, string | null][] = [
    ["no name", { requests_per_minute: 1 }, "name"],
    ["neither limit", { name: "R" }, "requests_per_minute"],
    ["both limits null", { name: "R", requests_per_minute: null, tokens_per_minute: null }, "requests_per_minute"],
    ["requests_per_minute 0", { name: "R", requests_per_minute: 0 }, "requests_per_minute"],
    ["a negative tokens_per_minute", { name: "R", tokens_per_minute: -1 }, "tokens_per_minute"],
    ["a string requests_per_minute", { name: "R", requests_per_minute: "10" }, "requests_per_minute"],
    ["an unknown key id", { name: "R", key_id: "aaaaaaaaaaaa", requests_per_minute: 1 }, "key_id"],
    ["an unknown field", { name: "R", requests_per_minute: 1, burst: 5 }, null],
  ];
  for (const [name, body, field] of limitCases) {
    it(`refuses a rate limit with ${name}${field ? `, naming ${field}` : ""}`, async () => {
      const t = await newTenant({ providers: false });
      expect(await problem(await t.api("/rate-limits", { method: "POST", json: body }))).toEqual(badRequest(field));
    });
  }

  // The legacy inet_aton forms would mean something else than the admin wrote: "010.0.0.1" is
  // 8.0.0.1 (octal), "10.1" is 10.0.0.1, "1" is 0.0.0.1. An allow list refuses them.
  it("refuses IPv4 sources that are not four decimal parts (octal, hex, short forms)", async () => {
    const t = await newTenant({ providers: false });
    for (const entry of ["010.0.0.1", "0xa.0.0.1", "10.1", "1", "010.0.0.0/8", "fe80::1%eth0"]) {
      expect(
        await problem(await t.api("/policies", { method: "POST", json: { name: "P", allowed_sources: [entry] } })),
      ).toEqual(badRequest("allowed_sources.0"));
    }
  });

  it("refuses a non-JSON body with 415 and malformed JSON with invalid_json, on POST and PUT", async () => {
    const t = await newTenant({ providers: false });
    const existing = {
      "/budgets": await create(t, "/budgets", budget),
      "/policies": await create(t, "/policies", { name: "P" }),
      "/rate-limits": await create(t, "/rate-limits", { name: "R", requests_per_minute: 1 }),
    };
    for (const [path, rule] of Object.entries(existing)) {
      for (const [method, target] of [
        ["POST", path],
        ["PUT", `${path}/${rule.id}`],
      ] as const) {
        const plain: Init = { method, body: "name=x", headers: { "content-type": "text/plain" } };
        expect(await problem(await t.api(target, plain))).toEqual(failure(415, "unsupported_media_type"));
        expect(await problem(await t.api(target, { method, body: "name=x" }))).toEqual(
          failure(415, "unsupported_media_type"),
        );
        const broken: Init = { method, body: '{"name":', headers: { "content-type": "application/json" } };
        expect(await problem(await t.api(target, broken))).toEqual(failure(400, "invalid_json"));
        expect(await problem(await t.api(target, { method, json: [] }))).toEqual(badRequest(null));
      }
    }
    // Nothing was created or changed by the refused requests.
    expect(await json(await t.api(`/policies/${existing["/policies"].id}`))).toEqual(existing["/policies"]);
    expect((await json<{ budgets: Json[] }>(await t.api("/budgets"))).budgets).toHaveLength(1);
  });

  it("validates a PUT body like a POST body, leaving the rule unchanged", async () => {
    const t = await newTenant({ providers: false });
    const created = await create(t, "/policies", { name: "P", max_tokens_cap: 100 });
    const res = await t.api(`/policies/${created.id}`, {
      method: "PUT",
      json: { name: "P", max_tokens_cap: 100, default_max_tokens: 200 },
    });
    expect(await problem(res)).toEqual(badRequest("default_max_tokens"));
    expect(await json(await t.api(`/policies/${created.id}`))).toEqual(created);
  });
});

describe("tenant isolation", () => {
  it("keeps each tenant's rule ids to itself", async () => {
    const [a, b] = await Promise.all([newTenant({ providers: false }), newTenant({ providers: false })]);
    const bodies = {
      "/budgets": { name: "A budget", window: "daily", limit_usd: "5" },
      "/policies": { name: "A policy", deny_models: ["*"] },
      "/rate-limits": { name: "A limit", requests_per_minute: 5 },
    };
    const lists = { "/budgets": "budgets", "/policies": "policies", "/rate-limits": "rate_limits" } as const;
    for (const [path, body] of Object.entries(bodies) as [keyof typeof bodies, Json][]) {
      const mine = await create(a, path, body);
      const theirs = await create(b, path, { ...body, name: "B's own" });
      expect((await b.api(`${path}/${mine.id}`)).status).toBe(404);
      const put = await b.api(`${path}/${mine.id}`, { method: "PUT", json: { ...body, name: "Hijacked" } });
      expect(put.status).toBe(404);
      await put.text();
      expect((await b.api(`${path}/${mine.id}`, { method: "DELETE" })).status).toBe(404);

      const bList = await json<Record<string, Json[]>>(await b.api(path));
      expect(bList[lists[path]]?.map((r) => r.id)).toEqual([theirs.id]);
      // A's rule is untouched by B's attempts.
      const again = await json(await a.api(`${path}/${mine.id}`));
      expect(again).toMatchObject({ id: mine.id, name: body.name, updated_at: mine.updated_at });
      const aList = await json<Record<string, Json[]>>(await a.api(path));
      expect(aList[lists[path]]?.map((r) => r.id)).toEqual([mine.id]);
    }
  });

  it("refuses a rule in one tenant that names another tenant's key", async () => {
    const [a, b] = await Promise.all([newTenant({ providers: false }), newTenant({ providers: false })]);
    expect(
      await problem(
        await b.api("/budgets", {
          method: "POST",
          json: { name: "x", window: "daily", limit_usd: "1", scope: { key_id: a.keyId } },
        }),
      ),
    ).toEqual(badRequest("scope.key_id"));
    expect(await problem(await b.api("/policies", { method: "POST", json: { name: "x", key_id: a.keyId } }))).toEqual(
      badRequest("key_id"),
    );
    expect(
      await problem(
        await b.api("/rate-limits", { method: "POST", json: { name: "x", key_id: a.keyId, requests_per_minute: 1 } }),
      ),
    ).toEqual(badRequest("key_id"));
    // Nor can an existing rule be pointed at it.
    const own = await create(b, "/policies", { name: "own", key_id: b.keyId });
    expect(
      await problem(await b.api(`/policies/${own.id}`, { method: "PUT", json: { name: "own", key_id: a.keyId } })),
    ).toEqual(badRequest("key_id"));
    expect((await json(await b.api(`/policies/${own.id}`))).key_id).toBe(b.keyId);
  });
});

describe("audit", () => {
  it("lists rule changes by the admin in seq order, with kind, name and subject", async () => {
    const t = await newTenant({ providers: false });
    const policy = await create(t, "/policies", { name: "First name" });
    const put = await t.api(`/policies/${policy.id}`, { method: "PUT", json: { name: "Second name" } });
    expect(put.status).toBe(200);
    await put.text();
    expect((await t.api(`/policies/${policy.id}`, { method: "DELETE" })).status).toBe(204);
    const budget = await create(t, "/budgets", { name: "Money", window: "daily", limit_usd: "1" });
    const limit = await create(t, "/rate-limits", { name: "Pace", requests_per_minute: 1 });

    const events = await auditUntil(t, "limit=500", (e) => e.filter((x) => x.type.startsWith("rule.")).length >= 5);
    const rules = events.filter((e) => e.type.startsWith("rule."));
    const admin = { kind: "admin", id: adminId(t) };
    expect(rules.map((e) => [e.type, e.subject, e.data, e.actor])).toEqual([
      ["rule.created", policy.id, { kind: "policy", name: "First name" }, admin],
      ["rule.updated", policy.id, { kind: "policy", name: "Second name" }, admin],
      ["rule.deleted", policy.id, { kind: "policy", name: "Second name" }, admin],
      ["rule.created", budget.id, { kind: "budget", name: "Money" }, admin],
      ["rule.created", limit.id, { kind: "rate_limit", name: "Pace" }, admin],
    ]);
    for (const e of rules) {
      expect(e.at).toMatch(ISO);
      expect(e.request_id).toBeNull();
    }
    // The whole log is in strictly increasing seq order; the test key's creation comes first.
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(events[0]).toMatchObject({ type: "key.created", subject: t.keyId, actor: admin });
  });

  it("pages with after and limit, and filters by type", async () => {
    const t = await newTenant({ providers: false });
    const ids: string[] = [];
    for (const name of ["one", "two", "three", "four"]) {
      ids.push((await create(t, "/rate-limits", { name, requests_per_minute: 1 })).id);
    }
    const renamed = await t.api(`/rate-limits/${ids[0] ?? ""}`, {
      method: "PUT",
      json: { name: "one again", requests_per_minute: 2 },
    });
    await renamed.text();
    // key.created, four rule.created and one rule.updated; every API request (these reads too)
    // is also an access.api event, arriving in batches, so those are set apart.
    const changes = (events: AuditEvent[]) => events.filter((e) => !e.type.startsWith("access."));
    const all = changes(await auditUntil(t, "limit=500", (e) => changes(e).length >= 6));
    expect(all).toHaveLength(6);

    const paged: AuditEvent[] = [];
    let after = 0;
    for (let page = 0; page < 100; page++) {
      const body = await json<AuditPage>(await t.api(`/audit?after=${after}&limit=2`));
      paged.push(...body.events);
      if (body.next_after === null) break;
      expect(body.events).toHaveLength(2);
      expect(body.next_after).toBe(body.events.at(-1)?.seq);
      after = body.next_after;
    }
    expect(changes(paged)).toEqual(all);
    expect(paged.map((e) => e.seq)).toEqual(paged.map((e) => e.seq).toSorted((x, y) => x - y));

    const second = all[1]?.seq ?? 0;
    const rest = await json<AuditPage>(await t.api(`/audit?after=${second}&limit=500`));
    expect(changes(rest.events)).toEqual(all.slice(2));
    expect(rest.next_after).toBeNull();
    const past = await json<AuditPage>(await t.api(`/audit?after=${all.at(-1)?.seq ?? 0}&limit=500`));
    expect(changes(past.events)).toEqual([]);
    expect(past.next_after).toBeNull();

    const created = await json<AuditPage>(await t.api("/audit?type=rule.created"));
    expect(created.events.map((e) => e.subject)).toEqual(ids);
    const updated = await json<AuditPage>(await t.api("/audit?type=rule.updated"));
    expect(updated.events.map((e) => [e.subject, e.data.name])).toEqual([[ids[0], "one again"]]);
    const firstCreated = await json<AuditPage>(await t.api("/audit?type=rule.created&limit=1"));
    expect(firstCreated.events.map((e) => e.subject)).toEqual([ids[0]]);
    expect(firstCreated.next_after).toBe(firstCreated.events[0]?.seq);
    expect((await json<AuditPage>(await t.api("/audit?type=budget.threshold"))).events).toEqual([]);
  });

  const badParams: [string, string][] = [
    ["after=-1", "after"],
    ["after=abc", "after"],
    ["after=1.5", "after"],
    ["limit=0", "limit"],
    ["limit=501", "limit"],
    ["limit=ten", "limit"],
    ["limit=", "limit"],
    ["type=rule", "type"],
    ["type=Rule.Created", "type"],
    ["type=rule.created;drop", "type"],
  ];
  it("refuses bad parameters with 400, naming them", async () => {
    const t = await newTenant({ providers: false });
    for (const [query, field] of badParams) {
      expect([query, await problem(await t.api(`/audit?${query}`))]).toEqual([query, badRequest(field)]);
    }
  });

  it("never shows one tenant's events to another", async () => {
    const [a, b] = await Promise.all([newTenant({ providers: false }), newTenant({ providers: false })]);
    const rule = await create(a, "/policies", { name: "A's secret policy" });
    await auditUntil(a, "type=rule.created", (e) => e.some((x) => x.subject === rule.id));
    await auditUntil(b, "type=key.created", (e) => e.length >= 1);
    const seen = await json<AuditPage>(await b.api("/audit?limit=500"));
    const text = JSON.stringify(seen);
    expect(text).not.toContain(rule.id);
    expect(text).not.toContain(a.keyId);
    expect(text).not.toContain("A's secret policy");
    expect(seen.events.every((e) => e.actor.id === null || e.actor.id === adminId(b) || e.actor.id === b.keyId)).toBe(
      true,
    );
    expect((await json<AuditPage>(await b.api("/audit?type=rule.created"))).events).toEqual([]);
  });
});

describe("settings: time zone", () => {
  it("defaults to UTC, accepts an IANA zone, and refuses anything else", async () => {
    const t = await newTenant({ providers: false });
    expect(await json(await t.api("/settings"))).toEqual({
      allow_passthrough_keys: false,
      time_zone: "UTC",
      locale: "en-US",
      admission_mode: "strict",
    });
    const res = await t.api("/settings", { method: "PATCH", json: { time_zone: "Europe/Berlin" } });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({
      allow_passthrough_keys: false,
      time_zone: "Europe/Berlin",
      locale: "en-US",
      admission_mode: "strict",
    });
    // A PATCH changes only what it names.
    await json(await t.api("/settings", { method: "PATCH", json: { allow_passthrough_keys: true } }));
    expect(await json(await t.api("/settings"))).toEqual({
      allow_passthrough_keys: true,
      time_zone: "Europe/Berlin",
      locale: "en-US",
      admission_mode: "strict",
    });

    for (const zone of ["Mars/Olympus", "+05:30", "", "Europe/Berlin; DROP", 5]) {
      const bad = await t.api("/settings", { method: "PATCH", json: { time_zone: zone } });
      expect(await problem(bad)).toEqual(badRequest("time_zone"));
    }
    expect(await problem(await t.api("/settings", { method: "PATCH", json: { timezone: "UTC" } }))).toEqual(
      badRequest(null),
    );
    expect((await json(await t.api("/settings"))).time_zone).toBe("Europe/Berlin");
  });

  it("puts a daily budget's window on the tenant's local midnight", async () => {
    const t = await newTenant({ providers: false });
    const budget = await create(t, "/budgets", { name: "Daily", window: "daily", limit_usd: "1" });
    const utc = (await json(await t.api(`/budgets/${budget.id}`))).current as Json;
    expect(String(utc.window_start)).toMatch(/T00:00:00\.000Z$/);
    expect(Date.parse(String(utc.window_end)) - Date.parse(String(utc.window_start))).toBe(86_400_000);

    await json(await t.api("/settings", { method: "PATCH", json: { time_zone: "Asia/Kolkata" } }));
    const local = (await json(await t.api(`/budgets/${budget.id}`))).current as Json;
    // India is UTC+5:30 all year: local midnight is 18:30 UTC.
    expect(String(local.window_start)).toMatch(/T18:30:00\.000Z$/);
    expect(Date.parse(String(local.window_end)) - Date.parse(String(local.window_start))).toBe(86_400_000);
    const now = Date.now();
    expect(Date.parse(String(local.window_start))).toBeLessThanOrEqual(now);
    expect(Date.parse(String(local.window_end))).toBeGreaterThan(now);
  });

  // Calendar spend is booked under the window's start in the zone of the moment; a zone change
  // carries the current window's spend into the window now current, so no limit comes back.
  it("keeps the spend of calls inside the new window when the time zone changes", async () => {
    const t = await newTenant();
    const budget = await create(t, "/budgets", { name: "Daily", window: "daily", limit_usd: "10" });
    const res = await worker("/openai/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${t.proxyKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hello there" }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const callAt = Date.now();
    let spent = ZERO;
    for (const until = Date.now() + 10_000; spent === ZERO && Date.now() < until; await sleep(100)) {
      spent = String(((await json(await t.api(`/budgets/${budget.id}`))).current as Json).spent_usd);
    }
    expect(spent).not.toBe(ZERO);
    await json(await t.api("/settings", { method: "PATCH", json: { time_zone: "Asia/Kolkata" } }));
    const current = (await json(await t.api(`/budgets/${budget.id}`))).current as Json;
    expect(Date.parse(String(current.window_start))).toBeLessThanOrEqual(callAt);
    expect(current.spent_usd).toBe(spent);
  });
});
