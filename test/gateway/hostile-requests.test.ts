// Requests an attacker would send through the gateway (issue 11's probe, and the classes behind
// each finding): encoded paths that would reach other upstream endpoints or other models,
// credentials in places the upstream would read, redirects, malformed and oversized fields.
// Every check of "never reached the upstream" reads this test's own traffic (tagged by a header
// the gateway forwards and the demo upstream logs), not a shared count.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { ledgerFor } from "../../workers/ledger/index.ts";
import { beforeAll, describe, expect, it } from "vitest";
import { newTenant, testTag, upstreamCalls, waitForEvent, worker, type Tenant } from "../helpers.ts";

let tenant: Tenant;
beforeAll(async () => {
  tenant = await newTenant();
  const res = await tenant.api("/providers/echo-up", {
    method: "PUT",
    json: { api_key: "demo-echo-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` },
  });
  if (res.status !== 200) throw new Error(`provider echo-up: ${res.status}`);
});

/** One test's view of upstream traffic: headers to send, and the upstream calls that carried them. */
function traffic() {
  const tag = testTag();
  return { headers: tag.headers, calls: () => upstreamCalls(tag.id) };
}

type Route = "openai" | "anthropic" | "google";
function keyHeaders(route: Route, key: string): Record<string, string> {
  if (route === "anthropic") return { "x-api-key": key, "anthropic-version": "2023-06-01" };
  if (route === "google") return { "x-goog-api-key": key };
  return { authorization: `Bearer ${key}` };
}

function send(
  path: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string>; key?: string } = {},
) {
  const route: Route = path.startsWith("/anthropic/") ? "anthropic" : path.startsWith("/google/") ? "google" : "openai";
  const headers: Record<string, string> = { ...keyHeaders(route, init.key ?? tenant.proxyKey), ...init.headers };
  let body: string | undefined;
  if (init.body !== undefined) {
    headers["content-type"] = "application/json";
    body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
  }
  return worker(path, { method: init.method ?? (body === undefined ? "GET" : "POST"), headers, body });
}

const CHAT = { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] };
const GEMINI = { contents: [{ role: "user", parts: [{ text: "hi" }] }] };
const CLAUDE = { model: "claude-3-5-haiku-latest", max_tokens: 20, messages: [{ role: "user", content: "hi" }] };

