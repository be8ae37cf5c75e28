// /providers: route tests in workerd — add, replace and remove credentials of known and
// OpenAI-compatible providers, the key never shown or stored in clear, validation beside the
// fields, test connection against the demo upstream (and its failure paths), roles, CSRF and
// cross-tenant denial; the connection check's verdicts at the network boundary.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { DEMO_ANTHROPIC_MODELS, DEMO_GEMINI_MODELS } from "../../demo/upstream/model-lists.ts";
import { DEMO_OPENAI_MODELS } from "../../demo/upstream/openai-embeddings.ts";
import { ledgerFor } from "../../workers/ledger/index.ts";
import {
  checkConnection,
  describeCheck,
  modelsRequest,
  type CheckResult,
} from "../../workers/gateway/provider-check.ts";
import { addMember, newOrg, waitForAudit, type Org, type Person } from "../auth/orgs.ts";
import { testTag, upstreamCalls, worker } from "../helpers.ts";

const UP = () => env.UPSTREAM_URL;

function secretKey(label: string): string {
  return `sk-${label}-${crypto.randomUUID().replaceAll("-", "")}-tail`;
}

async function save(who: Person, fields: Record<string, string>) {
  await who.b.get("/providers");
  return who.b.post("/providers", fields);
}

async function stored(org: Org, name: string) {
  return (await ledgerFor(env, org.tenantId).listProviders()).find((p) => p.name === name) ?? null;
}

/** The text of the error element of a field (`<field>-error`). */
function fieldError(html: string, field: string): string {
  return new RegExp(`id="${field}-error">([^<]+)<`).exec(html)?.[1] ?? "";
}

/** Every D1 row (all tables but D1's own), as text. */
async function allD1Text(): Promise<string> {
  const listed = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all<{
    name: string;
  }>();
  const parts: string[] = [];
  for (const { name } of listed.results) {
    if (name.startsWith("_cf_")) continue;
    const rows = await env.DB.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).all();
    parts.push(JSON.stringify(rows.results));
  }
  return parts.join("\n");
}

