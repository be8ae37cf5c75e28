// /policies and /rate-limits: route tests in workerd — every field through the form (the rule
// equals what the API returns, audited with the person), errors beside the fields, a policy and a
// rate limit made here refusing calls at the gateway, edit, delete after confirmation, roles,
// CSRF and another organisation's ids.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { worker } from "../helpers.ts";
import { addMember, api, count, createToken, newOrg, waitForAudit, type Org } from "../auth/orgs.ts";
import type { Browser, Page } from "../auth/browser.ts";

type Fields = Record<string, string>;
type Base = "/policies" | "/rate-limits";

async function create(b: Browser, base: Base, fields: Fields): Promise<{ page: Page; id: string | null }> {
  await b.get(`${base}/new`);
  const page = await b.post(base, fields);
  return { page, id: new RegExp(`^${base}\\?saved=([a-z2-7]{12})$`).exec(page.location ?? "")?.[1] ?? null };
}

function fieldError(html: string, field: string): string | null {
  return new RegExp(`id="${field}-error">([^<]*)<`).exec(html)?.[1] ?? null;
}

async function createKey(b: Browser, name: string): Promise<{ key: string; id: string }> {
  await b.get("/keys");
  const page = await b.post("/keys", { name });
  const key = /olk_[a-z2-7]{12}_([a-z2-7]{12})_[a-z2-7]{32}/.exec(page.html);
  if (!key?.[1]) throw new Error(`key: ${page.status}`);
  return { key: key[0], id: key[1] };
}

function chat(key: string, model = "gpt-4o-mini") {
  return worker("/openai/v1/chat/completions", {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, max_tokens: 16, messages: [{ role: "user", content: "hi" }] }),
  });
}

