// POST /api/v1/keys/{id}/rotate: validation of grace_seconds, the new key returned once with
// previous_valid_until, Idempotency-Key replays (200, no key, x-outlay-idempotent-replay),
// roles (a member token rotates only keys it created), revoked keys (409), other tenants' keys
// (404). And POST /api/v1/keys with allow_models and rate limits.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createToken, newOrg } from "../auth/orgs.ts";
import { apiCall, newTenant, worker, type Tenant } from "../helpers.ts";

type Json = Record<string, unknown>;

const KEY = /^olk_[a-z2-7]{12}_[a-z2-7]{12}_[a-z2-7]{32}$/;

let a: Tenant;
let b: Tenant;
beforeAll(async () => {
  [a, b] = await Promise.all([newTenant(), newTenant()]);
});

async function newKey(t: Tenant, body: Json = {}): Promise<{ id: string; key: string }> {
  const res = await t.api("/keys", { method: "POST", json: { name: "rotating", ...body } });
  expect(res.status).toBe(201);
  return (await res.json()) as { id: string; key: string };
}

function rotate(t: Tenant | string, id: string, body: unknown, headers: Record<string, string> = {}) {
  const init = { method: "POST", json: body, headers };
  return typeof t === "string" ? apiCall(t, `/keys/${id}/rotate`, init) : t.api(`/keys/${id}/rotate`, init);
}

async function callStatus(key: string, model = "gpt-4o-mini"): Promise<number> {
  const res = await worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hello" }] }),
  });
  await res.text();
  return res.status;
}

async function errorOf(res: Response): Promise<{ code: string; field?: string; message: string }> {
  return ((await res.json()) as { error: { code: string; field?: string; message: string } }).error;
}

describe("POST /api/v1/keys/{id}/rotate", () => {
  it("returns the new key once, with the same id, and the old key valid until previous_valid_until", async () => {
    const made = await newKey(a);
    const res = await rotate(a, made.id, { grace_seconds: 600 });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-outlay-idempotent-replay")).toBeNull();
    const body = (await res.json()) as Json;
    expect(body.key).toMatch(KEY);
    expect(body.key).not.toBe(made.key);
    expect(body).toMatchObject({
      id: made.id,
      key_hint: `…${String(body.key).slice(-4)}`,
      previous_key_hint: `…${made.key.slice(-4)}`,
      revoked_at: null,
    });
    const rotatedAt = Date.parse(String(body.rotated_at));
    expect(Date.parse(String(body.previous_valid_until)) - rotatedAt).toBe(600_000);
    expect(await callStatus(made.key)).toBe(200);
    expect(await callStatus(String(body.key))).toBe(200);
    const listed = JSON.stringify(await (await a.api("/keys")).json());
    expect(listed).toContain(`"previous_valid_until":"${String(body.previous_valid_until)}"`);
    expect(listed).not.toContain(String(body.key));
  });

  it("grace_seconds 0 ends the old key at once", async () => {
    const made = await newKey(a);
    const body = (await (await rotate(a, made.id, { grace_seconds: 0 })).json()) as Json;
    expect(await callStatus(made.key)).toBe(401);
    expect(await callStatus(String(body.key))).toBe(200);
  });

  const invalid: [string, unknown, string | null][] = [
    ["no grace_seconds", {}, "grace_seconds"],
    ["a negative grace", { grace_seconds: -1 }, "grace_seconds"],
    ["a grace over 30 days", { grace_seconds: 2_592_001 }, "grace_seconds"],
    ["a fractional grace", { grace_seconds: 1.5 }, "grace_seconds"],
    ["a grace as text", { grace_seconds: "60" }, "grace_seconds"],
    ["an unknown field", { grace_seconds: 60, reason: "x" }, null],
  ];
  for (const [name, body, field] of invalid) {
    it(`refuses ${name} with 400 and rotates nothing`, async () => {
      const made = await newKey(a);
      const res = await rotate(a, made.id, body);
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe("bad_request");
      expect(error.field).toBe(field ?? undefined);
      const row = await env.DB.prepare("SELECT rotated_at FROM api_keys WHERE tenant_id = ? AND id = ?")
        .bind(a.tenantId, made.id)
        .first<{ rotated_at: number | null }>();
      expect(row?.rotated_at).toBeNull();
    });
  }

  it("30 days is the longest grace", async () => {
    const made = await newKey(a);
    expect((await rotate(a, made.id, { grace_seconds: 2_592_000 })).status).toBe(200);
  });

  it("answers a repeated Idempotency-Key with the key record, no new key, and the replay header", async () => {
    const made = await newKey(a);
    const headers = { "idempotency-key": `rotate-${made.id}-1` };
    const first = await rotate(a, made.id, { grace_seconds: 3600 }, headers);
    const firstBody = (await first.json()) as Json;
    expect(firstBody.key).toMatch(KEY);
    const again = await rotate(a, made.id, { grace_seconds: 0 }, headers);
    expect(again.status).toBe(200);
    expect(again.headers.get("x-outlay-idempotent-replay")).toBe("true");
    const againBody = (await again.json()) as Json;
    expect(againBody.key).toBeUndefined();
    const { key: _key, ...record } = firstBody;
    expect(againBody).toEqual(record);
    // Nothing changed: both keys still work (the retry's grace of 0 was not applied).
    expect(await callStatus(made.key)).toBe(200);
    expect(await callStatus(String(firstBody.key))).toBe(200);
    // A new Idempotency-Key rotates again.
    const next = await rotate(a, made.id, { grace_seconds: 0 }, { "idempotency-key": `rotate-${made.id}-2` });
    expect(((await next.json()) as Json).key).toMatch(KEY);
    expect(await callStatus(String(firstBody.key))).toBe(401);
  });

  it("refuses a malformed Idempotency-Key", async () => {
    const made = await newKey(a);
    const res = await rotate(a, made.id, { grace_seconds: 60 }, { "idempotency-key": "x".repeat(256) });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).field).toBe("Idempotency-Key");
  });

  it("refuses a revoked key with 409, and unknown or other tenants' keys with 404", async () => {
    const made = await newKey(a);
    expect((await a.api(`/keys/${made.id}/revoke`, { method: "POST" })).status).toBe(200);
    const revoked = await rotate(a, made.id, { grace_seconds: 60 });
    expect(revoked.status).toBe(409);
    expect((await errorOf(revoked)).code).toBe("conflict");
    expect((await rotate(a, "aaaaaaaaaaaa", { grace_seconds: 60 })).status).toBe(404);
    expect((await rotate(a, "not-an-id", { grace_seconds: 60 })).status).toBe(404);
    const theirs = await rotate(a, b.keyId, { grace_seconds: 0 });
    expect(theirs.status).toBe(404);
    expect(JSON.stringify(await theirs.json())).not.toContain(b.tenantId);
    expect(await callStatus(b.proxyKey)).toBe(200);
  });

  it("a member token rotates the keys it created only; a viewer token none", async () => {
    const org = await newOrg("ApiRotate");
    const member = (await createToken(org.owner.b, "member")).token;
    const viewer = (await createToken(org.owner.b, "viewer")).token;
    const admin = (await createToken(org.owner.b, "admin")).token;
    const create = async (token: string) => {
      const res = await apiCall(token, "/keys", { method: "POST", json: { name: "k" } });
      return ((await res.json()) as { id: string }).id;
    };
    const own = await create(member);
    const admins = await create(admin);
    const forbidden = await rotate(member, admins, { grace_seconds: 60 });
    expect(forbidden.status).toBe(403);
    expect(await errorOf(forbidden)).toMatchObject({ code: "forbidden" });
    expect((await rotate(viewer, own, { grace_seconds: 60 })).status).toBe(403);
    expect((await rotate(member, own, { grace_seconds: 60 })).status).toBe(200);
    expect((await rotate(admin, own, { grace_seconds: 60 })).status).toBe(200);
    const rows = await env.DB.prepare("SELECT id, rotated_at FROM api_keys WHERE tenant_id = ? AND id IN (?, ?)")
      .bind(org.tenantId, own, admins)
      .all<{ id: string; rotated_at: number | null }>();
    const rotated = Object.fromEntries(rows.results.map((r) => [r.id, r.rotated_at !== null]));
    expect(rotated).toEqual({ [own]: true, [admins]: false });
  });
});