describe("encoded paths never reach another upstream endpoint", () => {
  // Every spelling of a separator or dot segment that a parser along the way could resolve.
  const tails = [
    "..%5C..%5Cadmin%5Cusers",
    "..%5cfiles%5cfile-abc%5ccontent",
    "..%5C..%5C..%5Cv1%5Cfiles",
    "%2e%2e%5c%2e%2e%5cadmin",
    "%2E%2E%2F%2E%2E%2Fadmin",
    "..%2F..%2Fadmin",
    "..%2f..%2fadmin",
    "%252e%252e%255cadmin",
    "%255C..%255Cadmin",
    "..%255c..%255cadmin",
    "%C0%AE%C0%AE%5Cadmin",
    "%C0%AF..%C0%AFadmin",
    "%E0%80%AE%E0%80%AE%5Cadmin",
    "gpt-4o%00..%5Cadmin",
    "gpt-4o%0d%0aX-Injected:%201",
    "gpt-4o%09..",
    "gpt-4o%20..",
    "gpt-4o%3B..%3B",
    "..%3B%5Cadmin",
    "%E2%80%AEnimda",
    "%",
    "%zz",
    "gpt-4o%5C",
    "a".repeat(300),
  ];
  const routes = ["/openai/v1/models/", "/v1/models/", "/echo-up/v1/models/"];
  for (const prefix of routes) {
    it(`refuses GET ${prefix}<encoded tail> with 400 in OpenAI's shape and sends nothing`, async () => {
      const t = traffic();
      for (const tail of tails) {
        const res = await send(`${prefix}${tail}`, { headers: t.headers });
        const body = (await res.json()) as { error: { type: string; code: string } };
        expect({ tail, status: res.status, refusal: res.headers.get("x-outlay-refusal"), ...body.error }).toMatchObject(
          {
            tail,
            status: 400,
            refusal: "bad_request",
            type: "invalid_request_error",
            code: "bad_request",
          },
        );
      }
      expect(await t.calls()).toEqual([]);
    });
  }

  it("refuses the same on Anthropic and Gemini routes, in their shapes, for POST endpoints", async () => {
    const t = traffic();
    const anthropic = await send("/anthropic/v1/messages%5C..%5Cmodels", { body: CLAUDE, headers: t.headers });
    expect(anthropic.status).toBe(400);
    expect(await anthropic.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    for (const path of [
      "/google/v1beta/models/gemini-2.5-flash%5C..%5Cgemini-2.5-pro:generateContent",
      "/google/v1beta/models/x%5C..%5C..%5Cv1beta%5Cmodels%5Cgemini-2.5-pro:countTokens",
      "/google/v1beta/models/gemini-2.5-flash%2F..%2Fgemini-2.5-pro:generateContent",
      "/google/v1beta/models/gemini-2.5-flash%252F..%252Fgemini-2.5-pro:generateContent",
      "/google/v1beta%5C..%5Cv1alpha/models/gemini-2.5-flash:generateContent",
    ]) {
      const res = await send(path, { body: GEMINI, headers: t.headers });
      expect({ path, status: res.status, body: await res.json() }).toMatchObject({
        path,
        status: 400,
        body: { error: { code: 400, status: "INVALID_ARGUMENT" } },
      });
    }
    expect(await t.calls()).toEqual([]);
  });

  it("still forwards the documented endpoints, with the path the upstream logs being the one checked", async () => {
    const t = traffic();
    const listed = await send("/openai/v1/models/gpt-4o-mini", { headers: t.headers });
    expect(listed.status).toBe(200);
    await listed.text();
    const gemini = await send("/google/v1beta/models/gemini-2.5-flash:generateContent", {
      body: GEMINI,
      headers: t.headers,
    });
    expect(gemini.status).toBe(200);
    await gemini.text();
    // A percent-encoded letter is decoded once and sent plainly: the same model either way.
    const encoded = await send("/google/v1beta/models/gemini-2.5-fl%61sh:generateContent", {
      body: GEMINI,
      headers: t.headers,
    });
    expect(encoded.status).toBe(200);
    await encoded.text();
    expect((await t.calls()).map((r) => r.path)).toEqual([
      "/openai/v1/models/gpt-4o-mini",
      "/google/v1beta/models/gemini-2.5-flash:generateContent",
      "/google/v1beta/models/gemini-2.5-flash:generateContent",
    ]);
  });
});

describe("the model a policy checks is the model that is sent and priced", () => {
  it("a key allowed only gemini-2.5-flash* cannot reach gemini-2.5-pro through an encoded path", async () => {
    const t = await newTenant();
    const policy = await t.api("/policies", {
      method: "POST",
      json: { name: "Flash only", key_id: t.keyId, allow_models: ["gemini-2.5-flash*"] },
    });
    expect(policy.status).toBe(201);
    const tag = traffic();
    const sneaky = await send("/google/v1beta/models/gemini-2.5-flash%5C..%5Cgemini-2.5-pro:generateContent", {
      key: t.proxyKey,
      body: GEMINI,
      headers: tag.headers,
    });
    expect(sneaky.status).toBe(400);
    await sneaky.text();
    const plain = await send("/google/v1beta/models/gemini-2.5-pro:generateContent", {
      key: t.proxyKey,
      body: GEMINI,
      headers: tag.headers,
    });
    expect(plain.status).toBe(403);
    expect(plain.headers.get("x-outlay-refusal")).toBe("policy_denied");
    await plain.text();
    expect(await tag.calls()).toEqual([]);
  });
});

describe("credentials reach the upstream only in the provider's own header", () => {
  const stray = (key: string) => ({
    "x-api-key": key,
    "x-goog-api-key": key,
    "api-key": key,
    "proxy-authorization": `Bearer ${key}`,
    "ocp-apim-subscription-key": key,
  });

  it("strips every other provider's key header on the OpenAI route", async () => {
    const t = traffic();
    const res = await send("/openai/v1/chat/completions", {
      body: CHAT,
      headers: { ...t.headers, ...stray(tenant.proxyKey) },
    });
    expect(res.status).toBe(200);
    await res.text();
    const [call] = await t.calls();
    expect(call?.headerNames).toContain("authorization");
    for (const name of Object.keys(stray(""))) expect(call?.headerNames).not.toContain(name);
  });

  it("strips Authorization and other key headers on the Anthropic and Gemini routes", async () => {
    const t = traffic();
    const anthropic = await send("/anthropic/v1/messages", {
      body: CLAUDE,
      headers: { ...t.headers, authorization: `Bearer ${tenant.proxyKey}`, "x-goog-api-key": tenant.proxyKey },
    });
    expect(anthropic.status).toBe(200);
    await anthropic.text();
    const google = await send("/google/v1beta/models/gemini-2.5-flash:generateContent", {
      body: GEMINI,
      headers: { ...t.headers, authorization: `Bearer ${tenant.proxyKey}`, "x-api-key": tenant.proxyKey },
    });
    expect(google.status).toBe(200);
    await google.text();
    const [toAnthropic, toGoogle] = await t.calls();
    expect(toAnthropic?.headerNames).toContain("x-api-key");
    expect(toAnthropic?.headerNames).not.toContain("authorization");
    expect(toAnthropic?.headerNames).not.toContain("x-goog-api-key");
    expect(toGoogle?.headerNames).toContain("x-goog-api-key");
    expect(toGoogle?.headerNames).not.toContain("authorization");
    expect(toGoogle?.headerNames).not.toContain("x-api-key");
  });

  it("refuses a key in the query string on every route, before anything is sent", async () => {
    const t = traffic();
    const cases: [string, unknown][] = [
      [`/google/v1beta/models/gemini-2.5-flash:generateContent?key=${tenant.proxyKey}`, GEMINI],
      [`/google/v1beta/models/gemini-2.5-flash:generateContent?alt=sse&KEY=${tenant.proxyKey}`, GEMINI],
      [`/openai/v1/chat/completions?key=${tenant.proxyKey}`, CHAT],
      [`/openai/v1/chat/completions?api_key=${tenant.proxyKey}`, CHAT],
      [`/echo-up/v1/chat/completions?access_token=${tenant.proxyKey}`, CHAT],
      [`/anthropic/v1/messages?api-key=${tenant.proxyKey}`, CLAUDE],
    ];
    for (const [path, body] of cases) {
      const res = await send(path, { body, headers: t.headers });
      const said = (await res.text()).includes("not take keys in the URL");
      expect({ path, status: res.status, refusal: res.headers.get("x-outlay-refusal"), said }).toEqual({
        path,
        status: 401,
        refusal: "invalid_api_key",
        said: true,
      });
    }
    expect(await t.calls()).toEqual([]);
  });

  it("forwards other query parameters (Gemini's alt=sse) as they are", async () => {
    const t = traffic();
    const res = await send("/google/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse", {
      body: GEMINI,
      headers: t.headers,
    });
    expect(res.status).toBe(200);
    await res.text();
    expect((await t.calls()).map((r) => r.queryNames)).toEqual([["alt"]]);
  });
});

describe("upstream redirects are never followed", () => {
  for (const status of [301, 302, 303, 307, 308]) {
    it(`answers a ${status} from the upstream with 502 and does not call where it points`, async () => {
      const t = await newTenant();
      const put = await t.api("/providers/bouncer", {
        method: "PUT",
        json: {
          api_key: "demo-bouncer-credential-0000",
          base_url: `${env.UPSTREAM_URL}/_demo/redirect/${status}/openai/v1`,
        },
      });
      expect(put.status).toBe(200);
      const tag = traffic();
      const res = await send("/bouncer/v1/chat/completions", { key: t.proxyKey, body: CHAT, headers: tag.headers });
      expect(res.status).toBe(502);
      expect(res.headers.get("x-outlay-refusal")).toBe("upstream_redirect");
      expect(res.headers.get("location")).toBeNull();
      await res.text();
      const calls = await tag.calls();
      expect(calls.map((r) => r.path)).toEqual([`/_demo/redirect/${status}/openai/v1/chat/completions`]);
      // The call is accounted once, as an upstream error with no usage.
      const requestId = res.headers.get("x-outlay-request-id") ?? "";
      const event = await waitForEvent(t.tenantId, requestId);
      expect(event).toMatchObject({ status: 502, outcome: "upstream_error", cost_nano_usd: 0 });
    });
  }
});

describe("malformed and oversized input answers 400 in the provider's shape", () => {
  function nested(depth: number): string {
    return `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"metadata_x":${"[".repeat(depth)}${"]".repeat(depth)}}`;
  }

  it("refuses deeply nested JSON (10,000 levels) after checking the key, and accepts 100 levels", async () => {
    const t = traffic();
    const deep = await send("/openai/v1/chat/completions", { body: nested(10_000), headers: t.headers });
    expect(deep.status).toBe(400);
    expect(await deep.json()).toMatchObject({ error: { code: "invalid_json", type: "invalid_request_error" } });
    const noKey = await send("/openai/v1/chat/completions", { key: "", body: nested(10_000), headers: t.headers });
    expect(noKey.status).toBe(401);
    await noKey.text();
    for (const path of ["/anthropic/v1/messages", "/google/v1beta/models/gemini-2.5-flash:generateContent"]) {
      const res = await send(path, { body: nested(10_000), headers: t.headers });
      expect({ path, status: res.status }).toEqual({ path, status: 400 });
      await res.text();
    }
    expect(await t.calls()).toEqual([]);
    const fine = await send("/openai/v1/chat/completions", { body: nested(100), headers: t.headers });
    expect(fine.status).toBe(200);
    await fine.text();
  });

  const limits: [string, string, Record<string, unknown>, string][] = [
    ["openai", "/openai/v1/chat/completions", { ...CHAT, max_tokens: 1e308 }, "max_tokens"],
    ["openai", "/openai/v1/chat/completions", { ...CHAT, max_completion_tokens: "100" }, "max_completion_tokens"],
    ["openai", "/openai/v1/chat/completions", { ...CHAT, max_tokens: -1 }, "max_tokens"],
    ["openai", "/openai/v1/chat/completions", { ...CHAT, max_tokens: 2.5 }, "max_tokens"],
    ["openai", "/openai/v1/chat/completions", { ...CHAT, max_tokens: 10_000_001 }, "max_tokens"],
    ["openai", "/openai/v1/chat/completions", { ...CHAT, stream: "true" }, "stream"],
    [
      "openai",
      "/openai/v1/responses",
      { model: "gpt-4o-mini", input: "hi", max_output_tokens: 1e308 },
      "max_output_tokens",
    ],
    ["openai", "/openai/v1/chat/completions", { ...CHAT, user: 42 }, "user"],
    ["anthropic", "/anthropic/v1/messages", { ...CLAUDE, max_tokens: 1e308 }, "max_tokens"],
    ["anthropic", "/anthropic/v1/messages", { ...CLAUDE, max_tokens: true }, "max_tokens"],
    ["anthropic", "/anthropic/v1/messages", { ...CLAUDE, stream: 1 }, "stream"],
    [
      "google",
      "/google/v1beta/models/gemini-2.5-flash:generateContent",
      { ...GEMINI, generationConfig: { maxOutputTokens: 1e308 } },
      "generationConfig.maxOutputTokens",
    ],
    [
      "google",
      "/google/v1beta/models/gemini-2.5-flash:generateContent",
      { ...GEMINI, generationConfig: 7 },
      "generationConfig",
    ],
  ];
  it("refuses output limits and flags the provider would read differently (1e308, strings, fractions)", async () => {
    const t = traffic();
    for (const [route, path, body, param] of limits) {
      const res = await send(path, { body, headers: t.headers });
      const text = await res.text();
      // OpenAI's error shape names the field in `param`; the others in the message.
      const named = route === "openai" ? (JSON.parse(text) as { error: { param: string } }).error.param : param;
      expect({ path, param, status: res.status, refusal: res.headers.get("x-outlay-refusal") }).toEqual({
        path,
        param,
        status: 400,
        refusal: "bad_request",
      });
      expect({ param, named, mentioned: text.includes(param) }).toEqual({ param, named: param, mentioned: true });
    }
    expect(await t.calls()).toEqual([]);
  });

  it("bounds the model: too long, control characters, spaces or non-ASCII are refused before any event", async () => {
    const t = traffic();
    const models = ["m".repeat(257), "m".repeat(1_000_000), "gpt-4o\u0000", "gpt 4o", "gpt-4o\n", "gpt-4ö"];
    for (const model of models) {
      const res = await send("/openai/v1/chat/completions", { body: { ...CHAT, model }, headers: t.headers });
      expect({ model: model.slice(0, 20), status: res.status }).toEqual({ model: model.slice(0, 20), status: 400 });
      expect(await res.json()).toMatchObject({ error: { param: "model" } });
      const claude = await send("/anthropic/v1/messages", { body: { ...CLAUDE, model }, headers: t.headers });
      expect({ model: model.slice(0, 20), status: claude.status }).toEqual({ model: model.slice(0, 20), status: 400 });
      await claude.text();
    }
    expect(await t.calls()).toEqual([]);
    const longest = await send("/openai/v1/chat/completions", {
      body: { ...CHAT, model: `gpt-4o-mini${"x".repeat(245)}` },
      headers: t.headers,
    });
    expect(longest.status).toBe(200);
    await longest.text();
  });

  it("holds the OpenAI user field to the dimension rules (no control characters, at most 128 characters)", async () => {
    const t = traffic();
    for (const user of ["a\u0001b", "line\nbreak", "u".repeat(129), "naïve"]) {
      const res = await send("/openai/v1/chat/completions", { body: { ...CHAT, user }, headers: t.headers });
      expect({ user, status: res.status }).toEqual({ user, status: 400 });
      expect(await res.json()).toMatchObject({ error: { code: "invalid_dimension", param: "user" } });
    }
    expect(await t.calls()).toEqual([]);
    const ok = await send("/openai/v1/chat/completions", {
      body: { ...CHAT, user: "user-42@example.com" },
      headers: t.headers,
    });
    expect(ok.status).toBe(200);
    const requestId = ok.headers.get("x-outlay-request-id") ?? "";
    await ok.text();
    const event = await waitForEvent(tenant.tenantId, requestId);
    expect(JSON.parse(event.dimensions)).toEqual({ user: "user-42@example.com" });
  });

  it("ignores a client-sent cf-connecting-ip that is not an address (it never reaches a policy message)", async () => {
    const t = await newTenant();
    const policy = await t.api("/policies", {
      method: "POST",
      json: { name: "Office", key_id: t.keyId, allowed_sources: ["203.0.113.0/24"] },
    });
    expect(policy.status).toBe(201);
    const res = await send("/openai/v1/chat/completions", {
      key: t.proxyKey,
      body: CHAT,
      headers: { "cf-connecting-ip": `x${"\u0007".repeat(10)}${"y".repeat(5000)}` },
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toContain("an unknown address");
    expect(body.error.message.length).toBeLessThan(300);
  });
});

describe("an unknown provider", () => {
  it("answers 404 unknown_provider, also under a block budget (which cannot price it)", async () => {
    const t = await newTenant();
    const path = "/nosuchprovider/v1/chat/completions";
    const before = await send(path, { key: t.proxyKey, body: CHAT });
    expect(before.status).toBe(404);
    expect(before.headers.get("x-outlay-refusal")).toBe("unknown_provider");
    await before.text();
    const budget = await t.api("/budgets", {
      method: "POST",
      json: { name: "Hard", window: "monthly", limit_usd: "5", mode: "block" },
    });
    expect(budget.status).toBe(201);
    const res = await send(path, { key: t.proxyKey, body: CHAT });
    expect(res.status).toBe(404);
    expect(res.headers.get("x-outlay-refusal")).toBe("unknown_provider");
    expect(await res.json()).toMatchObject({ error: { code: "unknown_provider" } });
  });
});

describe("a base URL stored before the base-URL rules were tightened", () => {
  for (const legacy of ["https://169.254.169.254/v1", "https://10.0.0.1/v1", "https://metadata.google.internal/v1"]) {
    it(`is checked again before the call: ${legacy} is never called`, async () => {
      const t = await newTenant({ providers: false });
      // As an older version could have stored it (the API refuses it now).
      await runInDurableObject(ledgerFor(env, t.tenantId), (_ledger, state) => {
        state.storage.sql.exec(
          "INSERT INTO providers (name, format, base_url, credential, key_hint, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
          "legacy",
          "openai",
          legacy,
          "not-a-sealed-credential",
          "0000",
          Date.now(),
        );
      });
      const res = await send("/legacy/v1/chat/completions", { key: t.proxyKey, body: CHAT });
      expect(res.status).toBe(400);
      expect(res.headers.get("x-outlay-refusal")).toBe("provider_not_configured");
      expect(await res.text()).toContain("no longer accepted");
    });
  }
});
