// Demo upstream, model listing: Anthropic GET /v1/models and Gemini GET /v1beta/models in the real
// shapes, paging, auth and error bodies (what the dashboard's "test connection" reads).
import { describe, expect, it } from "vitest";
import { createUpstreamApp } from "../../demo/upstream/app.ts";
import { DEMO_ANTHROPIC_MODELS, DEMO_GEMINI_MODELS } from "../../demo/upstream/model-lists.ts";
import { ANTHROPIC_AUTH, GOOGLE_AUTH, type Json, lastRecord } from "./support.ts";

type AnthropicList = {
  data: Array<{ type: string; id: string; display_name: string; created_at: string }>;
  has_more: boolean;
  first_id: string | null;
  last_id: string | null;
};
type GeminiList = { models: Array<{ name: string; displayName: string }>; nextPageToken?: string };

describe("Anthropic GET /v1/models", () => {
  it("lists models newest first in Anthropic's shape", async () => {
    const app = createUpstreamApp();
    const res = await app.request("/anthropic/v1/models", { headers: ANTHROPIC_AUTH });
    expect(res.status).toBe(200);
    expect(res.headers.get("request-id")).toMatch(/^req_011C/);
    const body = (await res.json()) as AnthropicList;
    expect(body.data.length).toBe(DEMO_ANTHROPIC_MODELS.length);
    for (const model of body.data) {
      expect(model.type).toBe("model");
      expect(model.display_name).not.toBe("");
      expect(model.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    }
    const times = body.data.map((m) => Date.parse(m.created_at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(body).toMatchObject({
      has_more: false,
      first_id: body.data[0]?.id,
      last_id: body.data.at(-1)?.id,
    });
    const record = await lastRecord(app);
    expect(record).toMatchObject({
      provider: "anthropic",
      path: "/anthropic/v1/models",
      status: 200,
      keyPresent: true,
    });
  });

  it("pages with limit, after_id and before_id", async () => {
    const app = createUpstreamApp();
    const get = async (query: string) =>
      (await (await app.request(`/anthropic/v1/models?${query}`, { headers: ANTHROPIC_AUTH })).json()) as AnthropicList;
    const ids = DEMO_ANTHROPIC_MODELS.map((m) => m.id);
    const first = await get("limit=2");
    expect(first.data.map((m) => m.id)).toEqual(ids.slice(0, 2));
    expect(first.has_more).toBe(true);
    const second = await get(`limit=2&after_id=${first.last_id}`);
    expect(second.data.map((m) => m.id)).toEqual(ids.slice(2, 4));
    const rest = await get(`limit=1000&after_id=${second.last_id}`);
    expect(rest.data.map((m) => m.id)).toEqual(ids.slice(4));
    expect(rest.has_more).toBe(false);
    const back = await get(`limit=1&before_id=${second.first_id}`);
    expect(back.data.map((m) => m.id)).toEqual(ids.slice(1, 2));
    expect(back.has_more).toBe(true);
  });

  it("gets one model, and 404s an unknown one in Anthropic's error shape", async () => {
    const app = createUpstreamApp();
    const id = DEMO_ANTHROPIC_MODELS[0]?.id ?? "";
    const one = await app.request(`/anthropic/v1/models/${id}`, { headers: ANTHROPIC_AUTH });
    expect(await one.json()).toEqual(DEMO_ANTHROPIC_MODELS[0]);
    const missing = await app.request("/anthropic/v1/models/claude-nope", { headers: ANTHROPIC_AUTH });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: Json }).error.type).toBe("not_found_error");
  });

  it("refuses a missing or invalid key (401), a missing anthropic-version and a bad limit (400)", async () => {
    const app = createUpstreamApp();
    const cases: [Record<string, string>, string, number, string][] = [
      [{ "anthropic-version": "2023-06-01" }, "", 401, "authentication_error"],
      [{ ...ANTHROPIC_AUTH, "x-api-key": "invalid" }, "", 401, "authentication_error"],
      [{ "x-api-key": "sk-ant-demo" }, "", 400, "invalid_request_error"],
      [ANTHROPIC_AUTH, "?limit=0", 400, "invalid_request_error"],
      [ANTHROPIC_AUTH, "?limit=1001", 400, "invalid_request_error"],
      [ANTHROPIC_AUTH, "?after_id=claude-nope", 400, "invalid_request_error"],
    ];
    for (const [headers, query, status, type] of cases) {
      const res = await app.request(`/anthropic/v1/models${query}`, { headers });
      const body = (await res.json()) as { type: string; error: Json };
      expect({ query, headers, status: res.status, type: body.error.type, envelope: body.type }).toEqual({
        query,
        headers,
        status,
        type,
        envelope: "error",
      });
    }
  });

  it("follows the scenario header like every route", async () => {
    const app = createUpstreamApp();
    const res = await app.request("/anthropic/v1/models", {
      headers: { ...ANTHROPIC_AUTH, "x-demo-scenario": "rate_limit" },
    });
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(((await res.json()) as { error: Json }).error.type).toBe("rate_limit_error");
  });
});