describe("POST /api/v1/keys with allowed models and rate limits", () => {
  it("makes the key's policy and rate limit with it", async () => {
    const made = await newKey(a, { allow_models: ["gpt-4o*"], requests_per_minute: 1, tokens_per_minute: 100_000 });
    const policies = (await (await a.api("/policies")).json()) as { policies: Json[] };
    const limits = (await (await a.api("/rate-limits")).json()) as { rate_limits: Json[] };
    expect(policies.policies.filter((p) => p.key_id === made.id)).toEqual([
      expect.objectContaining({ allow_models: ["gpt-4o*"], deny_models: [] }),
    ]);
    expect(limits.rate_limits.filter((l) => l.key_id === made.id)).toEqual([
      expect.objectContaining({ requests_per_minute: 1, tokens_per_minute: 100_000 }),
    ]);
    expect(await callStatus(made.key, "gpt-3.5-turbo")).toBe(403);
    expect(await callStatus(made.key)).toBe(200);
    expect(await callStatus(made.key)).toBe(429);
  });

  const invalid: [string, Json, string][] = [
    ["a model glob with a space", { allow_models: ["gpt 4o"] }, "allow_models"],
    ["an empty model glob", { allow_models: [""] }, "allow_models"],
    ["too many models", { allow_models: Array.from({ length: 101 }, (_, i) => `m${i}`) }, "allow_models"],
    ["zero requests per minute", { requests_per_minute: 0 }, "requests_per_minute"],
    ["fractional tokens per minute", { tokens_per_minute: 1.5 }, "tokens_per_minute"],
    ["too many tokens per minute", { tokens_per_minute: 10_000_001 }, "tokens_per_minute"],
  ];
  for (const [name, body, field] of invalid) {
    it(`refuses ${name} with 400 naming ${field}, and makes no key`, async () => {
      const keyName = `invalid ${crypto.randomUUID()}`;
      const res = await a.api("/keys", { method: "POST", json: { name: keyName, ...body } });
      expect(res.status).toBe(400);
      expect((await errorOf(res)).field).toBe(field);
      const row = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND name = ?")
        .bind(a.tenantId, keyName)
        .first<{ n: number }>();
      expect(row?.n).toBe(0);
    });
  }
});