describe("/providers: list, add, replace", () => {
  it("explains what a credential is for when there is none, and lists the known providers", async () => {
    const org = await newOrg("ProvEmpty");
    const page = await org.owner.b.get("/providers");
    expect(page.status).toBe(200);
    expect(page.html).toContain("No provider credentials yet");
    expect(page.html).toContain("forwards the call to the provider with this credential");
    for (const name of ["openai", "anthropic", "google", "groq"]) {
      expect(page.html).toContain(`href="/providers?provider=${name}#add"`);
    }
    expect(page.html).toContain("https://api.anthropic.com/v1");
    expect(page.html).toContain('action="/providers"');
  });

  it("saves a known provider with a base URL override; the key is never shown or stored in clear", async () => {
    const org = await newOrg("ProvAdd");
    const key = secretKey("ant");
    const saved = await save(org.owner, {
      provider: "anthropic",
      api_key: key,
      base_url: `${UP()}/anthropic/v1/`,
    });
    expect(saved.status).toBe(303);
    expect(saved.location).toBe("/providers?saved=anthropic");
    const record = await stored(org, "anthropic");
    expect(record).toMatchObject({
      format: "anthropic",
      baseUrl: `${UP()}/anthropic/v1`,
      keyHint: `sk-…${key.slice(-4)}`,
    });

    const page = await org.owner.b.get(saved.location ?? "");
    expect(page.status).toBe(200);
    expect(page.html).toContain("Saved the credential of anthropic (sk-…tail)");
    expect(page.html).toContain(`<code class="url">${UP()}/anthropic/v1</code>`);
    expect(page.html).toContain("(override)");
    expect(page.html).not.toContain("No provider credentials yet");
    expect(page.html).not.toContain(key);

    const audit = await waitForAudit(org.tenantId, "provider.set", "anthropic");
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });
    expect(audit.parsed).toMatchObject({ replaced: false, keyHint: "sk-…tail" });
    expect(audit.data).not.toContain(key);
    const d1 = await allD1Text();
    expect(d1).toContain("sk-…tail");
    expect(d1).not.toContain(key);
    expect(d1).not.toContain(key.slice(3, -5));
  });

  it("replaces a credential: the form says it replaces, the notice says it did, the audit too", async () => {
    const org = await newOrg("ProvReplace");
    const first = secretKey("first");
    const second = secretKey("second");
    expect((await save(org.owner, { provider: "openai", api_key: first, base_url: `${UP()}/openai/v1` })).status).toBe(
      303,
    );
    const form = await org.owner.b.get("/providers?provider=openai");
    expect(form.html).toContain("Replace the credential of openai");
    expect(form.html).toContain("Saving replaces the key");
    // The current override comes back into the form; the key does not.
    expect(form.html).toContain(`value="${UP()}/openai/v1"`);
    expect(form.html).not.toContain(first);

    const replaced = await save(org.owner, { provider: "openai", api_key: second, base_url: "" });
    expect(replaced.location).toBe("/providers?saved=openai&replaced=1");
    const page = await org.owner.b.get(replaced.location ?? "");
    expect(page.html).toContain("Replaced the credential of openai");
    expect(page.html).toContain('<code class="url">https://api.openai.com/v1</code> <span class="hint">(default)');
    expect(await stored(org, "openai")).toMatchObject({ baseUrl: null, keyHint: "sk-…tail" });
    expect(page.html).not.toContain(first);
    expect(page.html).not.toContain(second);

    const until = Date.now() + 5_000;
    let events: { data: string }[] = [];
    while (events.length < 2 && Date.now() < until) {
      const rows = await env.DB.prepare(
        "SELECT data FROM audit_events WHERE tenant_id = ? AND type = 'provider.set' ORDER BY seq",
      )
        .bind(org.tenantId)
        .all<{ data: string }>();
      events = rows.results;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(events.map((e) => (JSON.parse(e.data) as { replaced: boolean }).replaced)).toEqual([false, true]);
    expect(JSON.stringify(events)).not.toContain(first.slice(3, -5));
    expect(JSON.stringify(events)).not.toContain(second.slice(3, -5));
  });

  it("adds an OpenAI-compatible provider by name; it needs a base URL", async () => {
    const org = await newOrg("ProvCompat");
    const key = secretKey("compat");
    const saved = await save(org.owner, {
      provider: "compatible",
      name: "my-vllm",
      api_key: key,
      base_url: `${UP()}/openai/v1`,
    });
    expect(saved.status).toBe(303);
    expect(await stored(org, "my-vllm")).toMatchObject({ format: "openai", baseUrl: `${UP()}/openai/v1` });
    const page = await org.owner.b.get("/providers");
    expect(page.html).toContain("<code>my-vllm</code>");
    expect(page.html).toContain("OpenAI-compatible");
    expect(page.html).not.toContain(key);
    // Its replace link pre-fills the compatible form.
    const form = await org.owner.b.get("/providers?provider=my-vllm");
    expect(form.html).toContain("Replace the credential of my-vllm");
    expect(form.html).toContain('<option value="compatible" selected="">');
    expect(form.html).toContain('value="my-vllm"');
  });

  it("says what is wrong beside the field (400), keeps the key field empty and stores nothing", async () => {
    const org = await newOrg("ProvBad");
    const key = secretKey("bad");
    const https = "https://llm.example.com/v1";
    const cases: [Record<string, string>, string, string][] = [
      [{ provider: "", api_key: key }, "provider", "Choose a provider"],
      [{ provider: "no-such-thing", api_key: key }, "provider", "Choose a provider"],
      [{ provider: "compatible", name: "", api_key: key, base_url: https }, "name", "Name the OpenAI-compatible"],
      [{ provider: "compatible", name: "Bad Name", api_key: key, base_url: https }, "name", "2-32 characters"],
      [{ provider: "compatible", name: "api", api_key: key, base_url: https }, "name", "2-32 characters"],
      [{ provider: "compatible", name: "anthropic", api_key: key, base_url: https }, "name", "known provider"],
      [{ provider: "compatible", name: "my-llm", api_key: key }, "base_url", "required for an OpenAI-compatible"],
      [{ provider: "compatible", name: "", api_key: key }, "base_url", "required for an OpenAI-compatible"],
      [{ provider: "openai", api_key: key, base_url: "http://example.com/v1" }, "base_url", "must use https"],
      [{ provider: "openai", api_key: key, base_url: "https://u:p@example.com/v1" }, "base_url", "credentials"],
      [{ provider: "openai", api_key: key, base_url: "not a url" }, "base_url", "not a URL"],
      [{ provider: "openai", api_key: key, base_url: `https://x.test/${"a".repeat(2100)}` }, "base_url", "longer than"],
      [{ provider: "openai", api_key: "" }, "api_key", "The API key is empty"],
      [{ provider: "openai", api_key: "   " }, "api_key", "The API key is empty"],
      [{ provider: "openai", api_key: "k".repeat(4097) }, "api_key", "longer than 4096"],
    ];
    for (const [fields, field, text] of cases) {
      const page = await save(org.owner, fields);
      expect({ fields: Object.keys(fields), status: page.status }).toEqual({
        fields: Object.keys(fields),
        status: 400,
      });
      expect(fieldError(page.html, field)).toContain(text);
      expect(page.html).not.toContain(key);
      expect(/<input type="password" name="api_key" id="api_key"[^>]*value=/.test(page.html)).toBe(false);
      // The other fields come back as typed.
      const kept = !fields.base_url || field === "base_url" || page.html.includes(`value="${fields.base_url}"`);
      expect(kept).toBe(true);
    }
    expect(await ledgerFor(env, org.tenantId).listProviders()).toEqual([]);
    expect(await allD1Text()).not.toContain(key);
  });
});

