// Outlay stores metadata only. Unique markers go through every gateway route (prompts, system
// prompts, tool arguments and results, a stored provider credential, a pass-through provider key,
// bad requests, cut streams); then every place Outlay keeps anything is searched for them and for
// the full proxy key and admin token — and, for the account pages, passwords, session tokens,
// TOTP seeds and codes, recovery codes, invitation and reset links, admin tokens made on the
// dashboard and an SSO client secret: every D1 table, every TenantLedger's storage (where the
// credential may exist only as ciphertext), every R2 object, every queue message, and the console.
import Anthropic from "@anthropic-ai/sdk";
import { GoogleGenAI } from "@google/genai";
import { listDurableObjectIds, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from "vitest";
import { dataKeyring, keyHash, open } from "../../shared/crypto.ts";
import { Secret } from "otpauth";
import { totpAt } from "../../workers/auth/totp.ts";
import { Browser } from "../auth/browser.ts";
import { eventsOf, newTenant, waitForEvent, waitForEventCount, worker, workerFetch, type Tenant } from "../helpers.ts";
import focusSample from "../../../shared/external-data/focus-sample-data/focus_sample.csv?raw";
import { CUR2_ROWS, toCsv } from "../fixtures/cloud/cur2.ts";
import { freshPrefix, gzip as gzipText, put } from "../cloud/aws/support.ts";
import { importFinished } from "../cloud/support.ts";
import { BUCKET } from "../stand-ins/aws/fixtures.ts";
import { GATEWAY, recordingFetch, requestIdOf, spyOnUsageQueue, type QueueSpy, type Recorder } from "./support.ts";

const RUN = crypto.randomUUID().replaceAll("-", "");
const marker = (label: string) => `MARKER-${label}-${RUN}`;

const M = {
  chatSystem: marker("chat-system"),
  chatPrompt: marker("chat-prompt"),
  chatToolArgs: marker("chat-tool-args"),
  chatToolResult: marker("chat-tool-result"),
  chatStream: marker("chat-stream"),
  responsesInstructions: marker("responses-instructions"),
  responsesInput: marker("responses-input"),
  responsesToolArgs: marker("responses-tool-args"),
  responsesStream: marker("responses-stream"),
  embeddingInput: marker("embedding-input"),
  passthroughPrompt: marker("passthrough-prompt"),
  customProviderPrompt: marker("custom-provider-prompt"),
  anthropicSystem: marker("anthropic-system"),
  anthropicPrompt: marker("anthropic-prompt"),
  anthropicToolInput: marker("anthropic-tool-input"),
  anthropicToolResult: marker("anthropic-tool-result"),
  anthropicStream: marker("anthropic-stream"),
  anthropicUpstream400: marker("anthropic-upstream-400"),
  anthropicCutJson: marker("anthropic-cut-json"),
  geminiSystem: marker("gemini-system"),
  geminiPrompt: marker("gemini-prompt"),
  geminiFunctionArgs: marker("gemini-function-args"),
  geminiFunctionResult: marker("gemini-function-result"),
  geminiStream: marker("gemini-stream"),
  geminiQueryKey: marker("gemini-query-key"),
  badRequestMissingModel: marker("bad-request-missing-model"),
  badRequestMalformed: marker("bad-request-malformed"),
  rateLimited: marker("rate-limited"),
  cutStream: marker("cut-stream"),
  policyRefused: marker("policy-refused"),
  budgetRefused: marker("budget-refused"),
  budgetCut: marker("budget-cut"),
  leased: marker("leased"),
  storedCredential: marker("stored-credential"),
  customCredential: marker("custom-credential"),
  passthroughKey: marker("passthrough-key"),
  password: marker("password"),
  wrongPassword: marker("wrong-password"),
  ssoSecret: marker("sso-secret"),
  dashboardCredential: marker("dashboard-credential"),
  billTag: marker("bill-tag"),
  billResource: marker("bill-resource"),
  billDescription: marker("bill-description"),
  billAccountName: marker("bill-account-name"),
};

/** Provider credentials as sent; each has a marker in the middle (the stored hint shows only the ends). */
const STORED_CREDENTIAL = `sk-live-${M.storedCredential}-tail`;
const CUSTOM_CREDENTIAL = `sk-acme-${M.customCredential}-tail`;
const PASSTHROUGH_KEY = `sk-pass-${M.passthroughKey}-tail`;

/** The FOCUS 1.0 sample's header line (../shared/external-data/README.md). */
const focusHeader = focusSample.slice(0, focusSample.indexOf("\n")).trim();

const CONSOLE_METHODS = ["log", "info", "warn", "error", "debug"] as const;

let tenant: Tenant;
let needles: { name: string; value: string }[];
let consoleSpies: MockInstance[] = [];
/** Console calls as made (vitest clears a spy's own call history before each test). */
const consoleLog: { method: string; args: unknown[] }[] = [];
let queue: QueueSpy;
const requestIds: string[] = [];

function findLeaks(where: string, haystack: string): string[] {
  return needles.filter((n) => haystack.includes(n.value)).map((n) => `${n.name} found in ${where}`);
}

function stringify(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}\n${value.stack ?? ""}`;
  if (typeof value === "string") return value;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

async function settle<T>(work: Promise<T>): Promise<void> {
  await work.then(
    () => undefined,
    () => undefined,
  );
}

/** Every call goes through one recorder; each response's x-outlay-request-id is collected. */
function noteRequestIds(recorder: Recorder): void {
  for (const exchange of recorder.exchanges) requestIds.push(requestIdOf(exchange.headers));
}

/** A D1 value as text to search: a BLOB (D1 returns an array of bytes) as what it holds, gunzipped
 * when it is gzip (usage_packs' bodies), else its bytes as Latin-1. */
async function readable(value: unknown): Promise<unknown> {
  if (!Array.isArray(value)) return value;
  const bytes = Uint8Array.from(value as number[]);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
  }
  return String.fromCharCode(...bytes);
}

async function scanD1(): Promise<{ leaks: string[]; tables: string[]; ourRows: number }> {
  const listed = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all<{
    name: string;
  }>();
  // D1's own bookkeeping tables (_cf_*) cannot be read through the binding; everything else is.
  const tables = listed.results.map((t) => t.name).filter((name) => !name.startsWith("_cf_"));
  const leaks: string[] = [];
  let ourRows = 0;
  for (const name of tables) {
    const rows = await env.DB.prepare(`SELECT * FROM "${name.replaceAll('"', '""')}"`).all();
    for (const row of rows.results) {
      const text = JSON.stringify(await Promise.all(Object.values(row).map(readable)));
      if (text.includes(tenant.tenantId)) ourRows += 1;
      leaks.push(...findLeaks(`D1 table ${name}`, text));
    }
  }
  return { leaks, tables, ourRows };
}

