// Names, bounds and routes of the management API (docs/api.md): provider names follow the
// gateway router's rule everywhere one is accepted (credentials, dashboard, price overrides, rule
// globs); every rule's and key's dimensions are bounded like a call's; unmatched /api/v1/* and
// /internal/v1/* paths answer the API's own JSON error; ids in paths are checked before any
// lookup; and another tenant's admin token can neither read nor change any of it.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_DIMENSIONS } from "../../shared/dimensions.ts";
import { ledgerFor } from "../../workers/ledger/index.ts";
import { newOrg, type Org } from "../auth/orgs.ts";
import { newTenant, worker, type Tenant } from "../helpers.ts";

type ApiError = { error?: { code?: string; message?: string; field?: string } };

async function errorOf(res: Response): Promise<ApiError["error"]> {
  return ((await res.json()) as ApiError).error;
}

/** Names a provider may not have: the router's reserved names and Outlay's own first path
 * segments, Object.prototype's keys, case, length, characters. */
const BAD_NAMES = [
  "api",
  "v1",
  "internal",
  "health",
  "auth",
  "app",
  "static",
  "dashboard",
  "keys",
  "providers",
  "usage",
  "budgets",
  "policies",
  "rate-limits",
  "audit",
  "settings",
  "prices",
  "login",
  "signup",
  "logout",
  "account",
  "org",
  "sso",
  "invite",
  "reset",
  "activity",
  "quickstart",
  "__proto__",
  "constructor",
  "toString",
  "prototype",
  "hasOwnProperty",
  "valueOf",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
  "__defineGetter__",
  "OpenAI",
  "GROQ",
  "My-LLM",
  "a",
  "9lives",
  "-llm",
  `l${"x".repeat(32)}`,
  "my llm",
  "my_llm",
  "my.llm",
  "llm\u0000",
  "ｌｌｍ",
  "llm-é",
  "llm\u0131",
];

/** Raw (already encoded) path segments that must not reach a credential. */
const ENCODED_SEGMENTS = [
  "%61pi",
  "%2e%2e",
  "..%2F..%2Fx",
  "..%5C..%5Cx",
  "%5C",
  "my%2Fllm",
  "%252e%252e",
  "%252F",
  "%00",
];

const OVERRIDE = { model: "m-1", input_per_mtok: "1", output_per_mtok: "2" };

let a: Tenant;
let b: Tenant;
beforeAll(async () => {
  [a, b] = await Promise.all([newTenant({ providers: false }), newTenant({ providers: false })]);
});