describe("/providers: test connection", () => {
  it("lists the models of OpenAI-compatible, Anthropic and Gemini upstreams with their own auth", async () => {
    const org = await newOrg("ProvTest");
    // Each provider's base URL files its calls under a test id of its own (demo/upstream README).
    const tags = { openai: testTag().id, anthropic: testTag().id, google: testTag().id, "local-llm": testTag().id };
    const cases: [Record<string, string>, string, number, string][] = [
      [
        { provider: "openai", base_url: `${UP()}/_demo/t/${tags.openai}/openai/v1` },
        "openai",
        DEMO_OPENAI_MODELS.length,
        "/openai/v1/models",
      ],
      [
        { provider: "anthropic", base_url: `${UP()}/_demo/t/${tags.anthropic}/anthropic/v1` },
        "anthropic",
        DEMO_ANTHROPIC_MODELS.length,
        "/anthropic/v1/models",
      ],
      [
        { provider: "google", base_url: `${UP()}/_demo/t/${tags.google}/google` },
        "google",
        DEMO_GEMINI_MODELS.length,
        "/google/v1beta/models",
      ],
      [
        { provider: "compatible", name: "local-llm", base_url: `${UP()}/_demo/t/${tags["local-llm"]}/openai/v1` },
        "local-llm",
        DEMO_OPENAI_MODELS.length,
        "/openai/v1/models",
      ],
    ];
    for (const [fields, name, models, path] of cases) {
      const key = secretKey(name);
      expect((await save(org.owner, { ...fields, api_key: key })).status).toBe(303);
      await org.owner.b.get("/providers");
      const page = await org.owner.b.post(`/providers/${name}/test`);
      expect({ name, status: page.status }).toEqual({ name, status: 200 });
      const cell = new RegExp(`id="test-${name}" aria-live="polite">(.*?)</td>`).exec(page.html)?.[1] ?? "";
      expect(cell).toMatch(new RegExp(`Connected: HTTP 200 in \\d+ ms, ${models} models listed\\.`));
      expect(cell).toContain('<span class="badge ok">OK</span>');
      expect(page.html).not.toContain(key);
      const calls = await upstreamCalls(tags[name as keyof typeof tags]);
      expect(calls.map((r) => r.path)).toEqual([path]);
      const logged = calls[0];
      expect(logged).toMatchObject({ status: 200, keyPresent: true });
      expect(logged?.headers["anthropic-version"]).toBe(name === "anthropic" ? "2023-06-01" : undefined);
      expect(JSON.stringify(logged)).not.toContain(key);
    }
  });

  it("returns only the result for htmx, and says why a test failed", async () => {
    const org = await newOrg("ProvFail");
    const hx = (name: string) =>
      org.owner.b.request(`/providers/${name}/test`, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          origin: "https://outlay.test",
          "hx-request": "true",
          "x-csrf-token": org.owner.b.csrf ?? "",
        },
        body: "",
      });
    // The demo upstream refuses the key "invalid" with 401; port 1 on loopback refuses connections;
    // a path with no model list answers 404.
    expect(
      (await save(org.owner, { provider: "openai", api_key: "invalid", base_url: `${UP()}/openai/v1` })).status,
    ).toBe(303);
    expect(
      (
        await save(org.owner, {
          provider: "compatible",
          name: "nowhere",
          api_key: secretKey("x"),
          base_url: "http://127.0.0.1:1/v1",
        })
      ).status,
    ).toBe(303);
    expect(
      (
        await save(org.owner, {
          provider: "compatible",
          name: "wrong-path",
          api_key: secretKey("y"),
          base_url: `${UP()}/openai/nope`,
        })
      ).status,
    ).toBe(303);

    const refused = await hx("openai");
    expect(refused.status).toBe(200);
    expect(refused.html).not.toContain("<html");
    expect(refused.html).not.toContain("<nav");
    expect(refused.html).toContain('<span class="badge danger">failed</span>');
    expect(refused.html).toContain("Failed (HTTP 401)");
    expect(refused.html).toContain("the provider refused the key");
    // Never the provider's body (the demo says "Incorrect API key provided" or similar).
    expect(refused.html).not.toMatch(/incorrect|invalid_api_key|authentication/i);

    const unreachable = await hx("nowhere");
    expect(unreachable.html).toContain("could not be reached");
    const missing = await hx("wrong-path");
    expect(missing.html).toContain("Failed (HTTP 404)");
    expect(missing.html).toContain("no model list at this base URL");

    // Without htmx: the whole page, the result beside its provider.
    await org.owner.b.get("/providers");
    const full = await org.owner.b.post("/providers/nowhere/test");
    expect(full.status).toBe(200);
    expect(full.html).toContain("<h1>Providers</h1>");
    expect(/id="test-nowhere" aria-live="polite">.*could not be reached/.test(full.html)).toBe(true);
    expect(/id="test-openai" aria-live="polite"><span class="hint">not tested/.test(full.html)).toBe(true);

    // The test changes nothing and is not audited.
    await waitForAudit(org.tenantId, "provider.set", "wrong-path");
    const audited = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = ? AND subject IN ('openai', 'nowhere', 'wrong-path') AND type <> 'provider.set'",
    )
      .bind(org.tenantId)
      .first<{ n: number }>();
    expect(audited?.n).toBe(0);
  });
});