/** Every object of both buckets: the audit archive, and cloud bills waiting for their import. */
async function scanR2(): Promise<{ leaks: string[]; keys: string[] }> {
  const leaks: string[] = [];
  const keys: string[] = [];
  for (const bucket of [env.AUDIT_ARCHIVE, env.CLOUD_BILLS]) await scanBucket(bucket, leaks, keys);
  return { leaks, keys };
}

async function scanBucket(bucket: R2Bucket, leaks: string[], keys: string[]): Promise<void> {
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ cursor, include: ["httpMetadata", "customMetadata"] });
    for (const listed of page.objects) {
      const object = await bucket.get(listed.key);
      // Segments are gzip: searched as the NDJSON they hold.
      const gzip = listed.key.endsWith(".gz") && object;
      const body = gzip
        ? await new Response(object.body.pipeThrough(new DecompressionStream("gzip"))).text()
        : object
          ? await object.text()
          : "";
      const meta = JSON.stringify({ key: listed.key, http: listed.httpMetadata, custom: listed.customMetadata });
      leaks.push(...findLeaks(`R2 object ${listed.key}`, `${meta}\n${body}`));
      keys.push(listed.key);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
}

function consoleCalls(): { method: string; text: string }[] {
  return consoleLog.map(({ method, args }) => ({ method, text: args.map(stringify).join(" ") }));
}

beforeAll(async () => {
  for (const method of CONSOLE_METHODS) {
    const original = console[method].bind(console);
    const spy = vi.spyOn(console, method).mockImplementation((...args: unknown[]) => {
      consoleLog.push({ method, args });
      original(...args);
    });
    consoleSpies.push(spy);
  }
  queue = spyOnUsageQueue();

  tenant = await newTenant();
  needles = [
    ...Object.entries(M).map(([name, value]) => ({ name: `marker ${name}`, value })),
    { name: "proxy key", value: tenant.proxyKey },
    { name: "proxy key secret", value: tenant.proxyKey.slice(-32) },
    { name: "admin token", value: tenant.adminToken },
    { name: "admin token secret", value: tenant.adminToken.slice(-32) },
    { name: "stored provider credential", value: STORED_CREDENTIAL },
    { name: "custom provider credential", value: CUSTOM_CREDENTIAL },
    { name: "pass-through provider key", value: PASSTHROUGH_KEY },
  ];
});

afterAll(() => {
  for (const spy of consoleSpies) spy.mockRestore();
  consoleSpies = [];
  queue.restore();
});