/** An organisation with an admin token and OpenAI credentials pointed at the demo upstream. */
async function withProvider(label: string): Promise<{ org: Org; token: string }> {
  const org = await newOrg(label);
  const token = (await createToken(org.owner.b, "admin")).token;
  const put = await api(token, "/providers/openai", {
    method: "PUT",
    json: { api_key: "demo-openai-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` },
  });
  if (put.status !== 200) throw new Error(`provider: ${put.status}`);
  return { org, token };
}

function stored(tenantId: string, kind: "policy" | "rate_limit"): Promise<number> {
  return count("SELECT COUNT(*) AS n FROM ledger_rules WHERE tenant_id = ? AND kind = ?", tenantId, kind);
}

describe("/policies", () => {
  it("explains policies when there are none, with tabs to rate limits; read-only roles get no link", async () => {
    const org = await newOrg("PoliciesEmpty");
    const viewer = await addMember(org, "viewer");
    const page = await org.owner.b.get("/policies");
    expect(page.status).toBe(200);
    expect(page.html).toContain("No policies yet");
    expect(page.html).toContain('href="/policies/new"');
    expect(page.html).toContain('<a href="/policies" aria-current="page">Policies</a>');
    expect(page.html).toContain('<a href="/rate-limits">Rate limits</a>');
    expect(page.html).toContain('<a href="/policies" aria-current="page">Policies</a><a href="/providers">');
    const theirs = await viewer.b.get("/policies");
    expect(theirs.html).toContain("Owners and admins of the organisation can create policies.");
    expect(theirs.html).not.toContain('href="/policies/new"');
  });

  it("creates a policy from every field, the same as the API returns, audited; the gateway applies it", async () => {
    const { org, token } = await withProvider("PoliciesCreate");
    const key = await createKey(org.owner.b, "policed");
    const { page, id } = await create(org.owner.b, "/policies", {
      name: "Cheap models only",
      key_id: key.id,
      allow_models: "gpt-4o*, claude-*-haiku*",
      deny_models: "gpt-4o-mini",
      allow_providers: "openai anthropic",
      deny_providers: "groq",
      max_tokens_cap: "2000",
      default_max_tokens: "500",
      required_dimensions: "team, project",
      allowed_sources: "203.0.113.0/24, 2001:db8::/32",
    });
    expect(page.status).toBe(303);
    const fromApi = (await (await api(token, `/policies/${id}`)).json()) as Record<string, unknown>;
    expect(fromApi).toMatchObject({
      id,
      name: "Cheap models only",
      key_id: key.id,
      allow_models: ["gpt-4o*", "claude-*-haiku*"],
      deny_models: ["gpt-4o-mini"],
      allow_providers: ["openai", "anthropic"],
      deny_providers: ["groq"],
      max_tokens_cap: 2000,
      default_max_tokens: 500,
      required_dimensions: ["team", "project"],
      allowed_sources: ["203.0.113.0/24", "2001:db8::/32"],
    });
    const audit = await waitForAudit(org.tenantId, "rule.created", id);
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });

    const list = await org.owner.b.get(page.location ?? "");
    expect(list.html).toContain("Saved the policy “Cheap models only”.");
    expect(list.html).toContain("models denied: gpt-4o-mini");
    expect(list.html).toContain("key “policed”");

    // Empty lists are "no allow list" (null) and no deny list; empty numbers are none.
    const open = await create(org.owner.b, "/policies", { name: "Deny mini", deny_models: "gpt-4o-mini" });
    const openApi = (await (await api(token, `/policies/${open.id}`)).json()) as Record<string, unknown>;
    expect(openApi).toMatchObject({
      key_id: null,
      allow_models: null,
      deny_models: ["gpt-4o-mini"],
      allow_providers: null,
      deny_providers: [],
      max_tokens_cap: null,
      default_max_tokens: null,
      required_dimensions: [],
      allowed_sources: null,
    });
    const other = await createKey(org.owner.b, "other");
    const refused = await chat(other.key);
    expect(refused.status).toBe(403);
    expect(refused.headers.get("x-outlay-refusal")).toBe("policy_denied");
    expect(refused.headers.get("x-outlay-refusal-rule")).toBe(open.id);
    await refused.text();
  });

  it("says what is wrong beside each field, keeps what was typed, and saves nothing", async () => {
    const org = await newOrg("PoliciesBad");
    const long = "m".repeat(201);
    const cases: [Fields, string, string][] = [
      [{ name: "" }, "name", "Name is required."],
      [{ name: "p".repeat(101) }, "name", "Name must be at most 100 characters."],
      [{ key_id: "aaaaaaaaaaaa" }, "key_id", "Choose one of this organisation&#39;s keys."],
      [{ allow_models: long }, "allow_models", "Each model pattern must be at most 200 characters."],
      [{ deny_models: `ok, ${long}` }, "deny_models", "Each model pattern must be at most 200 characters."],
      [{ allow_providers: long }, "allow_providers", "Each provider pattern must be at most 200 characters."],
      [{ max_tokens_cap: "lots" }, "max_tokens_cap", "Output token cap must be a whole number."],
      [{ max_tokens_cap: "0" }, "max_tokens_cap", "Output token cap must be more than 0."],
      [{ max_tokens_cap: "20000000" }, "max_tokens_cap", "Output token cap must be at most 10,000,000."],
      [
        { max_tokens_cap: "100", default_max_tokens: "200" },
        "default_max_tokens",
        "The default output limit must not be above the cap.",
      ],
      [{ required_dimensions: "Team" }, "required_dimensions", "Each dimension name must be 1-32 characters"],
      [
        { required_dimensions: "team, team" },
        "required_dimensions",
        "Required dimensions must not repeat a dimension.",
      ],
      [{ allowed_sources: "10.0.0.0/99" }, "allowed_sources", "Each source must be an IP address or a CIDR range."],
      [{ allowed_sources: "example.com" }, "allowed_sources", "Each source must be an IP address or a CIDR range."],
    ];
    for (const [change, field, message] of cases) {
      const fields = { name: "Policy", ...change };
      const { page, id } = await create(org.owner.b, "/policies", fields);
      expect({ change, status: page.status, id }).toEqual({ change, status: 400, id: null });
      expect({ change, error: fieldError(page.html, field) ?? "" }).toEqual({
        change,
        error: expect.stringContaining(message),
      });
      // What was typed stays in the form (a key id that is not offered cannot be selected).
      const lost = Object.entries(change)
        .filter(([name, value]) => name !== "key_id" && !page.html.includes(`value="${value}"`))
        .map(([name]) => name);
      expect({ change, lost }).toEqual({ change, lost: [] });
    }
    expect(await stored(org.tenantId, "policy")).toBe(0);
  });

  it("edits a prefilled policy and deletes it after a confirmation page, audited", async () => {
    const { org, token } = await withProvider("PoliciesEdit");
    const key = await createKey(org.owner.b, "edited");
    const { id } = await create(org.owner.b, "/policies", { name: "Strict", deny_models: "gpt-4o-mini" });
    const form = await org.owner.b.get(`/policies/${id}`);
    expect(form.status).toBe(200);
    expect(form.html).toContain('value="Strict"');
    expect(form.html).toContain('name="deny_models" id="deny_models" value="gpt-4o-mini"');
    expect((await chat(key.key)).status).toBe(403);

    const saved = await org.owner.b.post(`/policies/${id}`, { name: "Relaxed", deny_models: "o1*" });
    expect(saved.status).toBe(303);
    expect(saved.location).toBe(`/policies?saved=${id}`);
    const fromApi = (await (await api(token, `/policies/${id}`)).json()) as Record<string, unknown>;
    expect(fromApi).toMatchObject({ name: "Relaxed", deny_models: ["o1*"] });
    expect(await waitForAudit(org.tenantId, "rule.updated", id)).toMatchObject({
      actor_kind: "user",
      actor_id: org.owner.userId,
    });
    const allowed = await chat(key.key);
    expect(allowed.status).toBe(200);
    await allowed.text();

    const confirm = await org.owner.b.get(`/policies/${id}/delete`);
    expect(confirm.html).toContain("Delete the policy “Relaxed”?");
    const done = await org.owner.b.post(`/policies/${id}/delete`);
    expect(done.status).toBe(303);
    expect(done.location).toBe("/policies?deleted=1");
    expect((await org.owner.b.get("/policies?deleted=1")).html).toContain("The policy was deleted.");
    expect((await api(token, `/policies/${id}`)).status).toBe(404);
    expect(await waitForAudit(org.tenantId, "rule.deleted", id)).toMatchObject({
      actor_kind: "user",
      actor_id: org.owner.userId,
    });
  });

  it("viewers see a policy read-only; members may not change it", async () => {
    const org = await newOrg("PoliciesRead");
    const viewer = await addMember(org, "viewer");
    const member = await addMember(org, "member");
    const { id } = await create(org.owner.b, "/policies", { name: "Visible", deny_models: "o1*" });
    for (const who of [viewer, member]) {
      const page = await who.b.get(`/policies/${id}`);
      expect(page.status).toBe(200);
      expect(page.html).toContain('value="Visible"');
      expect(page.html).toContain('<fieldset class="plain" disabled="">');
      expect(page.html).not.toContain("Save changes");
      expect((await who.b.post(`/policies/${id}/delete`)).status).toBe(403);
    }
    expect(await stored(org.tenantId, "policy")).toBe(1);
  });
});

