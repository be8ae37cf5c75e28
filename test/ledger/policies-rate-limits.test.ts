// Policies and rate limits enforced by the gateway: each policy feature (models, providers, key
// scope, output-token cap and default, required dimensions, allowed sources), key expiry, and
// requests/tokens per minute per key and per tenant. Every refused call is answered in the
// provider's error shape, leaves one usage event with outcome "refused", and never reaches the
// upstream: each call carries a fresh test id header, under which the demo upstream files what
// it receives (it logs no message content), so "never reached" is checked in that call's own
// view of the upstream, which no other test's traffic can fill or push out.
//
// The tests run concurrently: each has a tenant of its own (its keys, rules, limits, usage events
// and audit trail) and reads the upstream only through its own call ids, so no test can see
// another's state. Most of a test's time is the usage queue's one-second batch before a refused
// call's event is in D1; run one after another, those waits add up.
import { describe, expect, it } from "vitest";
import {
  newTenant,
  TEST_ID_HEADER,
  upstreamCalls,
  waitForEvent,
  worker,
  type Tenant,
  type UpstreamRecord,
} from "../helpers.ts";

type Json = Record<string, unknown>;

const MARKER = TEST_ID_HEADER;

type Call = { res: Response; marker: string };

type ChatOptions = {
  key?: string;
  model?: string;
  maxTokens?: number;
  prompt?: string;
  headers?: Record<string, string>;
  body?: Json;
};

async function chat(t: Tenant, options: ChatOptions = {}): Promise<Call> {
  const marker = crypto.randomUUID();
  const body: Json = {
    model: options.model ?? "gpt-4o-mini",
    messages: [{ role: "user", content: options.prompt ?? `hello ${marker}` }],
    ...options.body,
  };
  if (options.maxTokens !== undefined) body.max_tokens = options.maxTokens;
  const res = await worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: {
      authorization: `Bearer ${options.key ?? t.proxyKey}`,
      "content-type": "application/json",
      [MARKER]: marker,
      ...options.headers,
    },
    body: JSON.stringify(body),
  });
  return { res, marker };
}

async function messages(t: Tenant, model = "claude-3-5-haiku-latest"): Promise<Call> {
  const marker = crypto.randomUUID();
  const res = await worker("/anthropic/v1/messages", {
    method: "POST",
    headers: {
      "x-api-key": t.proxyKey,
      "anthropic-version": "2023-06-01",
      "content-type": "application/json",
      [MARKER]: marker,
    },
    body: JSON.stringify({ model, max_tokens: 20, messages: [{ role: "user", content: `hello ${marker}` }] }),
  });
  return { res, marker };
}

/** What a call came to, in the terms of the contract. */
type Seen = {
  status: number;
  /** headers x-outlay-refusal and x-outlay-refusal-rule */
  refusal: string | null;
  rule: string | null;
  /** the error body: OpenAI's `error.code`, or Anthropic's envelope; null for a 200 */
  error: { openai: unknown } | { anthropic: unknown } | null;
  /** the usage event of a refused call (an admitted call's event is not waited for) */
  event: { outcome: string; status: number; tokens: number } | null;
  /** how many times the call reached the upstream */
  upstream: number;
};

type Result = { seen: Seen; body: Json; upstream: UpstreamRecord | undefined; requestId: string };

async function result(t: Tenant, call: Call): Promise<Result> {
  const { res, marker } = call;
  const body = JSON.parse(await res.text()) as Json;
  const requestId = res.headers.get("x-outlay-request-id") ?? "";
  const log = await upstreamCalls(marker);
  let error: Seen["error"] = null;
  let event: Seen["event"] = null;
  if (res.status !== 200) {
    const inner = (body.error ?? {}) as Json;
    const envelope = typeof inner.type === "string" && typeof inner.message === "string";
    error = body.type === "error" ? { anthropic: envelope ? "envelope" : inner } : { openai: inner.code };
    const row = await waitForEvent(t.tenantId, requestId);
    event = { outcome: row.outcome, status: row.status, tokens: row.input_tokens + row.output_tokens };
  }
  return {
    seen: {
      status: res.status,
      refusal: res.headers.get("x-outlay-refusal"),
      rule: res.headers.get("x-outlay-refusal-rule"),
      error,
      event,
      upstream: log.length,
    },
    body,
    upstream: log[0],
    requestId,
  };
}

