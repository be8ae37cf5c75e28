// Policies and rate limits enforced by the gateway: each policy feature (models, providers, key
// scope, output-token cap and default, required dimensions, allowed sources), key expiry, and
// requests/tokens per minute per key and per tenant. Every refused call is answered in the
// provider's error shape, leaves one usage event with outcome "refused", and never reaches the
// upstream: each call carries a unique marker header, which the demo upstream logs (it logs no
// message content), so "never reached" is checked by looking for the marker.
import { describe, expect, it } from "vitest";
import { newTenant, upstreamLog, waitForEvent, worker, type Tenant, type UpstreamRecord } from "../helpers.ts";

type Json = Record<string, unknown>;

const MARKER = "x-test-marker";

type Call = { res: Response; marker: string };

type ChatOptions = {
  key?: string;
  model?: string;
  maxTokens?: number;
  prompt?: string;
  headers?: Record<string, string>;
};

async function chat(t: Tenant, options: ChatOptions = {}): Promise<Call> {
  const marker = crypto.randomUUID();
  const body: Json = {
    model: options.model ?? "gpt-4o-mini",
    messages: [{ role: "user", content: options.prompt ?? `hello ${marker}` }],
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

async function reached(marker: string): Promise<UpstreamRecord[]> {
  return (await upstreamLog()).filter((r) => r.headers[MARKER] === marker);
}

/** A 200 that reached the upstream once; returns the answer and what the upstream logged. */
async function expectAdmitted(call: Call): Promise<{ body: Json; upstream: UpstreamRecord }> {
  const text = await call.res.text();
  expect(call.res.status, text).toBe(200);
  expect(call.res.headers.get("x-outlay-refusal")).toBeNull();
  const log = await reached(call.marker);
  expect(log).toHaveLength(1);
  return { body: JSON.parse(text) as Json, upstream: log[0] as UpstreamRecord };
}

type Refusal = { status: number; code: string; rule: string; shape?: "openai" | "anthropic" };

/** Refused by `rule` with the status and code, in the provider's shape, recorded, never sent upstream. */
async function expectRefused(t: Tenant, call: Call, expected: Refusal): Promise<Json> {
  const { res, marker } = call;
  const text = await res.text();
  expect(res.status, text).toBe(expected.status);
  expect(res.headers.get("x-outlay-refusal")).toBe(expected.code);
  expect(res.headers.get("x-outlay-refusal-rule")).toBe(expected.rule);
  expect(res.headers.get("content-type")).toContain("application/json");
  const body = JSON.parse(text) as Json;
  if (expected.shape === "anthropic") {
    expect(body).toEqual({ type: "error", error: { type: expect.any(String), message: expect.any(String) } });
  } else {
    expect(body.error).toMatchObject({ message: expect.any(String), type: expect.any(String), code: expected.code });
  }
  const requestId = res.headers.get("x-outlay-request-id") ?? "";
  expect(requestId).toMatch(/^req_/);
  const event = await waitForEvent(t.tenantId, requestId);
  expect(event).toMatchObject({ outcome: "refused", status: expected.status, input_tokens: 0, output_tokens: 0 });
  expect(await reached(marker)).toEqual([]);
  return body;
}

async function rule(t: Tenant, path: "/policies" | "/rate-limits", body: Json): Promise<string> {
  const res = await t.api(path, { method: "POST", json: body });
  const text = await res.text();
  expect(res.status, text).toBe(201);
  return (JSON.parse(text) as { id: string }).id;
}

async function secondKey(t: Tenant, dimensions?: Record<string, string>): Promise<{ id: string; key: string }> {
  const res = await t.api("/keys", { method: "POST", json: { name: "second key", dimensions } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string };
}

const denied = (rule: string): Refusal => ({ status: 403, code: "policy_denied", rule });

type ChatAnswer = { usage: { completion_tokens: number }; choices: { finish_reason: string }[] };

describe("policies: models", () => {
  it("refuses a model a deny_models glob matches and admits another", async () => {
    const t = await newTenant();
    const id = await rule(t, "/policies", { name: "No 4o", deny_models: ["gpt-4o*"] });
    const body = await expectRefused(t, await chat(t, { model: "gpt-4o-mini" }), denied(id));
    expect(String((body.error as Json).message)).toContain("gpt-4o-mini");
    await expectRefused(t, await chat(t, { model: "gpt-4o" }), denied(id));
    const { upstream } = await expectAdmitted(await chat(t, { model: "gpt-4.1-mini" }));
    expect(upstream.model).toBe("gpt-4.1-mini");
  });

  it("admits only the models an allow_models list names", async () => {
    const t = await newTenant();
    const id = await rule(t, "/policies", { name: "Only 4.1", allow_models: ["gpt-4.1*", "claude-*"] });
    await expectAdmitted(await chat(t, { model: "gpt-4.1-nano" }));
    await expectAdmitted(await messages(t));
    await expectRefused(t, await chat(t, { model: "gpt-4o-mini" }), denied(id));
    // Globs are whole-name matches: a prefix alone does not match.
    await expectRefused(t, await chat(t, { model: "gpt-4" }), denied(id));
  });

  it("applies a rule change to the very next call", async () => {
    const t = await newTenant();
    const id = await rule(t, "/policies", { name: "No 4o", deny_models: ["gpt-4o*"] });
    await expectRefused(t, await chat(t), denied(id));
    const put = await t.api(`/policies/${id}`, { method: "PUT", json: { name: "No o1", deny_models: ["o1*"] } });
    expect(put.status).toBe(200);
    await put.text();
    await expectAdmitted(await chat(t));
    await expectRefused(t, await chat(t, { model: "o1-mini" }), denied(id));
    expect((await t.api(`/policies/${id}`, { method: "DELETE" })).status).toBe(204);
    await expectAdmitted(await chat(t, { model: "o1-mini" }));
  });
});

describe("policies: providers", () => {
  it("admits only the providers allow_providers names", async () => {
    const t = await newTenant();
    const id = await rule(t, "/policies", { name: "Anthropic only", allow_providers: ["anthropic"] });
    await expectAdmitted(await messages(t));
    await expectRefused(t, await chat(t), denied(id));
  });

  it("refuses a provider deny_providers names, in that provider's error shape", async () => {
    const t = await newTenant();
    const id = await rule(t, "/policies", { name: "No Anthropic", deny_providers: ["anthro*"] });
    await expectAdmitted(await chat(t));
    const body = await expectRefused(t, await messages(t), { ...denied(id), shape: "anthropic" });
    expect(String((body.error as Json).message)).toContain("anthropic");
  });
});

describe("policies: key scope", () => {
  it("applies a key's own policy to that key only", async () => {
    const t = await newTenant();
    const other = await secondKey(t);
    const id = await rule(t, "/policies", { name: "Second key: no 4o", key_id: other.id, deny_models: ["gpt-4o*"] });
    await expectAdmitted(await chat(t));
    await expectRefused(t, await chat(t, { key: other.key }), denied(id));
    await expectAdmitted(await chat(t, { key: other.key, model: "gpt-4.1-mini" }));
  });

  it("holds a key to every policy that applies: tenant-wide and its own", async () => {
    const t = await newTenant();
    const other = await secondKey(t);
    const wide = await rule(t, "/policies", { name: "Everyone: no o1", deny_models: ["o1*"] });
    const own = await rule(t, "/policies", { name: "Second key: 4.1 only", key_id: other.id, allow_models: ["gpt-4.1*"] });
    await expectRefused(t, await chat(t, { key: other.key, model: "o1-mini" }), denied(wide));
    await expectRefused(t, await chat(t, { key: other.key, model: "gpt-4o-mini" }), denied(own));
    await expectAdmitted(await chat(t, { key: other.key, model: "gpt-4.1-mini" }));
    await expectRefused(t, await chat(t, { model: "o1-mini" }), denied(wide));
    await expectAdmitted(await chat(t, { model: "gpt-4o-mini" }));
  });
});

describe("policies: output tokens", () => {
  it("refuses a request asking for more than max_tokens_cap", async () => {
    const t = await newTenant();
    const id = await rule(t, "/policies", { name: "Cap 100", max_tokens_cap: 100 });
    const body = await expectRefused(t, await chat(t, { maxTokens: 101 }), denied(id));
    expect(String((body.error as Json).message)).toContain("100");
    const { body: answer } = await expectAdmitted(await chat(t, { maxTokens: 100 }));
    expect((answer as ChatAnswer).usage.completion_tokens).toBeLessThanOrEqual(100);
  });

  it("refuses max_completion_tokens above the cap too", async () => {
    const t = await newTenant();
    const id = await rule(t, "/policies", { name: "Cap 100", max_tokens_cap: 100 });
    const marker = crypto.randomUUID();
    const res = await worker("/openai/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${t.proxyKey}`, "content-type": "application/json", [MARKER]: marker },
      body: JSON.stringify({
        model: "gpt-4o-mini",
        max_completion_tokens: 500,
        messages: [{ role: "user", content: `hi ${marker}` }],
      }),
    });
    await expectRefused(t, { res, marker }, denied(id));
  });

  it("limits a request without max_tokens to the cap", async () => {
    const t = await newTenant();
    await rule(t, "/policies", { name: "Cap 6", max_tokens_cap: 6 });
    // The demo answer is 24 tokens long; the upstream cuts it at the limit Outlay added.
    const { body, upstream } = await expectAdmitted(await chat(t));
    expect((body as ChatAnswer).usage.completion_tokens).toBe(6);
    expect(upstream.usage).toMatchObject({ completion_tokens: 6 });
  });

  it("adds default_max_tokens to a request without max_tokens, and not to one with it", async () => {
    const t = await newTenant();
    await rule(t, "/policies", { name: "Default 5", default_max_tokens: 5 });
    // The upstream log records no request body, but the demo upstream cuts its 24-token answer at
    // the limit it was sent: 5 completion tokens and finish_reason "length" prove the injection.
    const without = await expectAdmitted(await chat(t));
    expect((without.body as ChatAnswer).usage.completion_tokens).toBe(5);
    expect((without.body as ChatAnswer).choices[0]?.finish_reason).toBe("length");
    expect(without.upstream.usage).toMatchObject({ completion_tokens: 5 });
    const own = await expectAdmitted(await chat(t, { maxTokens: 12 }));
    expect((own.body as ChatAnswer).usage.completion_tokens).toBe(12);
    expect(own.upstream.usage).toMatchObject({ completion_tokens: 12 });
    const more = await expectAdmitted(await chat(t, { maxTokens: 1000 }));
    expect((more.body as ChatAnswer).usage.completion_tokens).toBe(24);
    expect((more.body as ChatAnswer).choices[0]?.finish_reason).toBe("stop");
  });

  it("adds the lower of default_max_tokens and the cap when policies disagree", async () => {
    const t = await newTenant();
    await rule(t, "/policies", { name: "Default 20", default_max_tokens: 20 });
    await rule(t, "/policies", { name: "Cap 7", max_tokens_cap: 7 });
    const { body } = await expectAdmitted(await chat(t));
    expect((body as ChatAnswer).usage.completion_tokens).toBe(7);
  });
});

describe("policies: required dimensions", () => {
  it("refuses a call without a required dimension and admits one that carries it", async () => {
    const t = await newTenant();
    const id = await rule(t, "/policies", { name: "Team required", required_dimensions: ["team"] });
    const body = await expectRefused(t, await chat(t), denied(id));
    expect(String((body.error as Json).message)).toContain("x-outlay-dimension-team");
    await expectRefused(t, await chat(t, { headers: { "x-outlay-dimension-project": "p1" } }), denied(id));
    const withTeam = await chat(t, { headers: { "x-outlay-dimension-team": "search" } });
    const requestId = withTeam.res.headers.get("x-outlay-request-id") ?? "";
    const { upstream } = await expectAdmitted(withTeam);
    // Outlay's own headers are not forwarded.
    expect(upstream.headers["x-outlay-dimension-team"]).toBeUndefined();
    const event = await waitForEvent(t.tenantId, requestId);
    expect(event.outcome).toBe("ok");
    expect(JSON.parse(event.dimensions)).toEqual({ team: "search" });
  });

  it("admits a key whose bound dimensions include the required one", async () => {
    const t = await newTenant();
    const bound = await secondKey(t, { team: "infra" });
    const id = await rule(t, "/policies", { name: "Team required", required_dimensions: ["team"] });
    const call = await chat(t, { key: bound.key });
    const requestId = call.res.headers.get("x-outlay-request-id") ?? "";
    await expectAdmitted(call);
    expect(JSON.parse((await waitForEvent(t.tenantId, requestId)).dimensions)).toEqual({ team: "infra" });
    await expectRefused(t, await chat(t), denied(id));
  });
});

describe("policies: allowed sources", () => {
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
      const id = await rule(t, "/policies", { name: "Office", allowed_sources: sources });
      const call = await chat(t, { headers: source === null ? {} : { "cf-connecting-ip": source } });
      if (allowed) {
        const { upstream } = await expectAdmitted(call);
        // The client's address header is not passed on to the upstream.
        expect(upstream.headers["cf-connecting-ip"]).toBeUndefined();
      } else {
        await expectRefused(t, call, denied(id));
      }
    });
  }

  it("applies a key's source list to that key only", async () => {
    const t = await newTenant();
    const other = await secondKey(t);
    const id = await rule(t, "/policies", { name: "Office", key_id: other.id, allowed_sources: ["10.0.0.0/8"] });
    const outside = { "cf-connecting-ip": "198.51.100.1" };
    await expectAdmitted(await chat(t, { headers: outside }));
    await expectRefused(t, await chat(t, { key: other.key, headers: outside }), denied(id));
    await expectAdmitted(await chat(t, { key: other.key, headers: { "cf-connecting-ip": "10.9.9.9" } }));
  });
});