describe("/rate-limits", () => {
  it("explains rate limits when there are none", async () => {
    const org = await newOrg("LimitsEmpty");
    const page = await org.owner.b.get("/rate-limits");
    expect(page.status).toBe(200);
    expect(page.html).toContain("No rate limits yet");
    expect(page.html).toContain('<a href="/rate-limits" aria-current="page">Rate limits</a>');
    // The main navigation marks "Policies" for this tab too.
    expect(page.html).toContain('<a href="/policies" aria-current="page">Policies</a><a href="/providers">');
  });

  it("creates a rate limit the same as the API returns, audited; the gateway holds calls to it", async () => {
    const { org, token } = await withProvider("LimitsCreate");
    const key = await createKey(org.owner.b, "limited");
    const { page, id } = await create(org.owner.b, "/rate-limits", {
      name: "One a minute",
      key_id: key.id,
      requests_per_minute: "1",
      tokens_per_minute: "",
    });
    expect(page.status).toBe(303);
    const fromApi = (await (await api(token, `/rate-limits/${id}`)).json()) as Record<string, unknown>;
    expect(fromApi).toMatchObject({
      id,
      name: "One a minute",
      key_id: key.id,
      requests_per_minute: 1,
      tokens_per_minute: null,
    });
    expect(await waitForAudit(org.tenantId, "rule.created", id)).toMatchObject({
      actor_kind: "user",
      actor_id: org.owner.userId,
    });
    const list = await org.owner.b.get(page.location ?? "");
    expect(list.html).toContain("Saved the rate limit “One a minute”.");
    expect(list.html).toContain('<td class="num">1</td><td class="num">no limit</td>');

    const first = await chat(key.key);
    expect(first.status).toBe(200);
    await first.text();
    const second = await chat(key.key);
    expect(second.status).toBe(429);
    expect(second.headers.get("x-outlay-refusal")).toBe("rate_limited");
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThan(0);
    await second.text();

    // Raised on the edit page, the next call fits again.
    const edit = await org.owner.b.get(`/rate-limits/${id}`);
    expect(edit.html).toContain('name="requests_per_minute" id="requests_per_minute" value="1"');
    const raised = await org.owner.b.post(`/rate-limits/${id}`, {
      name: "Plenty",
      key_id: key.id,
      requests_per_minute: "1000",
      tokens_per_minute: "1000000",
    });
    expect(raised.status).toBe(303);
    expect((await (await api(token, `/rate-limits/${id}`)).json()) as Record<string, unknown>).toMatchObject({
      name: "Plenty",
      requests_per_minute: 1000,
      tokens_per_minute: 1_000_000,
    });
    const third = await chat(key.key);
    expect(third.status).toBe(200);
    await third.text();
  });

  it("says what is wrong beside each field and saves nothing", async () => {
    const org = await newOrg("LimitsBad");
    const cases: [Fields, string, string][] = [
      [{ name: "", requests_per_minute: "5" }, "name", "Name is required."],
      [{ name: "x" }, "requests_per_minute", "Set requests per minute, tokens per minute or both."],
      [{ name: "x", requests_per_minute: "ten" }, "requests_per_minute", "Requests per minute must be a whole number."],
      [{ name: "x", requests_per_minute: "0" }, "requests_per_minute", "Requests per minute must be more than 0."],
      [
        { name: "x", requests_per_minute: "2000000" },
        "requests_per_minute",
        "Requests per minute must be at most 1,000,000.",
      ],
      [{ name: "x", tokens_per_minute: "1.5" }, "tokens_per_minute", "Tokens per minute must be a whole number."],
      [
        { name: "x", tokens_per_minute: "20000000" },
        "tokens_per_minute",
        "Tokens per minute must be at most 10,000,000.",
      ],
      [{ name: "x", requests_per_minute: "5", key_id: "aaaaaaaaaaaa" }, "key_id", "this organisation&#39;s keys"],
    ];
    for (const [fields, field, message] of cases) {
      const { page, id } = await create(org.owner.b, "/rate-limits", fields);
      expect({ fields, status: page.status, id }).toEqual({ fields, status: 400, id: null });
      expect({ fields, error: fieldError(page.html, field) ?? "" }).toEqual({
        fields,
        error: expect.stringContaining(message),
      });
    }
    expect(await stored(org.tenantId, "rate_limit")).toBe(0);
  });

  it("deletes after a confirmation page", async () => {
    const org = await newOrg("LimitsDelete");
    const { id } = await create(org.owner.b, "/rate-limits", { name: "Short-lived", tokens_per_minute: "5000" });
    const confirm = await org.owner.b.get(`/rate-limits/${id}/delete`);
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain("Delete the rate limit “Short-lived”?");
    const done = await org.owner.b.post(`/rate-limits/${id}/delete`);
    expect(done.location).toBe("/rate-limits?deleted=1");
    expect(await stored(org.tenantId, "rate_limit")).toBe(0);
    expect(await waitForAudit(org.tenantId, "rule.deleted", id)).toMatchObject({
      actor_kind: "user",
      actor_id: org.owner.userId,
    });
  });
});