describe("provider names (the gateway router's rule, everywhere)", () => {
  it("PUT /api/v1/providers/{name} refuses every bad name with a 400 naming provider, storing nothing", async () => {
    const accepted: string[] = [];
    for (const name of BAD_NAMES) {
      const res = await a.api(`/providers/${encodeURIComponent(name)}`, {
        method: "PUT",
        json: { api_key: "sk-test-0000000000000000", base_url: "https://llm.acme.dev/v1" },
      });
      const error = await errorOf(res);
      if (res.status !== 400 || error?.field !== "provider") accepted.push(`${JSON.stringify(name)} ${res.status}`);
    }
    for (const raw of ENCODED_SEGMENTS) {
      const res = await a.api(`/providers/${raw}`, {
        method: "PUT",
        json: { api_key: "sk-test-0000000000000000", base_url: "https://llm.acme.dev/v1" },
      });
      if (res.status !== 400 && res.status !== 404) accepted.push(`${raw} ${res.status}`);
    }
    expect(accepted).toEqual([]);
    expect(await ledgerFor(env, a.tenantId).listProviders()).toEqual([]);
  });

  it("GET and DELETE /api/v1/providers/{name} answer 404 for a bad name", async () => {
    for (const name of [...BAD_NAMES.map(encodeURIComponent), ...ENCODED_SEGMENTS]) {
      for (const method of ["GET", "DELETE"]) {
        const res = await a.api(`/providers/${name}`, { method });
        expect([404, 400]).toContain(res.status);
        const error = await errorOf(res);
        expect(["not_found", "unknown_route", "bad_request"]).toContain(error?.code);
      }
    }
  });

  it("still accepts known and well-formed names", async () => {
    for (const name of ["groq", "openai", "my-llm", "ollama", "x9"]) {
      const res = await a.api(`/providers/${name}`, {
        method: "PUT",
        json: { api_key: "sk-test-0000000000000000", base_url: "https://llm.acme.dev/v1" },
      });
      expect(res.status).toBe(200);
    }
  });

  it("PUT /api/v1/prices/overrides refuses the same names", async () => {
    const accepted: string[] = [];
    for (const provider of BAD_NAMES) {
      const res = await a.api("/prices/overrides", { method: "PUT", json: { provider, ...OVERRIDE } });
      const error = await errorOf(res);
      if (res.status !== 400 || error?.field !== "provider") accepted.push(`${JSON.stringify(provider)} ${res.status}`);
    }
    expect(accepted).toEqual([]);
    expect(await ledgerFor(env, a.tenantId).listPriceOverrides()).toEqual([]);
    const ok = await a.api("/prices/overrides", { method: "PUT", json: { provider: "my-llm", ...OVERRIDE } });
    expect(ok.status).toBe(200);
    const bad = await a.api("/prices/overrides?provider=constructor&model=m-1", { method: "DELETE" });
    expect(bad.status).toBe(400);
  });

  it("budgets and policies refuse provider globs that can never match a provider name", async () => {
    const badGlobs = [
      "OpenAI",
      "Open*",
      "api",
      "keys",
      "constructor",
      "open ai",
      "open_ai",
      "open/ai",
      "",
      "a".repeat(201),
    ];
    const accepted: string[] = [];
    for (const glob of badGlobs) {
      const budget = await a.api("/budgets", {
        method: "POST",
        json: { name: "b", scope: { provider: glob }, window: "daily", limit_usd: "1" },
      });
      if (budget.status !== 400 || (await errorOf(budget))?.field !== "scope.provider") accepted.push(`budget ${glob}`);
      for (const field of ["allow_providers", "deny_providers"]) {
        const policy = await a.api("/policies", { method: "POST", json: { name: "p", [field]: [glob] } });
        if (policy.status !== 400 || !(await errorOf(policy))?.field?.startsWith(field)) {
          accepted.push(`policy ${field} ${glob}`);
        }
      }
    }
    expect(accepted).toEqual([]);
    for (const glob of ["*", "open*", "groq", "my-llm", "o?enai", "*-llm"]) {
      const budget = await a.api("/budgets", {
        method: "POST",
        json: { name: "b", scope: { provider: glob }, window: "daily", limit_usd: "1" },
      });
      expect(budget.status).toBe(201);
      const policy = await a.api("/policies", { method: "POST", json: { name: "p", deny_providers: [glob] } });
      expect(policy.status).toBe(201);
    }
  });

  describe("the dashboard's /providers form", () => {
    let org: Org;
    beforeAll(async () => {
      org = await newOrg("Names");
    });

    it("refuses the same names as an OpenAI-compatible provider, and prototype keys as a choice", async () => {
      await org.owner.b.get("/providers");
      const accepted: string[] = [];
      for (const name of BAD_NAMES.filter((n) => n.trim() === n && n.length > 0)) {
        const res = await org.owner.b.post("/providers", {
          provider: "compatible",
          name,
          api_key: "sk-test-0000000000000000",
          base_url: "https://llm.acme.dev/v1",
        });
        if (res.status === 303) accepted.push(name);
      }
      for (const provider of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
        const res = await org.owner.b.post("/providers", { provider, api_key: "sk-test-0000000000000000" });
        if (res.status === 303) accepted.push(`choice ${provider}`);
      }
      expect(accepted).toEqual([]);
      expect(await ledgerFor(env, org.tenantId).listProviders()).toEqual([]);
    });
  });
});