describe("no prompt, key or credential is stored or logged", () => {
  it("every gateway route answers, and each call leaves exactly one event", async () => {
    const stored = await tenant.api("/providers/openai", {
      method: "PUT",
      json: { api_key: STORED_CREDENTIAL, base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    expect(stored.status).toBe(200);
    expect(findLeaks("PUT /providers/openai response", await stored.text())).toEqual([]);
    const custom = await tenant.api("/providers/acme", {
      method: "PUT",
      json: { api_key: CUSTOM_CREDENTIAL, base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    expect(custom.status).toBe(200);
    expect(findLeaks("PUT /providers/acme response", await custom.text())).toEqual([]);
    const settings = await tenant.api("/settings", { method: "PATCH", json: { allow_passthrough_keys: true } });
    expect(settings.status).toBe(200);
    expect(await settings.json()).toEqual({
      allow_passthrough_keys: true,
      time_zone: "UTC",
      locale: "en-US",
      admission_mode: "strict",
    });

    const recorder = recordingFetch();
    const openai = new OpenAI({
      apiKey: tenant.proxyKey,
      baseURL: `${GATEWAY}/openai/v1`,
      fetch: recorder.fetch,
      maxRetries: 0,
    });

    // OpenAI chat JSON: system prompt, user prompt, an earlier tool call's arguments and its result.
    await openai.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [
        { role: "system", content: M.chatSystem },
        { role: "user", content: M.chatPrompt },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_1",
              type: "function",
              function: { name: "lookup", arguments: JSON.stringify({ query: M.chatToolArgs }) },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_1", content: M.chatToolResult },
      ],
    });
    // OpenAI chat SSE on the short /v1 route (Outlay adds include_usage and strips the chunk).
    const short = new OpenAI({
      apiKey: tenant.proxyKey,
      baseURL: `${GATEWAY}/v1`,
      fetch: recorder.fetch,
      maxRetries: 0,
    });
    for await (const chunk of await short.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: M.chatStream }],
      stream: true,
    })) {
      expect(chunk.object).toBe("chat.completion.chunk");
    }
    // Responses JSON with an earlier function call, then a Responses stream.
    await openai.responses.create({
      model: "gpt-5-mini",
      instructions: M.responsesInstructions,
      input: [
        { role: "user", content: M.responsesInput },
        {
          type: "function_call",
          call_id: "call_2",
          name: "lookup",
          arguments: JSON.stringify({ q: M.responsesToolArgs }),
        },
        { type: "function_call_output", call_id: "call_2", output: M.responsesToolArgs },
      ],
    });
    for await (const event of await openai.responses.create({
      model: "gpt-5-mini",
      input: M.responsesStream,
      stream: true,
    })) {
      expect(event.type.startsWith("response.")).toBe(true);
    }
    // Embeddings.
    await openai.embeddings.create({ model: "text-embedding-3-small", input: [M.embeddingInput] });
    // A pass-through provider key instead of the stored credential.
    const passthrough = new OpenAI({
      apiKey: tenant.proxyKey,
      baseURL: `${GATEWAY}/openai/v1`,
      fetch: recorder.fetch,
      maxRetries: 0,
      defaultHeaders: { "x-outlay-provider-key": PASSTHROUGH_KEY },
    });
    await passthrough.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: M.passthroughPrompt }],
    });
    // An OpenAI-compatible provider by name (/acme/v1) with its own stored credential.
    const acme = new OpenAI({
      apiKey: tenant.proxyKey,
      baseURL: `${GATEWAY}/acme/v1`,
      fetch: recorder.fetch,
      maxRetries: 0,
    });
    await acme.chat.completions.create({
      model: "acme-large",
      messages: [{ role: "user", content: M.customProviderPrompt }],
    });
    // An upstream 429 and an upstream-cut stream.
    await settle(
      openai.chat.completions.create({
        model: "gpt-4o-mini@rate_limit",
        messages: [{ role: "user", content: M.rateLimited }],
      }),
    );
    await settle(
      (async () => {
        const cut = await openai.chat.completions.create(
          { model: "gpt-4o-mini", messages: [{ role: "user", content: M.cutStream }], stream: true },
          { headers: { "x-demo-scenario": "cut" } },
        );
        for await (const chunk of cut) expect(chunk.object).toBe("chat.completion.chunk");
      })(),
    );

    // Anthropic JSON with system prompt, tool_use input and tool_result; a stream; an upstream 400
    // (no max_tokens); a JSON body cut in half.
    const anthropic = new Anthropic({
      apiKey: tenant.proxyKey,
      baseURL: `${GATEWAY}/anthropic`,
      fetch: recorder.fetch,
      maxRetries: 0,
    });
    await anthropic.messages.create({
      model: "claude-haiku-4-5",
      max_tokens: 128,
      system: M.anthropicSystem,
      messages: [
        { role: "user", content: M.anthropicPrompt },
        {
          role: "assistant",
          content: [{ type: "tool_use", id: "toolu_1", name: "lookup", input: { q: M.anthropicToolInput } }],
        },
        { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: M.anthropicToolResult }] },
      ],
    });
    await anthropic.messages
      .stream({ model: "claude-haiku-4-5", max_tokens: 128, messages: [{ role: "user", content: M.anthropicStream }] })
      .finalMessage();
    const upstream400 = await recorder.fetch(`${GATEWAY}/anthropic/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": tenant.proxyKey, "anthropic-version": "2023-06-01", "content-type": "application/json" },
      body: JSON.stringify({
        model: "claude-haiku-4-5",
        messages: [{ role: "user", content: M.anthropicUpstream400 }],
      }),
    });
    expect(upstream400.status).toBe(400);
    await upstream400.text();
    await settle(
      anthropic.messages.create(
        { model: "claude-haiku-4-5", max_tokens: 128, messages: [{ role: "user", content: M.anthropicCutJson }] },
        { headers: { "x-demo-scenario": "cut" } },
      ),
    );

    // Gemini JSON with systemInstruction, a function call's args and its response; a stream; the
    // key in the query string, as some clients send it.
    const ai = new GoogleGenAI({
      apiKey: tenant.proxyKey,
      httpOptions: { baseUrl: `${GATEWAY}/google`, fetch: recorder.fetch },
    });
    await ai.models.generateContent({
      model: "gemini-2.5-flash",
      contents: [
        { role: "user", parts: [{ text: M.geminiPrompt }] },
        { role: "model", parts: [{ functionCall: { name: "lookup", args: { q: M.geminiFunctionArgs } } }] },
        {
          role: "user",
          parts: [{ functionResponse: { name: "lookup", response: { result: M.geminiFunctionResult } } }],
        },
      ],
      config: { systemInstruction: M.geminiSystem },
    });
    for await (const chunk of await ai.models.generateContentStream({
      model: "gemini-2.0-flash",
      contents: M.geminiStream,
    })) {
      expect(chunk.candidates?.length).toBe(1);
    }
    // A key in the URL is refused before anything is read (URLs reach request logs); it leaves
    // no event, so it is sent outside the recorder whose request ids are counted below.
    const queryKey = await workerFetch(
      `${GATEWAY}/google/v1beta/models/gemini-2.0-flash:generateContent?key=${tenant.proxyKey}`,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ contents: [{ role: "user", parts: [{ text: M.geminiQueryKey }] }] }),
      },
    );
    expect(queryKey.status).toBe(401);
    expect(findLeaks("the 401 response", await queryKey.text())).toEqual([]);

    // Requests Outlay refuses after authentication: no model, and malformed JSON.
    const missingModel = await recorder.fetch(`${GATEWAY}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.proxyKey}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: M.badRequestMissingModel }] }),
    });
    expect(missingModel.status).toBe(400);
    expect(findLeaks("the 400 response", await missingModel.text())).toEqual([]);
    const malformed = await recorder.fetch(`${GATEWAY}/openai/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.proxyKey}`, "content-type": "application/json" },
      body: `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"${M.badRequestMalformed}"`,
    });
    expect(malformed.status).toBe(400);
    expect(findLeaks("the 400 response", await malformed.text())).toEqual([]);

    noteRequestIds(recorder);
    expect(requestIds).toHaveLength(17);
    expect(new Set(requestIds).size).toBe(requestIds.length);
    await waitForEventCount(tenant.tenantId, requestIds.length, 15_000);
    for (const id of requestIds) await waitForEvent(tenant.tenantId, id);

    const rows = await eventsOf(tenant.tenantId);
    expect(rows.map((r) => r.request_id).sort()).toEqual([...requestIds].sort());
    expect(new Set(rows.map((r) => r.outcome))).toEqual(
      new Set(["ok", "upstream_error", "upstream_cut", "bad_request"]),
    );
    expect(new Set(rows.map((r) => r.provider))).toEqual(new Set(["openai", "acme", "anthropic", "google"]));
  }, 60_000);

  it("the ledger's paths: policy and budget refusals, a stream cut by its budget, lease mode", async () => {
    const before = requestIds.length;
    const recorder = recordingFetch();
    const chatCall = (content: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
      recorder.fetch(`${GATEWAY}/openai/v1/chat/completions`, {
        method: "POST",
        headers: { authorization: `Bearer ${tenant.proxyKey}`, "content-type": "application/json", ...headers },
        body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }], ...extra }),
      });
    const policy = await tenant.api("/policies", {
      method: "POST",
      json: { name: "No big models", deny_models: ["gpt-4o"] },
    });
    expect(policy.status).toBe(201);
    const budget = await tenant.api("/budgets", {
      method: "POST",
      json: { name: "Small", window: "daily", limit_usd: "0.0005", thresholds: [1, 100] },
    });
    expect(budget.status).toBe(201);

    const denied = await chatCall(M.policyRefused, { model: "gpt-4o" });
    expect(denied.status).toBe(403);
    expect(findLeaks("the 403 response", await denied.text())).toEqual([]);
    const tooBig = await chatCall(M.budgetRefused, { max_tokens: 100_000 });
    expect(tooBig.status).toBe(402);
    expect(findLeaks("the 402 response", await tooBig.text())).toEqual([]);
    const cut = await chatCall(M.budgetCut, { stream: true }, { "x-demo-output-tokens": "3000" });
    expect(cut.status).toBe(200);
    expect(await cut.text()).toContain('"finish_reason":"length"');

    expect(
      (await tenant.api(`/budgets/${((await budget.json()) as { id: string }).id}`, { method: "DELETE" })).status,
    ).toBe(204);
    expect((await tenant.api("/settings", { method: "PATCH", json: { admission_mode: "lease" } })).status).toBe(200);
    let leased = 0;
    for (let i = 0; i < 30 && leased < 3; i++) {
      const res = await chatCall(`${M.leased} ${i}`, { max_tokens: 20 });
      expect(res.status).toBe(200);
      await res.text();
      if (res.headers.get("x-outlay-admission") === "lease") leased += 1;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(leased).toBe(3);
    expect((await tenant.api("/settings", { method: "PATCH", json: { admission_mode: "strict" } })).status).toBe(200);

    noteRequestIds(recorder);
    await waitForEventCount(tenant.tenantId, requestIds.length, 15_000);
    for (const id of requestIds.slice(before)) await waitForEvent(tenant.tenantId, id);
    // Audit events reach D1 through the audit queue: wait for the lease's.
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const found = await env.DB.prepare(
        "SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = ? AND type = 'lease.granted'",
      )
        .bind(tenant.tenantId)
        .first<{ n: number }>();
      if ((found?.n ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);

  it("the dashboard's paths: sign-up, sign-in, TOTP, recovery codes, links, admin tokens, proxy keys (made and rotated), provider credentials (saved and tested), SSO settings", async () => {
    const secret = (label: string, value: string) => {
      expect({ label, found: value !== "missing" }).toEqual({ label, found: true });
      needles.push({ name: label, value });
      return value;
    };
    const b = new Browser();
    const password = secret("password", `pw ${M.password} long enough`);
    const address = `owner-${RUN}@example.test`;
    const signedUp = await b.post("/signup", { name: "Owner", email: address, organisation: "Secrets Org", password });
    expect(signedUp.status).toBe(303);
    secret("session token", b.sessionCookie() ?? "missing");
    await b.post("/logout");
    await b.get("/login");
    expect((await b.post("/login", { email: address, password: `wrong ${M.wrongPassword} guess` })).status).toBe(401);
    expect((await b.post("/login", { email: address, password })).status).toBe(303);
    secret("second session token", b.sessionCookie() ?? "missing");
    await b.get("/account");

    await b.post("/account/mfa/start");
    const setup = await b.get("/account/mfa");
    const totpSecret = secret("TOTP seed", /class="secret">([A-Z2-7]+)</.exec(setup.html)?.[1] ?? "missing");
    const code = secret(
      "TOTP code",
      totpAt(Secret.fromBase32(totpSecret).bytes, Date.now(), { algorithm: "SHA1", digits: 6 }),
    );
    const enrolled = await b.post("/account/mfa/confirm", { code });
    const codes = [...enrolled.html.matchAll(/<li>([0-9a-z]{5}-[0-9a-z]{5})<\/li>/g)].map((m) => m[1] ?? "");
    expect(codes).toHaveLength(10);
    codes.forEach((c, i) => secret(`recovery code ${i}`, c));

    const invited = await b.post("/org/invitations", { role: "member", email: "" });
    secret("invitation link", /\/invite\/([a-z2-7.]+)/.exec(invited.html)?.[1] ?? "missing");
    const token = await b.post("/org/settings/tokens", { name: "ci", role: "viewer" });
    secret("UI admin token", /(ola_[a-z2-7_]+)/.exec(token.html)?.[1] ?? "missing");
    await b.get("/keys");
    const made = await b.post("/keys", { name: "from the dashboard", dimensions: "team=web" });
    const dashboardKey = secret("dashboard proxy key", /(olk_[a-z2-7_]+)/.exec(made.html)?.[1] ?? "missing");
    const keyId = dashboardKey.split("_")[2] ?? "missing";
    await b.get(`/keys/${keyId}/rotate`);
    const rotateForm = await b.get(`/keys/${keyId}/rotate`);
    const rotationId = /name="rotation_id" value="([^"]+)"/.exec(rotateForm.html)?.[1] ?? "missing";
    const rotated = await b.post(`/keys/${keyId}/rotate`, { grace: "3600", rotation_id: rotationId });
    secret("rotated proxy key", /(olk_[a-z2-7_]+)/.exec(rotated.html)?.[1] ?? "missing");
    await b.get("/providers");
    const provider = await b.post("/providers", {
      provider: "openai",
      api_key: secret("dashboard provider credential", `sk-dash-${M.dashboardCredential}-0000`),
      base_url: `${env.UPSTREAM_URL}/openai/v1`,
    });
    expect(provider.status).toBe(303);
    await b.get("/providers");
    expect((await b.post("/providers/openai/test")).status).toBe(200);
    const sso = await b.post("/org/settings/sso", {
      issuer: env.OIDC_TEST_ISSUER,
      client_id: env.OIDC_TEST_CLIENT_ID,
      client_secret: secret("SSO client secret", `sso-${M.ssoSecret}`),
      default_role: "member",
    });
    expect(sso.status).toBe(200);

    // The friend joins as someone new, so they belong to this organisation only (reset links are
    // made only for such people), through the token-free /invite the link redirects to.
    const friend = new Browser();
    const friendAddress = `friend-${RUN}@example.test`;
    const inviteFriend = await b.post("/org/invitations", { role: "viewer", email: friendAddress });
    const link = /\/invite\/([a-z2-7.]+)/.exec(inviteFriend.html)?.[1] ?? "missing";
    await friend.get(`/invite/${link}`);
    expect((await friend.post("/invite", { name: "Friend", email: friendAddress, password })).status).toBe(303);
    const members = await b.get("/org/members");
    const friendId = /\/org\/members\/([a-z2-7]{12})\/reset-link/.exec(members.html)?.[1] ?? "missing";
    const reset = await b.post(`/org/members/${friendId}/reset-link`);
    secret("reset link", /\/reset\/([a-z2-7.]+)/.exec(reset.html)?.[1] ?? "missing");
    // Account audit events reach D1 through the queue: wait for the last one.
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const found = await env.DB.prepare(
        "SELECT COUNT(*) AS n FROM audit_events WHERE type = 'auth.password_reset_issued' AND subject = ?",
      )
        .bind(friendId)
        .first<{ n: number }>();
      if ((found?.n ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 60_000);

  it("the webhook paths: an endpoint made and its secret rotated, verified deliveries, and the archive's signing keys", async () => {
    for (const entry of env.AUDIT_SIGNING_KEYS.split(",")) {
      needles.push({ name: `audit signing seed ${entry.slice(0, 2)}`, value: entry.slice(3) });
    }
    const hook = `${env.WEBHOOK_RECEIVER_URL}/hooks/nosecrets${tenant.tenantId}`;
    const created = await tenant.api("/webhooks", {
      method: "POST",
      json: { url: hook, event_types: ["rule.created"] },
    });
    expect(created.status).toBe(201);
    const { id, secret } = (await created.json()) as { id: string; secret: string };
    const rotated = await tenant.api(`/webhooks/${id}/rotate-secret`, { method: "POST" });
    const { secret: next } = (await rotated.json()) as { secret: string };
    needles.push(
      { name: "webhook secret", value: secret },
      { name: "webhook secret key", value: secret.slice(6) },
      { name: "rotated webhook secret", value: next },
      { name: "rotated webhook secret key", value: next.slice(6) },
    );
    const control = `${env.WEBHOOK_RECEIVER_URL}/_control/nosecrets${tenant.tenantId}`;
    await fetch(control, { method: "PUT", body: JSON.stringify({ secrets: [secret, next] }) });
    expect((await tenant.api(`/webhooks/${id}/test`, { method: "POST" })).status).toBe(202);
    const until = Date.now() + 10_000;
    let deliveries: { verifiedWith: number | null }[] = [];
    while (deliveries.length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      deliveries = (await (await fetch(control)).json()) as typeof deliveries;
    }
    expect(deliveries.map((d) => d.verifiedWith)).toEqual([0]);
    for (const path of ["/webhooks", `/webhooks/${id}`, `/webhooks/${id}/deliveries`]) {
      expect(findLeaks(`GET ${path}`, await (await tenant.api(path)).text())).toEqual([]);
    }
    expect(
      findLeaks("GET /.well-known/outlay-audit-keys", await (await worker("/.well-known/outlay-audit-keys")).text()),
    ).toEqual([]);
  });

  it("the cloud-bill path: tags, resource ids, names and descriptions of an imported bill are not kept", async () => {
    const values: Record<string, string> = {
      BilledCost: "1.25",
      EffectiveCost: "1.25",
      ListCost: "1.25",
      ContractedCost: "1.25",
      BillingAccountId: "111122223333",
      BillingAccountName: M.billAccountName,
      BillingCurrency: "USD",
      BillingPeriodStart: "2026-11-01 00:00:00",
      BillingPeriodEnd: "2026-12-01 00:00:00",
      ChargePeriodStart: "2026-11-03 00:00:00",
      ChargePeriodEnd: "2026-11-03 01:00:00",
      ChargeCategory: "Usage",
      ChargeDescription: M.billDescription,
      ChargeFrequency: "Usage-Based",
      ConsumedQuantity: "1000",
      ConsumedUnit: "Tokens",
      ProviderName: "AWS",
      PublisherName: "AWS",
      InvoiceIssuerName: "AWS",
      RegionId: "us-east-1",
      ResourceId: `arn:aws:bedrock:us-east-1:111122223333:${M.billResource}`,
      ResourceName: M.billResource,
      ServiceCategory: "AI and Machine Learning",
      ServiceName: "Amazon Bedrock",
      SubAccountId: "111122223333",
      SubAccountName: M.billAccountName,
      Tags: JSON.stringify({ team: M.billTag }),
    };
    const header = focusHeader.split(",").map((h) => h.replaceAll('"', ""));
    const quote = (v: string) => `"${v.replaceAll('"', '""')}"`;
    const row = header.map((h) => (values[h] === undefined ? "NULL" : quote(values[h] ?? ""))).join(",");
    const bill = new TextEncoder().encode(`${header.join(",")}\n${row}\n`);
    const res = await tenant.api("/cloud/imports?file_name=nosecrets.csv", {
      method: "POST",
      headers: { "content-length": String(bill.byteLength) },
      body: bill,
    });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const view = await importFinished(tenant, id);
    expect({ status: view.status, rows: view.rows_read }).toEqual({ status: "done", rows: 1 });
    const spend = await tenant.api("/cloud/spend?from=2026-11-01&to=2026-11-30&group_by=category,account");
    const text = await spend.text();
    expect(text).toContain("bedrock");
    expect(findLeaks("GET /cloud/spend", text)).toEqual([]);
    expect(findLeaks(`GET /cloud/imports/${id}`, await (await tenant.api(`/cloud/imports/${id}`)).text())).toEqual([]);
  });

  it("the AWS connector path: Outlay's AWS key and every role session's keys are used, never kept", async () => {
    const connection = (await (await tenant.api("/cloud/connection")).json()) as { external_id: string };
    const arn = `arn:aws:iam::111122223333:role/NoSecrets-${tenant.tenantId}`;
    const role = { arn, externalId: connection.external_id, buckets: [BUCKET], sessionLifetimeMs: null };
    await fetch(`${env.AWS_STS_TEST_URL}/_control/roles`, { method: "PUT", body: JSON.stringify(role) });
    const prefix = freshPrefix("nosecrets");
    const dataKey = `${prefix}/exp/data/BILLING_PERIOD=2025-06/exp-00001.csv.gz`;
    await put(dataKey, await gzipText(toCsv(CUR2_ROWS)));
    const manifest = { executionId: "exec-1", dataFiles: [`s3://${BUCKET}/${dataKey}`] };
    await put(`${prefix}/exp/metadata/BILLING_PERIOD=2025-06/exp-Manifest.json`, JSON.stringify(manifest));
    const saved = await tenant.api("/cloud/connection", {
      method: "PUT",
      json: { role_arn: arn, bucket: BUCKET, prefix, region: "us-east-1" },
    });
    expect(saved.status).toBe(200);
    const tested = await tenant.api("/cloud/connection/test", { method: "POST" });
    expect(((await tested.json()) as { ok: boolean }).ok).toBe(true);
    const synced = (await (await tenant.api("/cloud/connection/sync", { method: "POST" })).json()) as {
      imports: string[];
    };
    expect(synced.imports).toHaveLength(1);
    expect((await importFinished(tenant, synced.imports[0] ?? "")).status).toBe("done");
    const sessions = (await (await fetch(`${env.AWS_STS_TEST_URL}/_control/sessions`)).json()) as {
      accessKeyId: string;
      secretAccessKey: string;
      sessionToken: string;
    }[];
    // Three sessions at least: the test, the run's check and discovery, the import's copy.
    expect(sessions.length).toBeGreaterThanOrEqual(3);
    needles.push({ name: "Outlay's AWS secret key", value: env.AWS_SECRET_ACCESS_KEY ?? "unset" });
    for (const [i, session] of sessions.entries()) {
      needles.push(
        { name: `role session ${i} secret key`, value: session.secretAccessKey },
        { name: `role session ${i} token`, value: session.sessionToken },
      );
    }
    for (const path of ["/cloud/connection", `/cloud/imports/${synced.imports[0]}`]) {
      expect(findLeaks(`GET ${path}`, await (await tenant.api(path)).text())).toEqual([]);
    }
  });

  it("D1: no table holds a marker, a key or a credential; keys appear only as HMAC hashes", async () => {
    const { leaks, tables, ourRows } = await scanD1();
    expect(tables).toEqual(
      expect.arrayContaining([
        "tenants",
        "admin_tokens",
        "api_keys",
        "provider_credentials",
        "usage_packs",
        "usage_rollups_hourly",
        "ledger_rules",
        "audit_events",
      ]),
    );
    expect(leaks).toEqual([]);
    expect(ourRows).toBeGreaterThan(requestIds.length);

    const adminHash = await keyHash(env.KEY_PEPPER, tenant.adminToken);
    const admin = await env.DB.prepare("SELECT token_hash FROM admin_tokens WHERE tenant_id = ?")
      .bind(tenant.tenantId)
      .all<{ token_hash: string }>();
    expect(admin.results.map((r) => r.token_hash)).toContain(adminHash);
    const credentials = await env.DB.prepare("SELECT provider, key_hint FROM provider_credentials WHERE tenant_id = ?")
      .bind(tenant.tenantId)
      .all<{ provider: string; key_hint: string }>();
    expect(credentials.results).toEqual(
      expect.arrayContaining([
        { provider: "openai", key_hint: "sk-…tail" },
        { provider: "acme", key_hint: "sk-…tail" },
      ]),
    );
  });

  it("every stored usage event is metadata only", async () => {
    const events = await eventsOf(tenant.tenantId);
    expect(events).toHaveLength(requestIds.length);
    const leaks = events.flatMap((row) => findLeaks("a usage event", JSON.stringify(row)));
    expect(leaks).toEqual([]);
  });

  it("queue messages (the usage events as sent) carry no marker, key or credential", () => {
    const messages = queue.messages;
    const ours = messages.filter(
      (m) => typeof m === "object" && m !== null && (m as { tenantId?: unknown }).tenantId === tenant.tenantId,
    );
    expect(ours).toHaveLength(requestIds.length);
    const leaks = messages.flatMap((m) => findLeaks("a queue message", JSON.stringify(m)));
    expect(leaks).toEqual([]);
  });

  it("TenantLedger storage: the credential only as ciphertext, the proxy key only as its hash", async () => {
    const ids = await listDurableObjectIds(env.TENANT_LEDGER);
    const ourId = env.TENANT_LEDGER.idFromName(tenant.tenantId);
    expect(ids.some((id) => id.equals(ourId))).toBe(true);
    const leaks: string[] = [];
    for (const id of ids) {
      const dump = await runInDurableObject(env.TENANT_LEDGER.get(id), async (_instance, state) => {
        const tables = state.storage.sql
          .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
          .toArray()
          .map((t) => t.name);
        const rows: Record<string, unknown[]> = {};
        for (const name of tables) {
          // _cf_* tables are the runtime's own (the KV API's storage, read below through list()).
          if (name.startsWith("_cf_")) continue;
          rows[name] = state.storage.sql.exec(`SELECT * FROM "${name.replaceAll('"', '""')}"`).toArray();
        }
        const kv = [...(await state.storage.list()).entries()];
        return { tables, rows, kv };
      });
      leaks.push(...findLeaks(`TenantLedger ${id.toString()}`, JSON.stringify(dump)));
      if (!id.equals(ourId)) continue;

      expect(dump.tables).toEqual(
        expect.arrayContaining([
          "meta",
          "keys",
          "providers",
          "price_overrides",
          "outbox",
          "rules",
          "holds",
          "audit_outbox",
        ]),
      );
      const keys = (dump.rows.keys ?? []) as { id: string; hash: string }[];
      expect(keys.find((k) => k.id === tenant.keyId)?.hash).toBe(await keyHash(env.KEY_PEPPER, tenant.proxyKey));
      const providers = (dump.rows.providers ?? []) as { name: string; credential: string }[];
      for (const [name, plaintext] of [
        ["openai", STORED_CREDENTIAL],
        ["acme", CUSTOM_CREDENTIAL],
      ] as const) {
        const sealed = providers.find((p) => p.name === name)?.credential ?? "";
        // Present, and the ciphertext of exactly this credential.
        expect(sealed.length).toBeGreaterThan(plaintext.length);
        expect(await open(dataKeyring(env.DATA_KEYS), sealed, `${tenant.tenantId}/${name}`)).toBe(plaintext);
      }
    }
    expect(leaks).toEqual([]);
  });

  it("R2 (audit archive, waiting cloud bills): no object or object metadata holds a marker, key or credential", async () => {
    // The archive of this run's tenant is sealed first, so the scan has its segments and
    // checkpoints to search (and the audit signing keys are among what it looks for).
    const until = Date.now() + 15_000;
    while ((await tenant.api("/audit/checkpoint")).status !== 200 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const { leaks, keys } = await scanR2();
    expect(leaks).toEqual([]);
    expect(keys.some((k) => k.startsWith(`audit/${tenant.tenantId}/segments/`))).toBe(true);
    expect(keys.some((k) => k.startsWith(`audit/${tenant.tenantId}/checkpoints/`))).toBe(true);
  });

  it("console output during all of it carries no marker, key or credential", () => {
    const leaks = consoleCalls().flatMap((call) => findLeaks(`console.${call.method}`, call.text));
    expect(leaks).toEqual([]);
  });
});

describe("the scan is not blind", () => {
  it("D1: a marker sent as a dimension (stored by design) is found", async () => {
    const probe = marker("dimension-probe");
    const res = await worker("/openai/v1/chat/completions", {
      method: "POST",
      headers: {
        authorization: `Bearer ${tenant.proxyKey}`,
        "content-type": "application/json",
        "x-outlay-dimension-probe": probe,
      },
      body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "probe" }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
    await waitForEvent(tenant.tenantId, requestIdOf(res.headers));
    needles.push({ name: "dimension probe", value: probe });
    try {
      expect((await scanD1()).leaks).toEqual(expect.arrayContaining(["dimension probe found in D1 table usage_packs"]));
    } finally {
      needles.pop();
    }
  });

  it("R2: a marker in an object is found", async () => {
    const probe = marker("r2-probe");
    const key = `e2e-probe/${RUN}`;
    await env.AUDIT_ARCHIVE.put(key, `archived ${probe}`);
    needles.push({ name: "r2 probe", value: probe });
    try {
      const { leaks, keys } = await scanR2();
      expect(keys).toContain(key);
      expect(leaks).toEqual([`r2 probe found in R2 object ${key}`]);
    } finally {
      needles.pop();
      await env.AUDIT_ARCHIVE.delete(key);
    }
  });

  it("console: the Worker's own log lines reach the spies", async () => {
    const before = consoleCalls().length;
    // Not a usage event: the queue consumer (Worker code, this isolate) drops it with a log line.
    await env.USAGE_QUEUE.send({ probe: RUN });
    const logged = () =>
      consoleCalls()
        .slice(before)
        .some((c) => c.method === "error" && c.text.includes("usage queue: dropped"));
    const until = Date.now() + 10_000;
    while (!logged() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(logged()).toBe(true);
  });
});