describe("/providers: remove", () => {
  it("asks first, then removes with an audit event; an unknown name is not found", async () => {
    const org = await newOrg("ProvRemove");
    expect((await save(org.owner, { provider: "groq", api_key: secretKey("groq") })).status).toBe(303);
    const confirm = await org.owner.b.get("/providers/groq/remove");
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain("Remove the credential of groq?");
    expect(confirm.html).toContain("sk-…tail");
    expect(await stored(org, "groq")).not.toBeNull();
    const done = await org.owner.b.post("/providers/groq/remove");
    expect(done.status).toBe(303);
    expect(done.location).toBe("/providers?removed=groq");
    expect(await stored(org, "groq")).toBeNull();
    const page = await org.owner.b.get(done.location ?? "");
    expect(page.html).toContain("Removed the credential of groq");
    const audit = await waitForAudit(org.tenantId, "provider.deleted", "groq");
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });

    expect((await org.owner.b.get("/providers/groq/remove")).location).toBe("/providers");
    const again = await org.owner.b.post("/providers/groq/remove");
    expect(again.status).toBe(404);
    expect(again.html).toContain("No credential is stored for groq in this organisation.");
  });
});

describe("/providers: who may do what", () => {
  it("viewers and members see the list read-only and are refused every change", async () => {
    const org = await newOrg("ProvRoles");
    const key = secretKey("roles");
    expect((await save(org.owner, { provider: "openai", api_key: key, base_url: `${UP()}/openai/v1` })).status).toBe(
      303,
    );
    for (const role of ["viewer", "member"] as const) {
      const who = await addMember(org, role);
      const page = await who.b.get("/providers");
      expect(page.status).toBe(200);
      expect(page.html).toContain("sk-…tail");
      expect(page.html).not.toContain(key);
      expect(page.html).not.toContain('action="/providers"');
      expect(page.html).not.toContain("/providers/openai/test");
      expect(page.html).not.toContain("/providers/openai/remove");
      const posted = await who.b.post("/providers", { provider: "anthropic", api_key: secretKey("no") });
      expect(posted.status).toBe(403);
      expect(posted.html).toContain(`Your role (${role}) may not do this`);
      expect((await who.b.post("/providers/openai/remove")).status).toBe(403);
      expect((await who.b.post("/providers/openai/test")).status).toBe(403);
      expect((await who.b.get("/providers/openai/remove")).status).toBe(403);
    }
    expect((await ledgerFor(env, org.tenantId).listProviders()).map((p) => p.name)).toEqual(["openai"]);
  });

  it("needs a session, and the session's CSRF token to post", async () => {
    const org = await newOrg("ProvCsrf");
    const anonymous = await worker("/providers", { redirect: "manual" });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe("/login?next=%2Fproviders");
    await org.owner.b.get("/providers");
    const forged = await org.owner.b.post("/providers", {
      provider: "openai",
      api_key: secretKey("forged"),
      _csrf: "0".repeat(64),
    });
    expect(forged.status).toBe(403);
    const none = await org.owner.b.post(
      "/providers",
      { provider: "openai", api_key: secretKey("none") },
      { csrf: false },
    );
    expect(none.status).toBe(403);
    expect(await ledgerFor(env, org.tenantId).listProviders()).toEqual([]);
  });

  it("never shows, tests or removes another organisation's provider", async () => {
    const a = await newOrg("ProvA");
    const b = await newOrg("ProvB");
    const bKey = secretKey("bravo");
    expect(
      (await save(b.owner, { provider: "compatible", name: "bravo-llm", api_key: bKey, base_url: `${UP()}/openai/v1` }))
        .status,
    ).toBe(303);
    const list = await a.owner.b.get("/providers");
    expect(list.html).not.toContain("bravo-llm");
    expect(list.html).toContain("No provider credentials yet");
    expect((await a.owner.b.get("/providers/bravo-llm/remove")).location).toBe("/providers");
    const tested = await a.owner.b.post("/providers/bravo-llm/test");
    expect(tested.status).toBe(404);
    expect(tested.html).not.toContain("Connected");
    const removed = await a.owner.b.post("/providers/bravo-llm/remove");
    expect(removed.status).toBe(404);
    expect(await stored(b, "bravo-llm")).not.toBeNull();
    const notice = await a.owner.b.get("/providers?saved=bravo-llm");
    expect(notice.html).not.toContain("bravo-llm (");
    expect(notice.html).not.toContain(bKey.slice(-4));
  });
});

