// The webhook endpoints API (docs/webhooks.md): create with the secret shown once, list and read
// without it, change, delete; URL rules (https, public hosts, no credentials); validation; and
// every route refusing another organisation's endpoint. Plus Standard Webhooks' own test vector.
import { describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { signWebhook, webhookHeaders, webhookKey } from "../../shared/standard-webhooks.ts";
import { newTenant, worker } from "../helpers.ts";
import { hookName, hookUrl, json, subscribe, type Endpoint } from "./support.ts";

type ApiError = { error: { code: string; message: string; field?: string } };

describe("Standard Webhooks signatures", () => {
  it("reproduces the specification's test vector", async () => {
    // standard-webhooks/standard-webhooks, spec/standard-webhooks.md, "Signature scheme".
    const signature = await signWebhook(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      "msg_p5jXN8AQM9LWM0D4loKWxJek",
      1614265330,
      '{"test": 2432232314}',
    );
    expect(signature).toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
  });

  it("signs with every secret given, and the standardwebhooks package accepts either", async () => {
    const [a, b] = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE="];
    const body = '{"type":"x","timestamp":"2026-12-02T00:00:00.000Z","data":{}}';
    const now = Math.floor(Date.now() / 1000);
    const headers = await webhookHeaders([await webhookKey(a), await webhookKey(b)], "msg_1", now, body);
    expect(headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    expect(new Webhook(a).verify(body, headers)).toEqual(JSON.parse(body));
    expect(new Webhook(b).verify(body, headers)).toEqual(JSON.parse(body));
    expect(() => new Webhook(a).verify(body.replace("x", "y"), headers)).toThrow("No matching signature found");
  });
});

describe("webhook endpoints", () => {
  it("creates an endpoint with its secret once, then lists, reads, changes and deletes it", async () => {
    const t = await newTenant({ providers: false });
    const name = hookName();
    const created = await t.api("/webhooks", {
      method: "POST",
      json: { url: hookUrl(name), event_types: ["key.created", "rule.created"], description: "ops" },
    });
    expect(created.status).toBe(201);
    const endpoint = await json<Endpoint & { secret_hint: string }>(created);
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(endpoint.secret_hint).toBe(endpoint.secret.slice(-4));
    expect(endpoint.event_types).toEqual(["key.created", "rule.created"]);

    const listed = await json<{ data: Record<string, unknown>[] }>(await t.api("/webhooks"));
    expect(listed.data.map((e) => e.id)).toEqual([endpoint.id]);
    expect(JSON.stringify(listed)).not.toContain(endpoint.secret);
    const read = await json<Record<string, unknown>>(await t.api(`/webhooks/${endpoint.id}`));
    expect(read).not.toHaveProperty("secret");
    expect(read.url).toBe(hookUrl(name));

    const patched = await t.api(`/webhooks/${endpoint.id}`, {
      method: "PATCH",
      json: { event_types: null, description: "all but the noisy ones", enabled: false },
    });
    expect(patched.status).toBe(200);
    expect(await json<Record<string, unknown>>(patched)).toMatchObject({
      event_types: null,
      description: "all but the noisy ones",
      enabled: false,
      disabled_reason: "manual",
    });
    const enabled = await json<Record<string, unknown>>(
      await t.api(`/webhooks/${endpoint.id}`, { method: "PATCH", json: { enabled: true } }),
    );
    expect([enabled.enabled, enabled.disabled_reason]).toEqual([true, null]);

    expect((await t.api(`/webhooks/${endpoint.id}`, { method: "DELETE" })).status).toBe(204);
    expect((await t.api(`/webhooks/${endpoint.id}`)).status).toBe(404);
    expect((await t.api(`/webhooks/${endpoint.id}`, { method: "DELETE" })).status).toBe(404);
  });

  it("refuses URLs it must not call, with a 400 naming the problem", async () => {
    const t = await newTenant({ providers: false });
    const refused = [
      "http://example.com/hook",
      "ftp://example.com/hook",
      "https://10.0.0.1/hook",
      "https://192.168.1.20/hook",
      "https://100.64.0.1/hook",
      "https://169.254.169.254/latest/meta-data/",
      "https://[fd00::1]/hook",
      "https://[fe80::1]/hook",
      "https://0.0.0.0/hook",
      "https://metadata.google.internal/computeMetadata/v1/",
      "https://printer.local/hook",
      "https://intranet/hook",
      "https://user:pass@example.com/hook",
      "https://example.com/hook#fragment",
      " https://example.com/hook",
      "https://example.com/\nhook",
      `https://example.com/${"a".repeat(2100)}`,
      "not a url",
    ];
    for (const url of refused) {
      const res = await t.api("/webhooks", { method: "POST", json: { url } });
      const body = await json<ApiError>(res);
      expect([url, res.status, body.error.field]).toEqual([url, 400, "url"]);
    }
    expect((await json<{ data: unknown[] }>(await t.api("/webhooks"))).data).toEqual([]);
    const ok = await t.api("/webhooks", { method: "POST", json: { url: "https://hooks.example.com/outlay?team=ops" } });
    expect(ok.status).toBe(201);
  });

  it("refuses malformed bodies and unknown event types", async () => {
    const t = await newTenant({ providers: false });
    const url = hookUrl(hookName());
    const cases: [unknown, string | undefined][] = [
      [{ url, event_types: ["no.such_type"] }, "event_types.0"],
      [{ url, event_types: [] }, "event_types"],
      [{ url, event_types: ["key.created", "key.created"] }, "event_types"],
      [{ url, description: "x".repeat(201) }, "description"],
      [{ url, secret: "whsec_mine" }, undefined],
      [{ url: 42 }, "url"],
      [[url], undefined],
    ];
    for (const [body, field] of cases) {
      const res = await t.api("/webhooks", { method: "POST", json: body });
      const error = await json<ApiError>(res);
      expect([JSON.stringify(body).slice(0, 60), res.status, error.error.field]).toEqual([
        JSON.stringify(body).slice(0, 60),
        400,
        field,
      ]);
    }
    const notJson = await t.api("/webhooks", {
      method: "POST",
      body: "{",
      headers: { "content-type": "application/json" },
    });
    expect(notJson.status).toBe(400);
    const created = await subscribe(t);
    for (const body of [{ overlap_hours: 500 }, { overlap_hours: -1 }, { overlap: 1 }]) {
      const res = await t.api(`/webhooks/${created.endpoint.id}/rotate-secret`, { method: "POST", json: body });
      expect(res.status).toBe(400);
    }
    for (const body of [{ from_seq: 5, to_seq: 4 }, { from_seq: 1, to_seq: 20_000 }, { from_seq: 0, to_seq: 1 }, {}]) {
      const res = await t.api(`/webhooks/${created.endpoint.id}/replay`, { method: "POST", json: body });
      expect(res.status).toBe(400);
    }
    for (const body of [{ since: "yesterday" }, {}]) {
      const res = await t.api(`/webhooks/${created.endpoint.id}/recover`, { method: "POST", json: body });
      expect(res.status).toBe(400);
    }
    const page = await t.api(`/webhooks/${created.endpoint.id}/deliveries?limit=0`);
    expect(page.status).toBe(400);
  });

  it("lets a viewer token read but not change endpoints", async () => {
    const t = await newTenant({ providers: false });
    const { endpoint } = await subscribe(t);
    const { createAdminToken } = await import("../../workers/auth/index.ts");
    const { env } = await import("cloudflare:workers");
    const viewer = await createAdminToken(env, t.tenantId, { name: "viewer", role: "viewer", createdBy: null });
    const { apiCall } = await import("../helpers.ts");
    expect((await apiCall(viewer.token, "/webhooks")).status).toBe(200);
    expect((await apiCall(viewer.token, `/webhooks/${endpoint.id}`, { method: "DELETE" })).status).toBe(403);
    expect((await apiCall(viewer.token, `/webhooks/${endpoint.id}/rotate-secret`, { method: "POST" })).status).toBe(
      403,
    );
  });
});

describe("the delivery log", () => {
  it("pages through attempts logged in the same millisecond without skipping or repeating one", async () => {
    const t = await newTenant({ providers: false });
    const { endpoint } = await subscribe(t, { event_types: ["org.closed"] });
    const { env } = await import("cloudflare:workers");
    const at = Date.now();
    const statements = [];
    for (let i = 1; i <= 5; i++) {
      statements.push(
        env.DB.prepare(
          `INSERT INTO webhook_messages (tenant_id, id, endpoint_id, seq, type, payload, status, attempts, created_at)
           VALUES (?, ?, ?, ?, 'org.closed', '{}', 'failed', 1, ?)`,
        ).bind(t.tenantId, `msg_${endpoint.id}_${i}`, endpoint.id, i, at),
        env.DB.prepare(
          `INSERT INTO webhook_attempts (tenant_id, message_id, endpoint_id, attempt, at, status_code, latency_ms, error_class)
           VALUES (?, ?, ?, 1, ?, 503, 5, 'http_status')`,
        ).bind(t.tenantId, `msg_${endpoint.id}_${i}`, endpoint.id, at),
      );
    }
    await env.DB.batch(statements);
    const seen: (number | null)[] = [];
    let query = "limit=2";
    for (let page = 0; page < 5; page++) {
      const body = await json<{ data: { seq: number | null }[]; next_before: string | null }>(
        await t.api(`/webhooks/${endpoint.id}/deliveries?${query}`),
      );
      seen.push(...body.data.map((d) => d.seq));
      if (body.next_before === null) break;
      query = `limit=2&before=${encodeURIComponent(body.next_before)}`;
    }
    expect(seen.toSorted((x, y) => (x ?? 0) - (y ?? 0))).toEqual([1, 2, 3, 4, 5]);
    for (const bad of ["yesterday", "1.2", `${at}.1.../etc`]) {
      const res = await t.api(`/webhooks/${endpoint.id}/deliveries?before=${encodeURIComponent(bad)}`);
      expect([bad, res.status]).toEqual([bad, 400]);
    }
  });
});

describe("webhook endpoints across organisations", () => {
  it("answers 404 to every route for another organisation's endpoint, and changes nothing", async () => {
    const a = await newTenant({ providers: false });
    const b = await newTenant({ providers: false });
    const { endpoint } = await subscribe(a);
    const routes: [string, string, unknown][] = [
      ["GET", `/webhooks/${endpoint.id}`, undefined],
      ["PATCH", `/webhooks/${endpoint.id}`, { description: "taken" }],
      ["DELETE", `/webhooks/${endpoint.id}`, undefined],
      ["POST", `/webhooks/${endpoint.id}/rotate-secret`, {}],
      ["POST", `/webhooks/${endpoint.id}/test`, undefined],
      ["GET", `/webhooks/${endpoint.id}/deliveries`, undefined],
      ["POST", `/webhooks/${endpoint.id}/recover`, { since: "2026-01-01T00:00:00Z" }],
      ["POST", `/webhooks/${endpoint.id}/replay`, { from_seq: 1, to_seq: 10 }],
      ["GET", `/webhooks/${encodeURIComponent(`../${endpoint.id}`)}`, undefined],
      ["GET", `/webhooks/${endpoint.id}%2Fdeliveries`, undefined],
    ];
    for (const [method, path, body] of routes) {
      const res = await b.api(path, { method, json: body });
      expect([method, path, res.status]).toEqual([method, path, 404]);
    }
    expect((await json<{ data: unknown[] }>(await b.api("/webhooks"))).data).toEqual([]);
    const still = await json<Record<string, unknown>>(await a.api(`/webhooks/${endpoint.id}`));
    expect([still.description, still.secret_hint]).toEqual(["", endpoint.secret.slice(-4)]);
    expect((await worker(`/api/v1/webhooks/${endpoint.id}`)).status).toBe(401);
  });
});
