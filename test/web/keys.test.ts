// /keys and /quickstart: route tests in workerd — roles, validation beside the field, the key
// shown once, a key created with allowed models and rate limits, confirmation before revoking,
// cross-tenant denial, spend and last use from rollups. Rotation: keys-rotate.test.ts.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { waitForEvent, worker } from "../helpers.ts";
import { addMember, api, createToken, newOrg, waitForAudit } from "../auth/orgs.ts";
import { callStatus, chat, createKey, keyId, keyRow, withProvider } from "./keys-support.ts";

describe("/keys", () => {
  it("creates a key shown once, bound to dimensions, made by the signed-in person", async () => {
    const org = await newOrg("Keys");
    const { page, key } = await createKey(org.owner.b, {
      name: "search prod",
      dimensions: "team=search, project=assistant",
      expires: "2099-01-31",
    });
    expect(page.status).toBe(200);
    expect(key).not.toBeNull();
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.html).toContain("you will not see it again");
    const row = await keyRow(org.tenantId, key ?? "");
    expect(row).toMatchObject({ name: "search prod", created_by: `user:${org.owner.userId}`, revoked_at: null });
    expect(JSON.parse(row?.dimensions ?? "{}")).toEqual({ team: "search", project: "assistant" });
    expect(row?.expires_at).toBe(Date.parse("2099-01-31T00:00:00Z"));
    const again = await org.owner.b.get("/keys");
    expect(again.html).toContain("search prod");
    expect(again.html).not.toContain(key ?? "?");
    const audit = await waitForAudit(org.tenantId, "key.created", row?.id ?? null);
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });
  });

  it("reads dimensions on separate lines as well as between commas", async () => {
    const org = await newOrg("KeysLines");
    const { key } = await createKey(org.owner.b, { name: "lines", dimensions: "team=search\nproject=x, env=prod" });
    const row = await keyRow(org.tenantId, key ?? "");
    expect(JSON.parse(row?.dimensions ?? "{}")).toEqual({ team: "search", project: "x", env: "prod" });
  });

  it("says what is wrong beside the field, and creates nothing", async () => {
    const org = await newOrg("KeysBad");
    const cases: [Record<string, string>, string, string][] = [
      [{ name: "" }, "name-error", "Name the key"],
      [{ name: "x", dimensions: "team" }, "dimensions-error", "name=value"],
      [{ name: "x", dimensions: "bad name=1" }, "dimensions-error", ""],
      // One parser with the rule forms (shared/dimensions.ts): a name given twice is refused, by name.
      [
        { name: "x", dimensions: "team=a, project=p\nteam=b" },
        "dimensions-error",
        "The dimension “team” is given twice.",
      ],
      [{ name: "x", expires: "2001-01-01" }, "expires-error", "after today"],
      [{ name: "x", expires: "tomorrow" }, "expires-error", "Pick a date"],
    ];
    for (const [fields, errorId, text] of cases) {
      const { page, key } = await createKey(org.owner.b, fields);
      expect({ fields, status: page.status, key }).toEqual({ fields, status: 400, key: null });
      const message = new RegExp(`id="${errorId}">([^<]+)<`).exec(page.html)?.[1] ?? "";
      expect(message).toContain(text);
    }
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ?")
      .bind(org.tenantId)
      .first<{ n: number }>();
    expect(count?.n).toBe(0);
  });

  it("creates a key with allowed models and rate limits, made with it and enforced from its first call", async () => {
    const org = await newOrg("KeysLimits");
    await withProvider(org);
    const { page, key } = await createKey(org.owner.b, {
      name: "limited",
      allow_models: "gpt-4o*,\nclaude-3-5-haiku*",
      requests_per_minute: "2",
      tokens_per_minute: "",
    });
    expect(page.status).toBe(200);
    expect(key).not.toBeNull();
    const id = keyId(key);
    const rules = await env.DB.prepare(
      "SELECT id, kind, spec FROM ledger_rules WHERE tenant_id = ? AND json_extract(spec, '$.keyId') = ? ORDER BY kind",
    )
      .bind(org.tenantId, id)
      .all<{ id: string; kind: string; spec: string }>();
    expect(rules.results.map((r) => r.kind)).toEqual(["policy", "rate_limit"]);
    const [policy, limit] = rules.results.map((r) => ({
      id: r.id,
      spec: JSON.parse(r.spec) as Record<string, unknown>,
    }));
    expect(policy?.spec).toMatchObject({ keyId: id, allowModels: ["gpt-4o*", "claude-3-5-haiku*"], denyModels: [] });
    expect(limit?.spec).toMatchObject({ keyId: id, requestsPerMinute: 2, tokensPerMinute: null });
    const created = await waitForAudit(org.tenantId, "rule.created", policy?.id ?? "");
    expect(created).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });

    expect(await callStatus(key ?? "")).toBe(200);
    const denied = await chat(key ?? "", "gpt-3.5-turbo");
    expect(denied.status).toBe(403);
    expect(denied.headers.get("x-outlay-refusal")).toBe("policy_denied");
    expect(denied.headers.get("x-outlay-refusal-rule")).toBe(policy?.id);
    await denied.text();
    expect(await callStatus(key ?? "")).toBe(200);
    const limited = await chat(key ?? "");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("x-outlay-refusal")).toBe("rate_limited");
    expect(limited.headers.get("x-outlay-refusal-rule")).toBe(limit?.id);
    await limited.text();
    // Another key of the organisation is not held to them.
    const other = await createKey(org.owner.b, { name: "free" });
    expect(await callStatus(other.key ?? "", "gpt-3.5-turbo")).toBe(200);
  });

  it("says what is wrong with allowed models and rate limits beside the field, and creates nothing", async () => {
    const org = await newOrg("KeysLimitsBad");
    const cases: [Record<string, string>, string, string][] = [
      [{ name: "x", allow_models: "a".repeat(201) }, "allow_models-error", "not a model name"],
      [
        { name: "x", allow_models: Array.from({ length: 101 }, (_, i) => `m${i}`).join(", ") },
        "allow_models-error",
        "at most 100",
      ],
      [{ name: "x", requests_per_minute: "many" }, "requests_per_minute-error", "whole number"],
      [{ name: "x", requests_per_minute: "0" }, "requests_per_minute-error", "from 1 to 1,000,000"],
      [{ name: "x", tokens_per_minute: "1.5" }, "tokens_per_minute-error", "whole number"],
      [{ name: "x", tokens_per_minute: "20000000" }, "tokens_per_minute-error", "from 1 to 10,000,000"],
    ];
    for (const [fields, errorId, text] of cases) {
      const { page, key } = await createKey(org.owner.b, fields);
      expect({ fields, status: page.status, key }).toEqual({ fields, status: 400, key: null });
      const message = new RegExp(`id="${errorId}">([^<]+)<`).exec(page.html)?.[1] ?? "";
      expect(message).toContain(text);
      // What was typed is kept in the form.
      for (const value of Object.values(fields)) expect(page.html).toContain(`value="${value}"`);
    }
    const keys = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ?")
      .bind(org.tenantId)
      .first<{ n: number }>();
    const rules = await env.DB.prepare("SELECT COUNT(*) AS n FROM ledger_rules WHERE tenant_id = ?")
      .bind(org.tenantId)
      .first<{ n: number }>();
    expect({ keys: keys?.n, rules: rules?.n }).toEqual({ keys: 0, rules: 0 });
  });

  it("revokes after a confirmation page; the gateway refuses the key at once", async () => {
    const org = await newOrg("KeysRevoke");
    const admin = await createToken(org.owner.b, "admin");
    const put = await api(admin.token, "/providers/openai", {
      method: "PUT",
      json: { api_key: "demo-openai-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    expect(put.status).toBe(200);
    const { key } = await createKey(org.owner.b, { name: "to revoke" });
    const id = key?.split("_")[2] ?? "";
    const ok = await chat(key ?? "");
    expect(ok.status).toBe(200);
    await waitForEvent(org.tenantId, ok.headers.get("x-outlay-request-id") ?? "");

    // Spend and last use appear once the call is rolled up.
    let listed = "";
    for (let i = 0; i < 50 && !/\$0\.0000\d+/.test(listed); i++) {
      listed = (await org.owner.b.get("/keys")).html;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(listed).toMatch(/<td class="num">\$0\.0000\d+<\/td>/);
    expect(listed).not.toContain('<td>never</td><td class="num">');

    const confirm = await org.owner.b.get(`/keys/${id}/revoke`);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain("Revoke “to revoke”?");
    expect((await keyRow(org.tenantId, key ?? ""))?.revoked_at).toBeNull();
    const done = await org.owner.b.post(`/keys/${id}/revoke`);
    expect(done.status).toBe(303);
    expect((await keyRow(org.tenantId, key ?? ""))?.revoked_at).not.toBeNull();
    const refused = await chat(key ?? "");
    expect(refused.status).toBe(401);
    await refused.text();
  });

  it("members create keys and revoke only their own; viewers only look", async () => {
    const org = await newOrg("KeysRoles");
    const member = await addMember(org, "member");
    const viewer = await addMember(org, "viewer");
    const owners = await createKey(org.owner.b, { name: "owner's" });
    const mine = await createKey(member.b, { name: "member's" });
    expect(mine.key).not.toBeNull();
    expect((await keyRow(org.tenantId, mine.key ?? ""))?.created_by).toBe(`user:${member.userId}`);

    const ownersId = owners.key?.split("_")[2] ?? "";
    const denied = await member.b.post(`/keys/${ownersId}/revoke`);
    expect(denied.status).toBe(403);
    expect((await keyRow(org.tenantId, owners.key ?? ""))?.revoked_at).toBeNull();
    const memberList = await member.b.get("/keys");
    expect(memberList.html).not.toContain(`/keys/${ownersId}/revoke`);
    expect((await member.b.post(`/keys/${mine.key?.split("_")[2] ?? ""}/revoke`)).status).toBe(303);

    const viewerList = await viewer.b.get("/keys");
    expect(viewerList.status).toBe(200);
    expect(viewerList.html).toContain("owner&#39;s");
    expect(viewerList.html).not.toContain('action="/keys"');
    const refused = await viewer.b.post("/keys", { name: "viewer's" });
    expect(refused.status).toBe(403);
    expect((await viewer.b.post(`/keys/${ownersId}/revoke`)).status).toBe(403);
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND name = ?")
      .bind(org.tenantId, "viewer's")
      .first<{ n: number }>();
    expect(count?.n).toBe(0);
  });

  it("never shows or touches another organisation's keys", async () => {
    const a = await newOrg("KeysA");
    const b = await newOrg("KeysB");
    const theirs = await createKey(b.owner.b, { name: "B's secret project" });
    const id = theirs.key?.split("_")[2] ?? "";
    const list = await a.owner.b.get("/keys");
    expect(list.html).not.toContain("B&#39;s secret project");
    expect((await a.owner.b.get(`/keys/${id}/revoke`)).location).toBe("/keys");
    expect((await a.owner.b.post(`/keys/${id}/revoke`)).status).toBe(404);
    expect((await keyRow(b.tenantId, theirs.key ?? ""))?.revoked_at).toBeNull();
  });

  it("needs a session, and the session's CSRF token to post", async () => {
    const org = await newOrg("KeysCsrf");
    const anonymous = await worker("/keys", { redirect: "manual" });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe("/login?next=%2Fkeys");
    await org.owner.b.get("/keys");
    const forged = await org.owner.b.post("/keys", { name: "forged", _csrf: "0".repeat(64) });
    expect(forged.status).toBe(403);
  });
});

describe("/quickstart", () => {
  it("shows this deployment's base URLs and a snippet per SDK, and says what is missing", async () => {
    const org = await newOrg("Quick");
    const page = await org.owner.b.get("/quickstart");
    expect(page.status).toBe(200);
    const origin = "https://outlay.test";
    for (const text of [
      `baseURL: &quot;${origin}/openai/v1&quot;`,
      `base_url=&quot;${origin}/openai/v1&quot;`,
      `baseURL: &quot;${origin}/anthropic&quot;`,
      `base_url=&quot;${origin}/anthropic&quot;`,
      `baseUrl: &quot;${origin}/google&quot;`,
      `base_url=&quot;${origin}/google&quot;`,
      `curl ${origin}/openai/v1/chat/completions`,
    ]) {
      expect(page.html).toContain(text);
    }
    expect(page.html).toContain("You have no proxy key yet");
    expect(page.html).toContain("No provider credentials yet");
    await createKey(org.owner.b, { name: "first" });
    expect((await org.owner.b.get("/quickstart")).html).not.toContain("You have no proxy key yet");
  });
});