describe("connection check verdicts (the provider stood in for at the network boundary)", () => {
  const target = {
    format: "openai" as const,
    baseUrl: "https://llm.example.test/v1",
    credential: "sk-test-credential",
  };
  const answer =
    (status: number, body: string, headers: Record<string, string> = {}): typeof fetch =>
    async () =>
      new Response(body, { status, headers });
  const count = (n: number) => String(n);

  it("builds each provider's model-list request with its auth header", () => {
    expect(modelsRequest("openai", "https://api.openai.com/v1/", "k1")).toEqual({
      url: "https://api.openai.com/v1/models",
      headers: { accept: "application/json", authorization: "Bearer k1" },
    });
    expect(modelsRequest("anthropic", "https://api.anthropic.com/v1", "k2")).toEqual({
      url: "https://api.anthropic.com/v1/models?limit=1000",
      headers: { accept: "application/json", "x-api-key": "k2", "anthropic-version": "2023-06-01" },
    });
    expect(modelsRequest("google", "https://generativelanguage.googleapis.com", "k3")).toEqual({
      url: "https://generativelanguage.googleapis.com/v1beta/models?pageSize=1000",
      headers: { accept: "application/json", "x-goog-api-key": "k3" },
    });
  });

  it("names each failure without the provider's body", async () => {
    const marker = `BODY-${crypto.randomUUID()}`;
    const cases: [number, string, CheckResult["ok"], string][] = [
      [401, "refused the key", false, "HTTP 401"],
      [403, "refused the key", false, "HTTP 403"],
      [404, "no model list", false, "HTTP 404"],
      [429, "rate-limiting", false, "HTTP 429"],
      [500, "error of its own", false, "HTTP 500"],
      [529, "error of its own", false, "HTTP 529"],
      [302, "redirects", false, "HTTP 302"],
      [418, "did not accept", false, "HTTP 418"],
    ];
    for (const [status, text, ok, shown] of cases) {
      const result = await checkConnection(target, { fetch: answer(status, `{"error":"${marker}"}`) });
      const said = describeCheck(result, count);
      expect({ status, ok: result.ok, has: said.includes(text) && said.includes(shown) }).toEqual({
        status,
        ok,
        has: true,
      });
      expect(said).not.toContain(marker);
    }
    const google = await checkConnection(
      { ...target, format: "google" },
      { fetch: answer(400, '{"error":{"status":"INVALID_ARGUMENT","details":[{"reason":"API_KEY_INVALID"}]}}') },
    );
    expect(google).toMatchObject({ ok: false, problem: "refused", status: 400 });
    const notList = await checkConnection(target, { fetch: answer(200, "<html>hello</html>") });
    expect(notList).toMatchObject({ ok: false, problem: "not_a_model_list", status: 200 });
    expect(await checkConnection(target, { fetch: answer(200, '{"models":[]}') })).toMatchObject({
      problem: "not_a_model_list",
    });
  });

  it("times out after the limit, and reports connection errors as unreachable", async () => {
    const hang: typeof fetch = (_input, init) =>
      new Promise((_resolve, reject) => {
        init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    const slow = await checkConnection(target, { fetch: hang, timeoutMs: 50 });
    expect(slow).toMatchObject({ ok: false, problem: "timeout", status: null });
    expect(describeCheck(slow, count)).toContain("no answer within 10 seconds");
    const broken: typeof fetch = async () => {
      throw new TypeError(`connect failed to ${target.baseUrl} with sk-test-credential`);
    };
    const down = await checkConnection(target, { fetch: broken });
    expect(down).toMatchObject({ ok: false, problem: "unreachable", status: null });
    expect(describeCheck(down, count)).not.toContain("sk-test-credential");
    expect(describeCheck(down, count)).not.toContain("llm.example.test");
  });

  it("counts models across formats and says when the list has more pages", async () => {
    const ok = await checkConnection(target, {
      fetch: answer(200, '{"object":"list","data":[{"id":"a"},{"id":"b"}]}'),
    });
    expect(describeCheck(ok, count)).toMatch(/^Connected: HTTP 200 in \d+ ms, 2 models listed\.$/);
    const more = await checkConnection(
      { ...target, format: "anthropic" },
      { fetch: answer(200, '{"data":[{"id":"m"}],"has_more":true,"first_id":"m","last_id":"m"}') },
    );
    expect(describeCheck(more, count)).toContain("at least 1 model listed");
    const gemini = await checkConnection(
      { ...target, format: "google" },
      { fetch: answer(200, '{"models":[{"name":"models/x"}],"nextPageToken":"t"}') },
    );
    expect(gemini).toMatchObject({ ok: true, models: 1, more: true });
    const none = await checkConnection({ ...target, format: "google" }, { fetch: answer(200, "{}") });
    expect(none).toMatchObject({ ok: true, models: 0, more: false });
  });
});
