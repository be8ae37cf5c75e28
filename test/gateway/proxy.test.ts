// The gateway end to end over raw HTTP: keys, bad input, dimensions, metering against the usage
// the demo upstream reports. SDK-level tests live in test/e2e/.
import { beforeAll, describe, expect, it } from "vitest";
import { priceCall } from "../../shared/pricing.ts";
import { newTenant, testTag, upstreamCalls, waitForEvent, worker, type Tenant } from "../helpers.ts";

let tenant: Tenant;
beforeAll(async () => {
  tenant = await newTenant();
});

function chat(key: string, body: unknown, headers: Record<string, string> = {}) {
  return worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

describe("authentication", () => {
  const cases: [string, string][] = [
    ["missing", ""],
    ["malformed", "sk-not-an-outlay-key"],
    ["unknown tenant", "olk_aaaaaaaaaaaa_bbbbbbbbbbbb_cccccccccccccccccccccccccccccccc"],
  ];
  for (const [name, key] of cases) {
    it(`refuses a ${name} key with 401 in OpenAI's shape and no upstream call`, async () => {
      const tag = testTag();
      const res = await chat(key, { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }, tag.headers);
      expect(res.status).toBe(401);
      expect(res.headers.get("x-outlay-refusal")).toBe("invalid_api_key");
      expect(res.headers.get("x-outlay-request-id")).toMatch(/^req_/);
      const body = (await res.json()) as { error: { type: string; code: string; message: string } };
      expect(body.error.code).toBe("invalid_api_key");
      expect(body.error.type).toBe("invalid_request_error");
      expect(await upstreamCalls(tag.id)).toEqual([]);
    });
  }

  it("refuses a key whose secret is wrong though its routing part is right", async () => {
    const forged = `${tenant.proxyKey.slice(0, -32)}${"a".repeat(32)}`;
    const res = await chat(forged, { model: "gpt-4o-mini", messages: [] });
    expect(res.status).toBe(401);
  });

  it("refuses a revoked key on the very next request", async () => {
    const t = await newTenant();
    const ok = await chat(t.proxyKey, { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    expect(ok.status).toBe(200);
    await ok.text();
    const revoked = await t.api(`/keys/${t.keyId}/revoke`, { method: "POST" });
    expect(revoked.status).toBe(200);
    const res = await chat(t.proxyKey, { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(401);
  });

  it("refuses an expired key", async () => {
    const expiresAt = Date.now() + 4000;
    const created = await tenant.api("/keys", {
      method: "POST",
      json: { name: "short", expires_at: expiresAt },
    });
    expect(created.status).toBe(201);
    const { key, expires_at } = (await created.json()) as { key: string; expires_at: string };
    expect(key).toMatch(/^olk_/);
    expect(Date.parse(expires_at)).toBe(expiresAt);
    // The key works until it expires, so the refusal below is the expiry's doing.
    const before = await chat(key, { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    expect(before.status).toBe(200);
    await before.text();
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 100));
    const res = await chat(key, { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] });
    expect(res.status).toBe(401);
  });

  it("accepts the key where each SDK puts it", async () => {
    const anthropic = await worker("/anthropic/v1/messages", {
      method: "POST",
      headers: { "x-api-key": tenant.proxyKey, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-3-5-haiku-latest",
        max_tokens: 20,
        messages: [{ role: "user", content: "hi" }],
      }),
    });
    expect(anthropic.status).toBe(200);
    await anthropic.text();
    const google = await worker("/google/v1beta/models/gemini-2.5-flash:generateContent", {
      method: "POST",
      headers: { "x-goog-api-key": tenant.proxyKey, "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    });
    expect(google.status).toBe(200);
    await google.text();
    const googleQuery = await worker(`/google/v1beta/models/gemini-2.5-flash:generateContent?key=${tenant.proxyKey}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
    });
    // Gemini's REST examples put the key in ?key=; URLs reach request logs, so it is refused.
    expect(googleQuery.status).toBe(401);
    expect(await googleQuery.text()).toContain("not take keys in the URL");
  });
});

describe("bad input never reaches the upstream", () => {
  const cases: [string, (tag: Record<string, string>) => Promise<Response>, number, string][] = [
    ["malformed JSON", (tag) => chat(tenant.proxyKey, "{not json", tag), 400, "invalid_json"],
    ["a JSON array", (tag) => chat(tenant.proxyKey, "[1,2]", tag), 400, "invalid_json"],
    ["no model", (tag) => chat(tenant.proxyKey, { messages: [] }, tag), 400, "missing_model"],
    [
      "a model of the wrong type",
      (tag) => chat(tenant.proxyKey, { model: 42, messages: [] }, tag),
      400,
      "missing_model",
    ],
    [
      "the wrong content type",
      (tag) => chat(tenant.proxyKey, JSON.stringify({ model: "gpt-4o" }), { "content-type": "text/plain", ...tag }),
      415,
      "unsupported_media_type",
    ],
    [
      "an oversized body",
      (tag) => chat(tenant.proxyKey, JSON.stringify({ model: "gpt-4o", pad: "x".repeat(33 * 1024 * 1024) }), tag),
      413,
      "payload_too_large",
    ],
    [
      "an unsupported endpoint",
      (tag) =>
        worker("/openai/v1/fine_tuning/jobs", {
          method: "POST",
          headers: { authorization: `Bearer ${tenant.proxyKey}`, "content-type": "application/json", ...tag },
          body: "{}",
        }),
      404,
      "unknown_route",
    ],
    [
      "an unknown provider path",
      (tag) =>
        worker("/nosuchprovider/v1/chat/completions", {
          method: "POST",
          headers: { authorization: `Bearer ${tenant.proxyKey}`, "content-type": "application/json", ...tag },
          body: JSON.stringify({ model: "x", messages: [] }),
        }),
      404,
      "unknown_provider",
    ],
  ];
  for (const [name, send, status, code] of cases) {
    it(`answers ${name} with ${status} ${code}`, async () => {
      const tag = testTag();
      const res = await send(tag.headers);
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.message.length).toBeGreaterThan(5);
      expect(await upstreamCalls(tag.id)).toEqual([]);
    });
  }

  it("a well-formed call with a test id does reach the upstream under it (the checks above can fail)", async () => {
    const tag = testTag();
    const res = await chat(
      tenant.proxyKey,
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] },
      tag.headers,
    );
    expect(res.status).toBe(200);
    await res.text();
    expect((await upstreamCalls(tag.id)).map((r) => [r.path, r.status])).toEqual([
      ["/openai/v1/chat/completions", 200],
    ]);
  });

  it("answers Anthropic-shaped errors on the Anthropic route", async () => {
    const res = await worker("/anthropic/v1/messages", {
      method: "POST",
      headers: { "x-api-key": tenant.proxyKey, "content-type": "application/json" },
      body: "{oops",
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { type: string; error: { type: string } };
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("invalid_request_error");
  });

  it("answers Gemini-shaped errors on the Google route", async () => {
    const res = await worker("/google/v1beta/models/gemini-2.5-flash:generateContent", {
      method: "POST",
      headers: { "x-goog-api-key": "wrong", "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { code: number; status: string } };
    expect(body.error).toMatchObject({ code: 401, status: "UNAUTHENTICATED" });
  });

  it("records a bad request after authentication as an event with no usage", async () => {
    const res = await chat(tenant.proxyKey, "{broken");
    const event = await waitForEvent(tenant.tenantId, res.headers.get("x-outlay-request-id") ?? "");
    expect(event).toMatchObject({
      status: 400,
      outcome: "bad_request",
      input_tokens: 0,
      output_tokens: 0,
      cost_nano_usd: 0,
    });
  });
});

describe("dimensions", () => {
  it("records header dimensions, the user field and key-bound dimensions", async () => {
    const t = await newTenant({ keyDimensions: { team: "search" } });
    const res = await chat(
      t.proxyKey,
      { model: "gpt-4o-mini", user: "u-42", messages: [{ role: "user", content: "hello" }] },
      { "x-outlay-dimension-feature": "autocomplete", "x-outlay-dimension-team": "search" },
    );
    expect(res.status).toBe(200);
    await res.text();
    const event = await waitForEvent(t.tenantId, res.headers.get("x-outlay-request-id") ?? "");
    expect(JSON.parse(event.dimensions)).toEqual({ team: "search", feature: "autocomplete", user: "u-42" });
  });

  it("refuses to override a key-bound dimension, naming it", async () => {
    const t = await newTenant({ keyDimensions: { team: "search" } });
    const res = await chat(t.proxyKey, { model: "gpt-4o-mini", messages: [] }, { "x-outlay-dimension-team": "ads" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('"team"');
  });

  it("refuses bad dimension names, values and counts, naming the problem", async () => {
    const long = await chat(
      tenant.proxyKey,
      { model: "gpt-4o-mini", messages: [] },
      { "x-outlay-dimension-team": "x".repeat(129) },
    );
    expect(long.status).toBe(400);
    expect(((await long.json()) as { error: { message: string } }).error.message).toContain('"team"');
    const badName = await chat(
      tenant.proxyKey,
      { model: "gpt-4o-mini", messages: [] },
      { "x-outlay-dimension-Bad.Name": "v" },
    );
    expect(badName.status).toBe(400);
    const many: Record<string, string> = {};
    for (let i = 0; i < 11; i++) many[`x-outlay-dimension-d${i}`] = "v";
    const tooMany = await chat(tenant.proxyKey, { model: "gpt-4o-mini", messages: [] }, many);
    expect(tooMany.status).toBe(400);
  });
});

describe("metering", () => {
  it("records exactly the usage the upstream reported, priced from the catalog", async () => {
    const res = await chat(
      tenant.proxyKey,
      { model: "gpt-4o", messages: [{ role: "user", content: "Tell me about spend control. ".repeat(20) }] },
      { "x-demo-cached-tokens": "64" },
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    const event = await waitForEvent(tenant.tenantId, res.headers.get("x-outlay-request-id") ?? "");
    expect(event.input_tokens).toBe(body.usage.prompt_tokens);
    expect(event.cached_input_tokens).toBe(64);
    expect(event.output_tokens).toBe(body.usage.completion_tokens);
    expect(event.usage_source).toBe("provider");
    const expected = priceCall(
      "openai",
      "gpt-4o",
      {
        inputTokens: body.usage.prompt_tokens,
        cachedInputTokens: 64,
        cacheWriteTokens: 0,
        outputTokens: body.usage.completion_tokens,
        reasoningTokens: 0,
      },
      [],
    );
    expect(event.cost_nano_usd).toBe(expected?.costNanoUsd);
  });

  it("flags an unknown model as unpriced but keeps its tokens", async () => {
    const res = await chat(tenant.proxyKey, {
      model: "totally-new-model-9000",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(res.status).toBe(200);
    await res.text();
    const event = await waitForEvent(tenant.tenantId, res.headers.get("x-outlay-request-id") ?? "");
    expect(event.unpriced).toBe(1);
    expect(event.cost_nano_usd).toBeNull();
    expect(event.input_tokens).toBeGreaterThan(0);
  });
});