describe("Gemini GET /v1beta/models", () => {
  it("lists models as models/… with their generation methods", async () => {
    const app = createUpstreamApp();
    const res = await app.request("/google/v1beta/models", { headers: GOOGLE_AUTH });
    expect(res.status).toBe(200);
    const body = (await res.json()) as GeminiList;
    expect(body.nextPageToken).toBeUndefined();
    expect(body.models.map((m) => m.name)).toEqual(DEMO_GEMINI_MODELS.map((m) => m.name));
    for (const model of body.models) expect(model.name).toMatch(/^models\/[a-z0-9.-]+$/);
    expect(body.models.map((m) => m.name)).toContain("models/gemini-2.5-flash");
    const record = await lastRecord(app);
    expect(record).toMatchObject({ provider: "google", path: "/google/v1beta/models", status: 200 });
  });

  it("pages with pageSize and nextPageToken, on v1 too", async () => {
    const app = createUpstreamApp();
    const names: string[] = [];
    let token = "";
    for (let i = 0; i < 10; i++) {
      const query = `pageSize=2${token ? `&pageToken=${token}` : ""}`;
      const page = (await (
        await app.request(`/google/v1/models?${query}`, { headers: GOOGLE_AUTH })
      ).json()) as GeminiList;
      expect(page.models.length).toBeLessThanOrEqual(2);
      names.push(...page.models.map((m) => m.name));
      if (!page.nextPageToken) break;
      token = page.nextPageToken;
    }
    expect(names).toEqual(DEMO_GEMINI_MODELS.map((m) => m.name));
  });

  it("takes the key as ?key= too, and gets one model", async () => {
    const app = createUpstreamApp();
    const one = await app.request("/google/v1beta/models/gemini-2.5-flash?key=goog-demo-test-key");
    expect(one.status).toBe(200);
    expect(((await one.json()) as { name: string }).name).toBe("models/gemini-2.5-flash");
    const record = await lastRecord(app);
    expect(JSON.stringify(record)).not.toContain("goog-demo-test-key");
    const missing = await app.request("/google/v1beta/models/gemini-0", { headers: GOOGLE_AUTH });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: Json }).error.status).toBe("NOT_FOUND");
  });

  it("refuses a missing or invalid key (401 UNAUTHENTICATED), a bad page size or token (400)", async () => {
    const app = createUpstreamApp();
    const cases: [Record<string, string>, string, number, string][] = [
      [{}, "", 401, "UNAUTHENTICATED"],
      [{ "x-goog-api-key": "invalid" }, "", 401, "UNAUTHENTICATED"],
      [GOOGLE_AUTH, "?pageSize=0", 400, "INVALID_ARGUMENT"],
      [GOOGLE_AUTH, "?pageSize=x", 400, "INVALID_ARGUMENT"],
      [GOOGLE_AUTH, "?pageToken=nonsense", 400, "INVALID_ARGUMENT"],
    ];
    for (const [headers, query, status, grpc] of cases) {
      const res = await app.request(`/google/v1beta/models${query}`, { headers });
      const body = (await res.json()) as { error: { code: number; status: string } };
      expect({ query, status: res.status, grpc: body.error.status, code: body.error.code }).toEqual({
        query,
        status,
        grpc,
        code: status,
      });
    }
  });
});
