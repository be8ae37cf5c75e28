// The management API: admin-token auth, validation errors that name the field, keys, providers
// (masked), settings, price overrides, usage sums and events — and no route crosses tenants.
import { beforeAll, describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { newRequestId } from "../../shared/ids.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { writeUsage } from "../../workers/ingest/usage-consumer.ts";
import { newTenant, operator, waitForEvent, worker, type Tenant } from "../helpers.ts";

type Json = Record<string, unknown>;

async function json(res: Response): Promise<Json> {
  return res.json();
}

let a: Tenant;
let b: Tenant;
beforeAll(async () => {
  [a, b] = await Promise.all([newTenant(), newTenant()]);
});

function chat(key: string, model = "gpt-4o-mini") {
  return worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello there" }] }),
  });
}

describe("admin-token authentication", () => {
  it("answers the same 401 for a missing, malformed, forged or superseded token", async () => {
    const forged = `${a.adminToken.slice(0, -32)}${"b".repeat(32)}`;
    const crossed = `ola_${b.tenantId}_${a.adminToken.split("_")[2]}_${a.adminToken.split("_")[3]}`;
    const bodies = new Set<string>();
    for (const token of ["", "nonsense", forged, crossed, a.proxyKey]) {
      const res = await worker("/api/v1/keys", { headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect(res.status).toBe(401);
      bodies.add(await res.text());
    }
    expect(bodies.size).toBe(1);
    const t = await newTenant({ providers: false });
    await operator(`/tenants/${t.tenantId}/admin-tokens`, "POST", { name: "tests" });
    expect((await t.api("/keys")).status).toBe(401);
  });

  it("refuses operator routes without the operator token", async () => {
    const res = await worker("/internal/v1/tenants/abcdefghijkl", {
      method: "PUT",
      headers: {
        authorization: "Bearer wrong-operator-token-wrong-operator-token",
        "content-type": "application/json",
      },
      body: JSON.stringify({ name: "x" }),
    });
    expect(res.status).toBe(401);
  });
});

describe("keys", () => {
  it("creates a key shown once, lists it without the secret, and revokes it", async () => {
    const created = await a.api("/keys", { method: "POST", json: { name: "ci", dimensions: { team: "infra" } } });
    expect(created.status).toBe(201);
    const body = await json(created);
    expect(body.key).toMatch(/^olk_[a-z2-7]{12}_[a-z2-7]{12}_[a-z2-7]{32}$/);
    const listed = JSON.stringify(await json(await a.api("/keys")));
    expect(listed).toContain(String(body.id));
    expect(listed).not.toContain(String(body.key));
    const revoked = await json(await a.api(`/keys/${String(body.id)}/revoke`, { method: "POST" }));
    expect(revoked.revoked_at).not.toBeNull();
    const again = await json(await a.api(`/keys/${String(body.id)}/revoke`, { method: "POST" }));
    expect(again.revoked_at).toBe(revoked.revoked_at);
  });

  const invalid: [string, RequestInit & { json?: unknown }, number, string | null][] = [
    ["no name", { method: "POST", json: {} }, 400, "name"],
    ["a name of the wrong type", { method: "POST", json: { name: 5 } }, 400, "name"],
    ["an unknown field", { method: "POST", json: { name: "x", colour: "red" } }, 400, null],
    [
      "a bad dimension",
      { method: "POST", json: { name: "x", dimensions: { "Bad Name": "v" } } },
      400,
      "dimensions.Bad Name",
    ],
    ["an expiry in the past", { method: "POST", json: { name: "x", expires_at: "2020-01-01" } }, 400, "expires_at"],
    ["an unreadable expiry", { method: "POST", json: { name: "x", expires_at: "next tuesday" } }, 400, "expires_at"],
    ["malformed JSON", { method: "POST", body: "{", headers: { "content-type": "application/json" } }, 400, null],
    [
      "the wrong content type",
      { method: "POST", body: "name=x", headers: { "content-type": "text/plain" } },
      415,
      null,
    ],
  ];
  for (const [name, init, status, field] of invalid) {
    it(`refuses ${name} with ${status}${field ? ` naming ${field}` : ""}`, async () => {
      const res = await a.api("/keys", init);
      expect(res.status).toBe(status);
      const error = (await json(res)).error as Json;
      expect(String(error.message).length).toBeGreaterThan(3);
      expect(error.field).toBe(field ?? undefined);
    });
  }
});

describe("providers", () => {
  it("stores a credential masked, never returning it", async () => {
    const secret = "sk-live-abcdefghijklmnopqrstuvwxyz123456";
    const res = await a.api("/providers/openai", {
      method: "PUT",
      json: { api_key: secret, base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    expect(res.status).toBe(200);
    const shown = await json(res);
    expect(shown.api_key).toBe("sk-…3456");
    const listed = await (await a.api("/providers")).text();
    expect(listed).not.toContain(secret);
    expect(listed).toContain("anthropic");
    expect((await a.api("/providers/openai")).status).toBe(200);
  });

  it("adds an OpenAI-compatible provider by name, reachable at /<name>/v1", async () => {
    const t = await newTenant();
    const put = await t.api("/providers/my-vllm", {
      method: "PUT",
      json: { api_key: "local-key-0123456789", base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    expect(put.status).toBe(200);
    expect((await json(put)).format).toBe("openai");
    const res = await worker("/my-vllm/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${t.proxyKey}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "llama-3.1-8b", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    const event = await waitForEvent(t.tenantId, res.headers.get("x-outlay-request-id") ?? "");
    expect(event).toMatchObject({ provider: "my-vllm", model: "llama-3.1-8b", unpriced: 1 });
  });

  const invalid: [string, string, unknown, string][] = [
    ["a custom provider without base_url", "/providers/my-llm", { api_key: "k" }, "base_url"],
    [
      "plain http to a public host",
      "/providers/openai",
      { api_key: "k", base_url: "http://example.com/v1" },
      "base_url",
    ],
    [
      "a base_url with credentials",
      "/providers/openai",
      { api_key: "k", base_url: "https://u:p@example.com/v1" },
      "base_url",
    ],
    ["a reserved name", "/providers/api", { api_key: "k", base_url: "https://example.com" }, "provider"],
    ["an empty key", "/providers/openai", { api_key: "" }, "api_key"],
  ];
  for (const [name, path, body, field] of invalid) {
    it(`refuses ${name}`, async () => {
      const res = await a.api(path, { method: "PUT", json: body });
      expect(res.status).toBe(400);
      expect(((await json(res)).error as Json).field).toBe(field);
    });
  }

  it("refuses a call to a provider with no credential", async () => {
    const t = await newTenant({ providers: false });
    const none = await chat(t.proxyKey);
    expect(none.status).toBe(400);
    expect(none.headers.get("x-outlay-refusal")).toBe("provider_not_configured");
  });

  it("uses a pass-through provider key only when the tenant allows it", async () => {
    const t = await newTenant();
    const pass = () =>
      worker("/openai/v1/chat/completions", {
        method: "POST",
        headers: {
          authorization: `Bearer ${t.proxyKey}`,
          "content-type": "application/json",
          "x-outlay-provider-key": "sk-own-key-123456789",
        },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
      });
    const refused = await pass();
    expect(refused.status).toBe(403);
    expect(refused.headers.get("x-outlay-refusal")).toBe("forbidden");
    await t.api("/settings", { method: "PATCH", json: { allow_passthrough_keys: true } });
    const allowed = await pass();
    expect(allowed.status).toBe(200);
    await allowed.text();
    const invalidKey = await worker("/openai/v1/chat/completions", {
      method: "POST",
      headers: {
        authorization: `Bearer ${t.proxyKey}`,
        "content-type": "application/json",
        "x-outlay-provider-key": "invalid",
      },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "hi" }] }),
    });
    // The upstream refuses the pass-through key itself: its 401 is relayed in its own shape.
    expect(invalidKey.status).toBe(401);
    expect(((await json(invalidKey)).error as Json).code).toBe("invalid_api_key");
  });
});

describe("price overrides", () => {
  it("prices the next call at the tenant's negotiated rate", async () => {
    const t = await newTenant();
    // A call first, so the ledger has the catalog state in memory before the override arrives.
    const before = await chat(t.proxyKey);
    await before.text();
    expect(
      JSON.parse(String((await waitForEvent(t.tenantId, before.headers.get("x-outlay-request-id") ?? "")).price)),
    ).toMatchObject({ source: "catalog" });
    const put = await t.api("/prices/overrides", {
      method: "PUT",
      json: { provider: "openai", model: "gpt-4o-mini", input_per_mtok: "1000", output_per_mtok: "2000" },
    });
    expect(put.status).toBe(200);
    const res = await chat(t.proxyKey);
    const body = (await res.json()) as { usage: { prompt_tokens: number; completion_tokens: number } };
    const event = await waitForEvent(t.tenantId, res.headers.get("x-outlay-request-id") ?? "");
    expect(event.cost_nano_usd).toBe(body.usage.prompt_tokens * 1_000_000 + body.usage.completion_tokens * 2_000_000);
    expect(JSON.parse(String(event.price))).toMatchObject({ source: "override", input: "1000", output: "2000" });
    const bad = await t.api("/prices/overrides", {
      method: "PUT",
      json: { provider: "openai", model: "x", input_per_mtok: 1, output_per_mtok: "2" },
    });
    expect(bad.status).toBe(400);
    expect(((await json(bad)).error as Json).field).toBe("input_per_mtok");
    const del = await t.api("/prices/overrides?provider=openai&model=gpt-4o-mini", { method: "DELETE" });
    expect(del.status).toBe(204);
    const after = await chat(t.proxyKey);
    await after.text();
    expect(
      JSON.parse(String((await waitForEvent(t.tenantId, after.headers.get("x-outlay-request-id") ?? "")).price)),
    ).toMatchObject({ source: "catalog" });
  });
});

function usageEvent(tenantId: string, hourOffset: number, over: Partial<UsageEvent>): UsageEvent {
  const startedAt = Date.UTC(2026, 9, 1, 0, 30) + hourOffset * 3_600_000;
  return {
    v: 1,
    requestId: newRequestId(startedAt),
    tenantId,
    keyId: "aaaaaaaaaaaa",
    provider: "openai",
    model: "gpt-4o",
    endpoint: "chat.completions",
    stream: false,
    status: 200,
    outcome: "ok",
    usage: { inputTokens: 10, cachedInputTokens: 2, cacheWriteTokens: 0, outputTokens: 5, reasoningTokens: 1 },
    usageSource: "provider",
    costNanoUsd: 1_000_000_001,
    price: null,
    startedAt,
    firstByteMs: 5,
    totalMs: 9,
    dimensions: {},
    ...over,
  };
}

describe("usage", () => {
  let t: Tenant;
  beforeAll(async () => {
    t = await newTenant({ providers: false });
    await writeUsage(env.DB, t.tenantId, [
      usageEvent(t.tenantId, 0, { dimensions: { team: "search", feature: "a" } }),
      usageEvent(t.tenantId, 1, { dimensions: { team: "search" } }),
      usageEvent(t.tenantId, 25, { dimensions: { team: "ads" }, model: "gpt-4o-mini", costNanoUsd: 3 }),
      usageEvent(t.tenantId, 26, { model: "mystery", costNanoUsd: null }),
    ]);
  });
  const range = "from=2026-10-01&to=2026-10-03";

  it("sums exactly, cost as a decimal string", async () => {
    const body = await json(await t.api(`/usage?${range}`));
    expect(body.rows).toEqual([
      {
        requests: 4,
        input_tokens: 40,
        cached_input_tokens: 8,
        cache_write_tokens: 0,
        output_tokens: 20,
        reasoning_tokens: 4,
        cost_usd: "2.000000005",
        unpriced_requests: 1,
      },
    ]);
  });

  it("groups by model and day", async () => {
    const body = await json(await t.api(`/usage?${range}&group_by=day,model`));
    const rows = (body.rows as Json[]).map((r) => [r.day, r.model, r.requests, r.cost_usd]);
    expect(rows).toEqual([
      ["2026-10-01", "gpt-4o", 2, "2.000000002"],
      ["2026-10-02", "gpt-4o-mini", 1, "0.000000003"],
      ["2026-10-02", "mystery", 1, "0.000000000"],
    ]);
  });

  it("groups by a dimension, with calls that lack it in a null group", async () => {
    const body = await json(await t.api(`/usage?${range}&group_by=dimension:team`));
    const rows = (body.rows as Json[]).map((r) => [r["dimension:team"], r.requests]);
    expect(rows).toEqual([
      ["search", 2],
      ["ads", 1],
      [null, 1],
    ]);
  });

  it("groups by two dimensions from the raw events", async () => {
    const body = await json(await t.api(`/usage?${range}&group_by=dimension:team,dimension:feature,hour`));
    expect((body.rows as Json[]).length).toBe(4);
    expect(body.rows).toContainEqual(
      expect.objectContaining({ "dimension:team": "search", "dimension:feature": "a", hour: "2026-10-01T00:00:00Z" }),
    );
  });

  it("refuses bad parameters, naming them", async () => {
    for (const [query, field] of [
      ["group_by=colour", "group_by"],
      ["group_by=model,model", "group_by"],
      ["from=yesterday", "from"],
      ["from=2026-10-03&to=2026-10-01", "from"],
    ]) {
      const res = await t.api(`/usage?${query}`);
      expect(res.status).toBe(400);
      expect(((await json(res)).error as Json).field).toBe(field);
    }
  });

  it("pages raw events newest first with a cursor", async () => {
    const first = await json(await t.api("/usage/events?limit=3"));
    const events = first.events as Json[];
    expect(events.map((e) => e.model)).toEqual(["mystery", "gpt-4o-mini", "gpt-4o"]);
    expect(events[0]?.cost_usd).toBeNull();
    expect(events[1]?.cost_usd).toBe("0.000000003");
    const second = await json(await t.api(`/usage/events?limit=3&cursor=${String(first.next_cursor)}`));
    expect((second.events as Json[]).length).toBe(1);
    expect(second.next_cursor).toBeNull();
    expect((await t.api("/usage/events?limit=0")).status).toBe(400);
    expect((await t.api("/usage/events?cursor=%%%")).status).toBe(400);
  });
});

describe("tenant isolation", () => {
  it("keeps every route of one tenant out of another's data", async () => {
    const res = await chat(b.proxyKey);
    await res.text();
    await waitForEvent(b.tenantId, res.headers.get("x-outlay-request-id") ?? "");
    const bKeys = JSON.stringify(await json(await b.api("/keys")));
    const aKeys = JSON.stringify(await json(await a.api("/keys")));
    expect(aKeys).not.toContain(b.keyId);
    expect(bKeys).toContain(b.keyId);

    // A cannot revoke B's key: 404, and B's key keeps working.
    expect((await a.api(`/keys/${b.keyId}/revoke`, { method: "POST" })).status).toBe(404);
    const still = await chat(b.proxyKey);
    expect(still.status).toBe(200);
    await still.text();

    // Usage and events: A sees none of B's calls.
    const aEvents = JSON.stringify(await json(await a.api("/usage/events?limit=500")));
    expect(aEvents).not.toContain(b.keyId);
    const aUsage = (await json(await a.api("/usage?group_by=key"))).rows as Json[];
    expect(aUsage.map((r) => r.key)).not.toContain(b.keyId);

    // Providers, settings and overrides are per tenant. B's own writes land (so A's empty view
    // is isolation, not a write that failed), and survive A's attempts to delete them.
    const bProvider = await b.api("/providers/groq", { method: "PUT", json: { api_key: "gsk_b_secret_0123456789" } });
    expect(bProvider.status).toBe(200);
    expect((await b.api("/providers/groq")).status).toBe(200);
    expect((await a.api("/providers/groq")).status).toBe(404);
    const bSettings = await b.api("/settings", { method: "PATCH", json: { allow_passthrough_keys: true } });
    expect(bSettings.status).toBe(200);
    expect((await json(await b.api("/settings"))).allow_passthrough_keys).toBe(true);
    expect((await json(await a.api("/settings"))).allow_passthrough_keys).toBe(false);
    const bOverride = await b.api("/prices/overrides", {
      method: "PUT",
      json: { provider: "openai", model: "gpt-4o", input_per_mtok: "1", output_per_mtok: "1" },
    });
    expect(bOverride.status).toBe(200);
    const bOverrides = async () => json(await b.api("/prices/overrides"));
    expect((await bOverrides()).overrides).toMatchObject([{ provider: "openai", model: "gpt-4o" }]);
    expect((await json(await a.api("/prices/overrides"))).overrides).toEqual([]);
    expect((await a.api("/prices/overrides?provider=openai&model=gpt-4o", { method: "DELETE" })).status).toBe(404);
    expect((await a.api("/providers/groq", { method: "DELETE" })).status).toBe(404);
    expect((await bOverrides()).overrides).toMatchObject([{ provider: "openai", model: "gpt-4o" }]);
    expect((await b.api("/providers/groq")).status).toBe(200);
  });

  it("refuses a proxy key presented with another tenant's routing part", async () => {
    const [, , keyId, secret] = a.proxyKey.split("_");
    const res = await chat(`olk_${b.tenantId}_${keyId}_${secret}`);
    expect(res.status).toBe(401);
  });
});