describe("key expiry", () => {
  it("refuses a key once its expiry has passed, and never calls the upstream", async () => {
    const t = await newTenant();
    const created = await t.api("/keys", { method: "POST", json: { name: "short", expires_at: Date.now() + 1500 } });
    expect(created.status).toBe(201);
    const { key, id } = (await created.json()) as { key: string; id: string };
    await expectAdmitted(await chat(t, { key }));
    await new Promise((resolve) => setTimeout(resolve, 1600));
    const call = await chat(t, { key });
    const body = (await call.res.json()) as { error: Json };
    expect(call.res.status).toBe(401);
    expect(call.res.headers.get("x-outlay-refusal")).toBe("invalid_api_key");
    expect(body.error.code).toBe("invalid_api_key");
    expect(await reached(call.marker)).toEqual([]);
    // The ledger audits the refusal, naming the reason.
    const requestId = call.res.headers.get("x-outlay-request-id") ?? "";
    const until = Date.now() + 10_000;
    let refused: Json | undefined;
    while (!refused && Date.now() < until) {
      const page = (await (await t.api("/audit?type=call.refused")).json()) as { events: Json[] };
      refused = page.events.find((e) => e.request_id === requestId);
      if (!refused) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(refused).toMatchObject({ actor: { kind: "key", id }, data: { code: "invalid_api_key", reason: "expired" } });
    // The tenant's other key still works.
    await expectAdmitted(await chat(t));
  });
});

describe("rate limits", () => {
  it("refuses the fourth call of a minute under requests_per_minute 3", async () => {
    const t = await newTenant();
    const id = await rule(t, "/rate-limits", { name: "Three a minute", requests_per_minute: 3 });
    for (let i = 0; i < 3; i++) await expectAdmitted(await chat(t));
    const fourth = await chat(t);
    const retryAfter = Number(fourth.res.headers.get("retry-after"));
    await expectRefused(t, fourth, { status: 429, code: "rate_limited", rule: id });
    // One request comes back every 20 s.
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(20);
  });

  it("answers a rate-limited Anthropic call in Anthropic's shape", async () => {
    const t = await newTenant();
    const id = await rule(t, "/rate-limits", { name: "One a minute", requests_per_minute: 1 });
    await expectAdmitted(await messages(t));
    const second = await messages(t);
    expect(Number(second.res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await expectRefused(t, second, { status: 429, code: "rate_limited", rule: id, shape: "anthropic" });
  });

  it("counts a key-scoped limit against that key only", async () => {
    const t = await newTenant();
    const other = await secondKey(t);
    const id = await rule(t, "/rate-limits", { name: "Second key", key_id: other.id, requests_per_minute: 1 });
    await expectAdmitted(await chat(t, { key: other.key }));
    await expectRefused(t, await chat(t, { key: other.key }), { status: 429, code: "rate_limited", rule: id });
    for (let i = 0; i < 3; i++) await expectAdmitted(await chat(t));
  });

  it("counts a tenant-wide limit across all keys", async () => {
    const t = await newTenant();
    const other = await secondKey(t);
    const id = await rule(t, "/rate-limits", { name: "Tenant", requests_per_minute: 2 });
    await expectAdmitted(await chat(t));
    await expectAdmitted(await chat(t, { key: other.key }));
    const limited = { status: 429, code: "rate_limited", rule: id };
    await expectRefused(t, await chat(t), limited);
    await expectRefused(t, await chat(t, { key: other.key }), limited);
  });

  it("refuses a request whose max_tokens plus prompt estimate exceeds tokens_per_minute", async () => {
    const t = await newTenant();
    const id = await rule(t, "/rate-limits", { name: "Tokens", tokens_per_minute: 200 });
    const limited = { status: 429, code: "rate_limited", rule: id };
    // max_tokens alone above the limit.
    await expectRefused(t, await chat(t, { maxTokens: 201 }), limited);
    // max_tokens within the limit, but a long prompt (about 1,000 bytes, some 250 tokens) on top.
    const long = await chat(t, { maxTokens: 150, prompt: `${"word ".repeat(200)}${crypto.randomUUID()}` });
    expect(long.res.headers.get("retry-after")).toBe("60");
    await expectRefused(t, long, limited);
    // No max_tokens: the worst case is 4,096 output tokens, above the limit.
    await expectRefused(t, await chat(t), limited);
    // A short prompt with a small max_tokens fits.
    await expectAdmitted(await chat(t, { maxTokens: 100 }));
  });

  it("starts a changed limit afresh and lifts a deleted one", async () => {
    const t = await newTenant();
    const id = await rule(t, "/rate-limits", { name: "One", requests_per_minute: 1 });
    await expectAdmitted(await chat(t));
    await expectRefused(t, await chat(t), { status: 429, code: "rate_limited", rule: id });
    const put = await t.api(`/rate-limits/${id}`, { method: "PUT", json: { name: "Two", requests_per_minute: 2 } });
    expect(put.status).toBe(200);
    await put.text();
    await expectAdmitted(await chat(t));
    await expectAdmitted(await chat(t));
    await expectRefused(t, await chat(t), { status: 429, code: "rate_limited", rule: id });
    expect((await t.api(`/rate-limits/${id}`, { method: "DELETE" })).status).toBe(204);
    await expectAdmitted(await chat(t));
  });

  it("does not take a request from the limit when a policy refuses the call", async () => {
    const t = await newTenant();
    await rule(t, "/rate-limits", { name: "One", requests_per_minute: 1 });
    const policy = await rule(t, "/policies", { name: "No o1", deny_models: ["o1*"] });
    await expectRefused(t, await chat(t, { model: "o1-mini" }), denied(policy));
    await expectAdmitted(await chat(t));
  });
});

describe("audit of refusals", () => {
  it("records a refused call as call.refused, naming the rule and the code", async () => {
    const t = await newTenant();
    const id = await rule(t, "/policies", { name: "No 4o", deny_models: ["gpt-4o*"] });
    const call = await chat(t);
    const requestId = call.res.headers.get("x-outlay-request-id") ?? "";
    await expectRefused(t, call, denied(id));
    const until = Date.now() + 10_000;
    let event: Json | undefined;
    while (!event && Date.now() < until) {
      const page = (await (await t.api("/audit?type=call.refused")).json()) as { events: Json[] };
      event = page.events.find((e) => e.request_id === requestId);
      if (!event) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(event).toMatchObject({
      type: "call.refused",
      actor: { kind: "key", id: t.keyId },
      subject: id,
      data: { code: "policy_denied", provider: "openai", model: "gpt-4o-mini" },
    });
  });
});