describe("dimension bounds of rules and keys (the gateway's MAX_DIMENSIONS and checkDimension)", () => {
  const dims = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`d${i}`, `v${i}`]));
  const BAD_DIMENSIONS: Record<string, string>[] = [
    { "Bad Name": "v" },
    { "": "v" },
    { __proto__x: "v" },
    { _lead: "v" },
    { [`d${"x".repeat(32)}`]: "v" },
    { team: "" },
    { team: "x".repeat(129) },
    { team: "line\nbreak" },
    { team: "é" },
    { team: "\u0000" },
  ];

  it(`a budget's scope takes at most ${MAX_DIMENSIONS} dimensions, each checked like a call's`, async () => {
    const make = (dimensions: unknown) =>
      a.api("/budgets", {
        method: "POST",
        json: { name: "d", scope: { dimensions }, window: "daily", limit_usd: "1" },
      });
    expect((await make(dims(MAX_DIMENSIONS))).status).toBe(201);
    const over = await make(dims(MAX_DIMENSIONS + 1));
    expect(over.status).toBe(400);
    expect((await errorOf(over))?.field).toBe("scope.dimensions");
    for (const bad of BAD_DIMENSIONS) expect((await make(bad)).status).toBe(400);
    const proto = await a.api("/budgets", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"name":"d","scope":{"dimensions":{"__proto__":"v"}},"window":"daily","limit_usd":"1"}',
    });
    expect(proto.status).toBe(400);
  });

  it("an update (PUT) is bounded alike", async () => {
    const created = await a.api("/budgets", {
      method: "POST",
      json: { name: "u", scope: { dimensions: dims(1) }, window: "daily", limit_usd: "1" },
    });
    const { id } = (await created.json()) as { id: string };
    const res = await a.api(`/budgets/${id}`, {
      method: "PUT",
      json: { name: "u", scope: { dimensions: dims(MAX_DIMENSIONS + 1) }, window: "daily", limit_usd: "1" },
    });
    expect(res.status).toBe(400);
  });

  it(`a policy requires at most ${MAX_DIMENSIONS} dimension names, each a dimension name`, async () => {
    const make = (required_dimensions: unknown) =>
      a.api("/policies", { method: "POST", json: { name: "p", required_dimensions } });
    expect((await make(Object.keys(dims(MAX_DIMENSIONS)))).status).toBe(201);
    expect((await make(Object.keys(dims(MAX_DIMENSIONS + 1)))).status).toBe(400);
    for (const name of ["Bad Name", "", "_x", "x".repeat(33), "é"]) expect((await make([name])).status).toBe(400);
  });

  it("a rate limit takes no dimensions", async () => {
    const res = await a.api("/rate-limits", {
      method: "POST",
      json: { name: "r", requests_per_minute: 10, dimensions: dims(1) },
    });
    expect(res.status).toBe(400);
  });

  it(`a key binds at most ${MAX_DIMENSIONS} dimensions, each checked like a call's`, async () => {
    const make = (dimensions: unknown) => a.api("/keys", { method: "POST", json: { name: "k", dimensions } });
    expect((await make(dims(MAX_DIMENSIONS))).status).toBe(201);
    expect((await make(dims(MAX_DIMENSIONS + 1))).status).toBe(400);
    for (const bad of BAD_DIMENSIONS) expect((await make(bad)).status).toBe(400);
    const proto = await a.api("/keys", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"name":"k","dimensions":{"__proto__":"v"}}',
    });
    expect(proto.status).toBe(400);
  });

  it("the dashboard's key form refuses a dimension name it could otherwise drop", async () => {
    const org = await newOrg("KeyDims");
    await org.owner.b.get("/keys");
    const res = await org.owner.b.post("/keys", { name: "proto", dimensions: "team=a, __proto__=v" });
    expect(res.html).not.toMatch(/olk_[a-z2-7]{12}_[a-z2-7]{12}_[a-z2-7]{32}/);
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ?")
      .bind(org.tenantId)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });

  it("the dashboard's budget form is bounded by the same schema", async () => {
    const org = await newOrg("Dims");
    await org.owner.b.get("/budgets");
    const text = (n: number) =>
      Object.entries(dims(n))
        .map(([k, v]) => `${k}=${v}`)
        .join(", ");
    const fields = { name: "Dims", limit_usd: "10", window: "monthly", mode: "block", thresholds: "50" };
    const over = await org.owner.b.post("/budgets", { ...fields, dimensions: text(MAX_DIMENSIONS + 1) });
    expect(over.status).toBe(400);
    // a name the form's parser could drop silently would widen the budget to every call
    for (const dimensions of ["__proto__=v", "constructor=v, __proto__=w", "Bad Name=v"]) {
      expect((await org.owner.b.post("/budgets", { ...fields, dimensions })).status).toBe(400);
    }
    const ok = await org.owner.b.post("/budgets", { ...fields, dimensions: text(MAX_DIMENSIONS) });
    expect(ok.status).toBe(303);
  });
});