describe("policies and rate limits of another organisation, and CSRF", () => {
  it("another organisation's policy or rate limit is a 404 on every route, never shown or changed", async () => {
    const a = await newOrg("RulesA");
    const b = await newOrg("RulesB");
    const policy = await create(b.owner.b, "/policies", { name: "Bravo policy", deny_models: "o1*" });
    const limit = await create(b.owner.b, "/rate-limits", { name: "Bravo limit", requests_per_minute: "7" });
    await a.owner.b.get("/policies");
    for (const [base, id, name] of [
      ["/policies", policy.id, "Bravo policy"],
      ["/rate-limits", limit.id, "Bravo limit"],
    ] as const) {
      const attempts = [
        await a.owner.b.get(`${base}/${id}`),
        await a.owner.b.post(`${base}/${id}`, { name: "hijacked", requests_per_minute: "1" }),
        await a.owner.b.get(`${base}/${id}/delete`),
        await a.owner.b.post(`${base}/${id}/delete`),
      ];
      for (const page of attempts) {
        expect({ base, status: page.status }).toEqual({ base, status: 404 });
        expect(page.html).not.toContain(name);
      }
      expect((await a.owner.b.get(base)).html).not.toContain(name);
    }
    expect(await stored(b.tenantId, "policy")).toBe(1);
    expect(await stored(b.tenantId, "rate_limit")).toBe(1);
    expect(
      await count("SELECT COUNT(*) AS n FROM ledger_rules WHERE tenant_id = ? AND name = 'hijacked'", b.tenantId),
    ).toBe(0);
  });

  it("posts need the session's CSRF token", async () => {
    const org = await newOrg("RulesCsrf");
    const anonymous = await worker("/rate-limits", { redirect: "manual" });
    expect(anonymous.headers.get("location")).toBe("/login?next=%2Frate-limits");
    const policy = await create(org.owner.b, "/policies", { name: "Kept", deny_models: "o1*" });
    const limit = await create(org.owner.b, "/rate-limits", { name: "Kept", requests_per_minute: "7" });
    for (const path of [
      "/policies",
      `/policies/${policy.id}`,
      `/policies/${policy.id}/delete`,
      "/rate-limits",
      `/rate-limits/${limit.id}`,
      `/rate-limits/${limit.id}/delete`,
    ]) {
      const forged = await org.owner.b.post(path, { name: "forged", requests_per_minute: "1", _csrf: "f".repeat(64) });
      expect({ path, status: forged.status }).toEqual({ path, status: 403 });
    }
    expect(await stored(org.tenantId, "policy")).toBe(1);
    expect(await stored(org.tenantId, "rate_limit")).toBe(1);
    expect(
      await count("SELECT COUNT(*) AS n FROM ledger_rules WHERE tenant_id = ? AND name = 'forged'", org.tenantId),
    ).toBe(0);
  });
});