async function seen(t: Tenant, call: Call): Promise<Seen> {
  return (await result(t, call)).seen;
}

const ADMITTED: Seen = { status: 200, refusal: null, rule: null, error: null, event: null, upstream: 1 };

function refusedBy(status: number, code: string, ruleId: string, shape: "openai" | "anthropic"): Seen {
  return {
    status,
    refusal: code,
    rule: ruleId,
    error: shape === "openai" ? { openai: code } : { anthropic: "envelope" },
    event: { outcome: "refused", status, tokens: 0 },
    upstream: 0,
  };
}

const denied = (ruleId: string, shape: "openai" | "anthropic" = "openai") =>
  refusedBy(403, "policy_denied", ruleId, shape);
const limited = (ruleId: string, shape: "openai" | "anthropic" = "openai") =>
  refusedBy(429, "rate_limited", ruleId, shape);

function errorMessage(body: Json): string {
  return String((body.error as Json | undefined)?.message);
}

/** Creates a rule (a setup step: anything but 201 is an error) and returns its id. */
async function createRule(t: Tenant, path: "/policies" | "/rate-limits", body: Json): Promise<string> {
  const res = await t.api(path, { method: "POST", json: body });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${text}`);
  return (JSON.parse(text) as { id: string }).id;
}

async function secondKey(
  t: Tenant,
  json: { dimensions?: Record<string, string>; expires_at?: number } = {},
): Promise<{ id: string; key: string }> {
  const res = await t.api("/keys", { method: "POST", json: { name: "second key", ...json } });
  if (res.status !== 201) throw new Error(`POST /keys: ${res.status} ${await res.text()}`);
  return (await res.json()) as { id: string; key: string };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls the audit route for the call.refused event of one request. */
async function refusalAudit(t: Tenant, requestId: string): Promise<Json | undefined> {
  const until = Date.now() + 10_000;
  for (;;) {
    const page = (await (await t.api("/audit?type=call.refused&limit=500")).json()) as { events: Json[] };
    const event = page.events.find((e) => e.request_id === requestId);
    if (event || Date.now() > until) return event;
    await sleep(100);
  }
}

type ChatAnswer = { usage: { completion_tokens: number }; choices: { finish_reason: string }[] };

describe.concurrent("policies: models", () => {
  it("refuses a model a deny_models glob matches and admits another", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/policies", { name: "No 4o", deny_models: ["gpt-4o*"] });
    const refused = await result(t, await chat(t, { model: "gpt-4o-mini" }));
    expect(refused.seen).toEqual(denied(id));
    expect(errorMessage(refused.body)).toContain("gpt-4o-mini");
    expect(await seen(t, await chat(t, { model: "gpt-4o" }))).toEqual(denied(id));
    const allowed = await result(t, await chat(t, { model: "gpt-4.1-mini" }));
    expect(allowed.seen).toEqual(ADMITTED);
    expect(allowed.upstream?.model).toBe("gpt-4.1-mini");
  });

  it("admits only the models an allow_models list names", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/policies", { name: "Only 4.1", allow_models: ["gpt-4.1*", "claude-*"] });
    expect(await seen(t, await chat(t, { model: "gpt-4.1-nano" }))).toEqual(ADMITTED);
    expect(await seen(t, await messages(t))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t, { model: "gpt-4o-mini" }))).toEqual(denied(id));
    // Globs match the whole name: "gpt-4" is not "gpt-4.1*".
    expect(await seen(t, await chat(t, { model: "gpt-4" }))).toEqual(denied(id));
  });

  it("applies a rule change to the very next call", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/policies", { name: "No 4o", deny_models: ["gpt-4o*"] });
    expect(await seen(t, await chat(t))).toEqual(denied(id));
    const put = await t.api(`/policies/${id}`, { method: "PUT", json: { name: "No o1", deny_models: ["o1*"] } });
    expect(put.status).toBe(200);
    await put.text();
    expect(await seen(t, await chat(t))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t, { model: "o1-mini" }))).toEqual(denied(id));
    expect((await t.api(`/policies/${id}`, { method: "DELETE" })).status).toBe(204);
    expect(await seen(t, await chat(t, { model: "o1-mini" }))).toEqual(ADMITTED);
  });
});

describe.concurrent("policies: providers", () => {
  it("admits only the providers allow_providers names", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/policies", { name: "Anthropic only", allow_providers: ["anthropic"] });
    expect(await seen(t, await messages(t))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t))).toEqual(denied(id));
  });

  it("refuses a provider deny_providers names, in that provider's error shape", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/policies", { name: "No Anthropic", deny_providers: ["anthro*"] });
    expect(await seen(t, await chat(t))).toEqual(ADMITTED);
    const refused = await result(t, await messages(t));
    expect(refused.seen).toEqual(denied(id, "anthropic"));
    expect(refused.body).toEqual({
      type: "error",
      error: { type: expect.any(String), message: expect.stringContaining('"anthropic"') },
    });
  });
});

describe.concurrent("policies: key scope", () => {
  it("applies a key's own policy to that key only", async () => {
    const t = await newTenant();
    const other = await secondKey(t);
    const id = await createRule(t, "/policies", { name: "Second: no 4o", key_id: other.id, deny_models: ["gpt-4o*"] });
    expect(await seen(t, await chat(t))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t, { key: other.key }))).toEqual(denied(id));
    expect(await seen(t, await chat(t, { key: other.key, model: "gpt-4.1-mini" }))).toEqual(ADMITTED);
  });

  it("holds a key to every policy that applies: tenant-wide and its own", async () => {
    const t = await newTenant();
    const other = await secondKey(t);
    const wide = await createRule(t, "/policies", { name: "Everyone: no o1", deny_models: ["o1*"] });
    const own = await createRule(t, "/policies", {
      name: "Second: 4.1 only",
      key_id: other.id,
      allow_models: ["gpt-4.1*"],
    });
    expect(await seen(t, await chat(t, { key: other.key, model: "o1-mini" }))).toEqual(denied(wide));
    expect(await seen(t, await chat(t, { key: other.key, model: "gpt-4o-mini" }))).toEqual(denied(own));
    expect(await seen(t, await chat(t, { key: other.key, model: "gpt-4.1-mini" }))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t, { model: "o1-mini" }))).toEqual(denied(wide));
    expect(await seen(t, await chat(t, { model: "gpt-4o-mini" }))).toEqual(ADMITTED);
  });
});

describe.concurrent("policies: output tokens", () => {
  it("refuses a request asking for more than max_tokens_cap", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/policies", { name: "Cap 100", max_tokens_cap: 100 });
    const refused = await result(t, await chat(t, { maxTokens: 101 }));
    expect(refused.seen).toEqual(denied(id));
    expect(errorMessage(refused.body)).toMatch(/101.*100/);
    expect(await seen(t, await chat(t, { maxTokens: 100 }))).toEqual(ADMITTED);
  });

  it("refuses max_completion_tokens above the cap too", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/policies", { name: "Cap 100", max_tokens_cap: 100 });
    expect(await seen(t, await chat(t, { body: { max_completion_tokens: 500 } }))).toEqual(denied(id));
    expect(await seen(t, await chat(t, { body: { max_completion_tokens: 50 } }))).toEqual(ADMITTED);
  });

  it("limits a request without max_tokens to the cap", async () => {
    const t = await newTenant();
    await createRule(t, "/policies", { name: "Cap 6", max_tokens_cap: 6 });
    // The demo answer is 24 tokens long; the upstream cuts it at the limit Outlay added.
    const { seen: s, body, upstream } = await result(t, await chat(t));
    expect(s).toEqual(ADMITTED);
    expect((body as ChatAnswer).usage.completion_tokens).toBe(6);
    expect(upstream?.usage).toMatchObject({ completion_tokens: 6 });
  });

  it("adds default_max_tokens to a request without max_tokens, and not to one with it", async () => {
    const t = await newTenant();
    await createRule(t, "/policies", { name: "Default 5", default_max_tokens: 5 });
    // The upstream log records no request body, but the demo upstream cuts its 24-token answer at
    // the limit it was sent: 5 completion tokens and finish_reason "length" prove the injection.
    const without = await result(t, await chat(t));
    expect(without.seen).toEqual(ADMITTED);
    expect((without.body as ChatAnswer).usage.completion_tokens).toBe(5);
    expect((without.body as ChatAnswer).choices[0]?.finish_reason).toBe("length");
    expect(without.upstream?.usage).toMatchObject({ completion_tokens: 5 });
    const own = await result(t, await chat(t, { maxTokens: 12 }));
    expect((own.body as ChatAnswer).usage.completion_tokens).toBe(12);
    expect(own.upstream?.usage).toMatchObject({ completion_tokens: 12 });
    const more = await result(t, await chat(t, { maxTokens: 1000 }));
    expect((more.body as ChatAnswer).usage.completion_tokens).toBe(24);
    expect((more.body as ChatAnswer).choices[0]?.finish_reason).toBe("stop");
  });

  it("adds the lower of default_max_tokens and the cap when policies disagree", async () => {
    const t = await newTenant();
    await createRule(t, "/policies", { name: "Default 20", default_max_tokens: 20 });
    await createRule(t, "/policies", { name: "Cap 7", max_tokens_cap: 7 });
    const { seen: s, body } = await result(t, await chat(t));
    expect(s).toEqual(ADMITTED);
    expect((body as ChatAnswer).usage.completion_tokens).toBe(7);
  });
});

describe.concurrent("policies: required dimensions", () => {
  it("refuses a call without a required dimension and admits one that carries it", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/policies", { name: "Team required", required_dimensions: ["team"] });
    const refused = await result(t, await chat(t));
    expect(refused.seen).toEqual(denied(id));
    expect(errorMessage(refused.body)).toContain("x-outlay-dimension-team");
    const otherDimension = await chat(t, { headers: { "x-outlay-dimension-project": "p1" } });
    expect(await seen(t, otherDimension)).toEqual(denied(id));
    const withTeam = await result(t, await chat(t, { headers: { "x-outlay-dimension-team": "search" } }));
    expect(withTeam.seen).toEqual(ADMITTED);
    // Outlay's own headers are not forwarded.
    expect(withTeam.upstream?.headers["x-outlay-dimension-team"]).toBeUndefined();
    const event = await waitForEvent(t.tenantId, withTeam.requestId);
    expect(event.outcome).toBe("ok");
    expect(JSON.parse(event.dimensions)).toEqual({ team: "search" });
  });

  it("admits a key whose bound dimensions include the required one", async () => {
    const t = await newTenant();
    const bound = await secondKey(t, { dimensions: { team: "infra" } });
    const id = await createRule(t, "/policies", { name: "Team required", required_dimensions: ["team"] });
    const admitted = await result(t, await chat(t, { key: bound.key }));
    expect(admitted.seen).toEqual(ADMITTED);
    expect(JSON.parse((await waitForEvent(t.tenantId, admitted.requestId)).dimensions)).toEqual({ team: "infra" });
    expect(await seen(t, await chat(t))).toEqual(denied(id));
  });
});

describe.concurrent("policies: allowed sources", () => {
  const sources = ["203.0.113.7", "10.0.0.0/8", "2001:db8::/32"];
  const cases: [string, string | null, boolean][] = [
    ["an allowed address", "203.0.113.7", true],
    ["an address inside an allowed CIDR range", "10.20.30.40", true],
    ["an IPv6 address inside an allowed range", "2001:db8:0:1::42", true],
    ["an IPv4-mapped IPv6 form of an allowed address", "::ffff:10.1.2.3", true],
    ["a neighbour of an allowed address", "203.0.113.8", false],
    ["an address outside every range", "198.51.100.1", false],
    ["an IPv6 address outside the range", "2001:db9::1", false],
    ["a source that is not an address", "localhost", false],
    ["no source at all", null, false],
  ];
  for (const [name, source, allowed] of cases) {
    it(`${allowed ? "admits" : "refuses"} ${name}`, async () => {
      const t = await newTenant();
      const id = await createRule(t, "/policies", { name: "Office", allowed_sources: sources });
      const call = await result(t, await chat(t, { headers: source === null ? {} : { "cf-connecting-ip": source } }));
      expect(call.seen).toEqual(allowed ? ADMITTED : denied(id));
      // The client's address header is not passed on to the upstream.
      expect(call.upstream?.headers["cf-connecting-ip"]).toBeUndefined();
    });
  }

  it("applies a key's source list to that key only", async () => {
    const t = await newTenant();
    const other = await secondKey(t);
    const id = await createRule(t, "/policies", {
      name: "Office",
      key_id: other.id,
      allowed_sources: ["10.0.0.0/8"],
    });
    const outside = { "cf-connecting-ip": "198.51.100.1" };
    expect(await seen(t, await chat(t, { headers: outside }))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t, { key: other.key, headers: outside }))).toEqual(denied(id));
    const inside = { "cf-connecting-ip": "10.9.9.9" };
    expect(await seen(t, await chat(t, { key: other.key, headers: inside }))).toEqual(ADMITTED);
  });
});

describe.concurrent("key expiry", () => {
  it("refuses a key once its expiry has passed, and never calls the upstream", async () => {
    const t = await newTenant();
    // Long enough that the call before it is made in time on a loaded machine.
    const expiresAt = Date.now() + 4000;
    const short = await secondKey(t, { expires_at: expiresAt });
    expect(await seen(t, await chat(t, { key: short.key }))).toEqual(ADMITTED);
    await sleep(Math.max(0, expiresAt - Date.now()) + 100);
    const call = await chat(t, { key: short.key });
    const requestId = call.res.headers.get("x-outlay-request-id") ?? "";
    const body = (await call.res.json()) as { error: Json };
    expect(call.res.status).toBe(401);
    expect(call.res.headers.get("x-outlay-refusal")).toBe("invalid_api_key");
    expect(body.error.code).toBe("invalid_api_key");
    expect(await upstreamCalls(call.marker)).toEqual([]);
    // Not an authenticated call, so no usage event; the ledger audits it, naming the reason.
    expect(await refusalAudit(t, requestId)).toMatchObject({
      actor: { kind: "key", id: short.id },
      data: { code: "invalid_api_key", reason: "expired" },
    });
    // The tenant's other key still works.
    expect(await seen(t, await chat(t))).toEqual(ADMITTED);
  });
});

describe.concurrent("rate limits", () => {
  it("refuses the fourth call of a minute under requests_per_minute 3", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/rate-limits", { name: "Three a minute", requests_per_minute: 3 });
    for (let i = 0; i < 3; i++) expect(await seen(t, await chat(t))).toEqual(ADMITTED);
    const fourth = await chat(t);
    const retryAfter = fourth.res.headers.get("retry-after");
    expect(await seen(t, fourth)).toEqual(limited(id));
    // One request comes back every 20 s.
    expect(retryAfter).toMatch(/^\d+$/);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Number(retryAfter)).toBeLessThanOrEqual(20);
  });

  it("answers a rate-limited Anthropic call in Anthropic's shape", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/rate-limits", { name: "One a minute", requests_per_minute: 1 });
    expect(await seen(t, await messages(t))).toEqual(ADMITTED);
    const second = await messages(t);
    expect(Number(second.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await seen(t, second)).toEqual(limited(id, "anthropic"));
  });

  it("counts a key-scoped limit against that key only", async () => {
    const t = await newTenant();
    const other = await secondKey(t);
    const id = await createRule(t, "/rate-limits", { name: "Second", key_id: other.id, requests_per_minute: 1 });
    expect(await seen(t, await chat(t, { key: other.key }))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t, { key: other.key }))).toEqual(limited(id));
    for (let i = 0; i < 3; i++) expect(await seen(t, await chat(t))).toEqual(ADMITTED);
  });

  it("counts a tenant-wide limit across all keys", async () => {
    const t = await newTenant();
    const other = await secondKey(t);
    const id = await createRule(t, "/rate-limits", { name: "Tenant", requests_per_minute: 2 });
    expect(await seen(t, await chat(t))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t, { key: other.key }))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t))).toEqual(limited(id));
    expect(await seen(t, await chat(t, { key: other.key }))).toEqual(limited(id));
  });

  it("refuses a request whose max_tokens plus prompt estimate exceeds tokens_per_minute", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/rate-limits", { name: "Tokens", tokens_per_minute: 200 });
    // max_tokens alone above the limit.
    expect(await seen(t, await chat(t, { maxTokens: 201 }))).toEqual(limited(id));
    // max_tokens within the limit, but a long prompt (about 1,000 bytes, some 250 tokens) on top.
    const long = await chat(t, { maxTokens: 150, prompt: `${"word ".repeat(200)}${crypto.randomUUID()}` });
    expect(long.res.headers.get("retry-after")).toBe("60");
    const refused = await result(t, long);
    expect(refused.seen).toEqual(limited(id));
    expect(errorMessage(refused.body)).toContain("200 tokens per minute");
    // No max_tokens: the worst case is 4,096 output tokens, above the limit.
    expect(await seen(t, await chat(t))).toEqual(limited(id));
    // A short prompt with a small max_tokens fits.
    expect(await seen(t, await chat(t, { maxTokens: 100 }))).toEqual(ADMITTED);
  });

  it("starts a changed limit afresh and lifts a deleted one", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/rate-limits", { name: "One", requests_per_minute: 1 });
    expect(await seen(t, await chat(t))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t))).toEqual(limited(id));
    const put = await t.api(`/rate-limits/${id}`, { method: "PUT", json: { name: "Two", requests_per_minute: 2 } });
    expect(put.status).toBe(200);
    await put.text();
    expect(await seen(t, await chat(t))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t))).toEqual(ADMITTED);
    expect(await seen(t, await chat(t))).toEqual(limited(id));
    expect((await t.api(`/rate-limits/${id}`, { method: "DELETE" })).status).toBe(204);
    expect(await seen(t, await chat(t))).toEqual(ADMITTED);
  });

  it("does not take a request from the limit when a policy refuses the call", async () => {
    const t = await newTenant();
    await createRule(t, "/rate-limits", { name: "One", requests_per_minute: 1 });
    const policy = await createRule(t, "/policies", { name: "No o1", deny_models: ["o1*"] });
    expect(await seen(t, await chat(t, { model: "o1-mini" }))).toEqual(denied(policy));
    expect(await seen(t, await chat(t))).toEqual(ADMITTED);
  });
});

describe.concurrent("audit of refusals", () => {
  it("records a refused call as call.refused, naming the rule and the code", async () => {
    const t = await newTenant();
    const id = await createRule(t, "/policies", { name: "No 4o", deny_models: ["gpt-4o*"] });
    const refused = await result(t, await chat(t));
    expect(refused.seen).toEqual(denied(id));
    expect(await refusalAudit(t, refused.requestId)).toMatchObject({
      type: "call.refused",
      actor: { kind: "key", id: t.keyId },
      subject: id,
      data: { code: "policy_denied", provider: "openai", model: "gpt-4o-mini" },
    });
  });
});