describe("unmatched /api/v1/* and /internal/v1/* paths", () => {
  const PATHS = [
    "/api/v1/nope",
    "/api/v1/chat/completions",
    "/api/v1/v1/chat/completions",
    "/api/v1/keys/abcdefghijkl",
    "/api/v1/keys/..%2F..%2Fx",
    "/api/v1/keys%2Fx",
    "/api/v1/providers/openai/extra",
    "/api/v1/budgets/abcdefghijkl/x",
    "/api/v1",
    "/api/v1/",
  ];
  const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

  /** What is wrong with an answer that should be the management API's own error
   * `{ error: { code, message } }` (not a provider's shape), or null. */
  async function apiErrorProblem(res: Response, status: number, code: string): Promise<string | null> {
    if (res.status !== status) return `status ${res.status}`;
    if (!(res.headers.get("content-type") ?? "").includes("application/json")) return "not JSON";
    const text = await res.text();
    if (text === "") return null; // HEAD
    const body = JSON.parse(text) as { error?: Record<string, unknown> };
    const keys = Object.keys(body.error ?? {})
      .sort()
      .join(",");
    if (Object.keys(body).join(",") !== "error" || keys !== "code,message") return `shape ${text.slice(0, 120)}`;
    return body.error?.code === code ? null : `code ${String(body.error?.code)}`;
  }

  async function sweep(
    paths: string[],
    headers: Record<string, string>,
    status: number,
    code: string,
  ): Promise<string[]> {
    const wrong: string[] = [];
    for (const path of paths) {
      for (const method of METHODS) {
        const problem = await apiErrorProblem(await worker(path, { method, headers }), status, code);
        if (problem) wrong.push(`${method} ${path}: ${problem}`);
      }
    }
    return wrong;
  }

  it("answer 401 without a valid token, for every method (as a known path would)", async () => {
    expect(await sweep(PATHS, {}, 401, "invalid_api_key")).toEqual([]);
    expect(await sweep(PATHS, { authorization: "Bearer ola_nope" }, 401, "invalid_api_key")).toEqual([]);
  });

  it("answer the API's 404 unknown_route with an admin token, for every method", async () => {
    expect(await sweep(PATHS, { authorization: `Bearer ${a.adminToken}` }, 404, "unknown_route")).toEqual([]);
  });

  it("/internal/v1: 401 without the operator token, 404 unknown_route with it", async () => {
    const paths = ["/internal/v1/nope", "/internal/v1/tenants", "/internal/v1/chat/completions", "/internal/v1"];
    expect(await sweep(paths, {}, 401, "invalid_api_key")).toEqual([]);
    const operator = { authorization: `Bearer ${env.OPERATOR_TOKEN}` };
    expect(await sweep(paths, operator, 404, "unknown_route")).toEqual([]);
  });
});

describe("ids in paths are checked before any lookup", () => {
  const IDS = [
    "..%2F..%2Fx",
    "%2e%2e%2Fx",
    "..%5C..%5Cx",
    "%5C",
    "%252F",
    "abcdefghijk%2F",
    "ABCDEFGHIJKL",
    "abcdefghijkl%00",
  ];

  it("keys: rotate and revoke answer 404 not_found", async () => {
    const wrong: string[] = [];
    for (const id of IDS) {
      for (const verb of ["revoke", "rotate"]) {
        const res = await a.api(`/keys/${id}/${verb}`, { method: "POST", json: { grace_seconds: 0 } });
        if (res.status !== 404) wrong.push(`${verb} ${id}: ${res.status}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("budgets, policies and rate limits: GET, PUT and DELETE answer 404", async () => {
    const wrong: string[] = [];
    for (const kind of ["budgets", "policies", "rate-limits"]) {
      for (const id of IDS) {
        for (const method of ["GET", "PUT", "DELETE"]) {
          const res = await a.api(`/${kind}/${id}`, { method, json: method === "PUT" ? {} : undefined });
          if (res.status !== 404) wrong.push(`${method} ${kind}/${id}: ${res.status}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe("another tenant's admin token", () => {
  it("can neither read nor change this tenant's providers, price overrides, rules or keys", async () => {
    const t = await newTenant({ providers: false });
    const put = await t.api("/providers/my-llm", {
      method: "PUT",
      json: { api_key: "sk-test-0000000000000000", base_url: "https://llm.acme.dev/v1" },
    });
    expect(put.status).toBe(200);
    expect(
      (await t.api("/prices/overrides", { method: "PUT", json: { provider: "my-llm", ...OVERRIDE } })).status,
    ).toBe(200);
    const budget = await t.api("/budgets", {
      method: "POST",
      json: { name: "x", scope: { provider: "my-llm", dimensions: { team: "a" } }, window: "daily", limit_usd: "1" },
    });
    const { id: budgetId } = (await budget.json()) as { id: string };

    expect((await b.api("/providers/my-llm")).status).toBe(404);
    expect((await b.api("/providers/my-llm", { method: "DELETE" })).status).toBe(404);
    expect(JSON.stringify(await (await b.api("/providers")).json())).not.toContain("my-llm");
    expect(JSON.stringify(await (await b.api("/prices/overrides")).json())).not.toContain("my-llm");
    expect((await b.api("/prices/overrides?provider=my-llm&model=m-1", { method: "DELETE" })).status).toBe(404);
    for (const method of ["GET", "DELETE"]) expect((await b.api(`/budgets/${budgetId}`, { method })).status).toBe(404);
    const changed = await b.api(`/budgets/${budgetId}`, {
      method: "PUT",
      json: { name: "y", window: "daily", limit_usd: "2" },
    });
    expect(changed.status).toBe(404);
    expect((await b.api(`/keys/${t.keyId}/revoke`, { method: "POST" })).status).toBe(404);

    expect((await t.api("/providers/my-llm")).status).toBe(200);
    expect(await ledgerFor(env, t.tenantId).listPriceOverrides()).toHaveLength(1);
    const mine = (await (await t.api(`/budgets/${budgetId}`)).json()) as { name: string };
    expect(mine.name).toBe("x");
  });
});
