// The Outlay demo upstream: a fake LLM provider speaking the real OpenAI, Anthropic and Gemini
// wire formats with canned text and deterministic usage. A pure fetch handler (Hono), so it runs
// in Node (server.ts) and inside workerd alike. See README.md.

import { Hono } from "hono";
import { anthropicCountTokens, anthropicMessages, anthropicProfile } from "./anthropic.ts";
import { geminiModelAction, googleProfile } from "./google.ts";
import { chatCompletions, openaiProfile } from "./openai.ts";
import { embeddings, models } from "./openai-embeddings.ts";
import { openaiResponses } from "./openai-responses.ts";
import { anthropicModels, geminiModels } from "./model-lists.ts";
import { hexId } from "./ids.ts";
import { createRequestLog, DEFAULT_LOG_LIMIT, TEST_ID_HEADER, TEST_ID_LIMIT } from "./request-log.ts";
import { openExchange, type ProviderProfile, type UpstreamContext } from "./respond.ts";
import { DEFAULT_OUTPUT_TOKENS, DEFAULT_REASONING_TOKENS } from "./tokens.ts";

export interface UpstreamOptions {
  /** Request-log capacity (oldest entries are dropped first). Default 1,000. */
  logLimit?: number;
  /** How many test ids (`x-test-id`) the per-test view remembers. Default 10,000. */
  testIdLimit?: number;
  /** Natural answer length in tokens when `x-demo-output-tokens` is absent. Default 24. */
  defaultOutputTokens?: number;
  /** Reasoning tokens of reasoning models when `x-demo-reasoning-tokens` is absent. Default 16. */
  defaultReasoningTokens?: number;
}

const PREFIXES: ReadonlyArray<[string, ProviderProfile]> = [
  ["/openai/", openaiProfile],
  ["/anthropic/", anthropicProfile],
  ["/google/", googleProfile],
];

function profileFor(path: string): ProviderProfile | null {
  for (const [prefix, profile] of PREFIXES) if (path.startsWith(prefix)) return profile;
  return null;
}

export function createUpstreamApp(options: UpstreamOptions = {}): Hono {
  const ctx: UpstreamContext = {
    log: createRequestLog(options.logLimit ?? DEFAULT_LOG_LIMIT, options.testIdLimit ?? TEST_ID_LIMIT),
    options: {
      defaultOutputTokens: options.defaultOutputTokens ?? DEFAULT_OUTPUT_TOKENS,
      defaultReasoningTokens: options.defaultReasoningTokens ?? DEFAULT_REASONING_TOKENS,
    },
  };
  const app = new Hono();

  app.get("/", (c) =>
    c.json({
      name: "Outlay demo upstream",
      note: "Canned, deterministic responses in the real provider wire formats. No model runs here.",
      baseUrls: { openai: "/openai/v1", anthropic: "/anthropic/v1", google: "/google" },
      requestLog: "/_demo/requests",
    }),
  );
  app.get("/_demo/requests", (c) => c.json({ requests: ctx.log.list(c.req.query("test_id")) }));
  app.delete("/_demo/requests", (c) => {
    ctx.log.clear();
    return c.json({ requests: [] });
  });

  // A base URL that files its calls under a test id, for calls whose headers a test does not
  // choose (the dashboard's connection test): `<url>/_demo/t/<id>/<path>` is served as
  // `<url>/<path>` with `x-test-id: <id>`.
  app.all("/_demo/t/:testId/*", async (c) => {
    const url = new URL(c.req.url);
    const rest = url.pathname.split("/").slice(4).join("/");
    const headers = new Headers(c.req.raw.headers);
    headers.set(TEST_ID_HEADER, c.req.param("testId"));
    const hasBody = c.req.method !== "GET" && c.req.method !== "HEAD";
    const body = hasBody ? await c.req.arrayBuffer() : undefined;
    return app.fetch(new Request(`${url.origin}/${rest}${url.search}`, { method: c.req.method, headers, body }));
  });

  // A base URL that redirects (logged like any call): `<url>/_demo/redirect/<status>/<path>` answers
  // <status> with Location `<url>/<path>`, so tests can see that the gateway never follows it.
  app.all("/_demo/redirect/:status{30[12378]}/*", (c) => {
    const record = ctx.log.start({ id: hexId("redirect_", 16), provider: "openai", request: c.req.raw, key: null });
    const status = Number(c.req.param("status")) as 301 | 302 | 303 | 307 | 308;
    record.status = status;
    record.completed = true;
    const url = new URL(c.req.url);
    const rest = url.pathname.split("/").slice(4).join("/");
    return c.redirect(`${url.origin}/${rest}${url.search}`, status);
  });

  app.post("/openai/v1/chat/completions", (c) => chatCompletions(ctx, c.req.raw));
  app.post("/openai/v1/responses", (c) => openaiResponses(ctx, c.req.raw));
  app.post("/openai/v1/embeddings", (c) => embeddings(ctx, c.req.raw));
  app.get("/openai/v1/models", (c) => models(ctx, c.req.raw, undefined));
  app.get("/openai/v1/models/:model", (c) => models(ctx, c.req.raw, c.req.param("model")));

  app.post("/anthropic/v1/messages", (c) => anthropicMessages(ctx, c.req.raw));
  app.post("/anthropic/v1/messages/count_tokens", (c) => anthropicCountTokens(ctx, c.req.raw));
  app.get("/anthropic/v1/models", (c) => anthropicModels(ctx, c.req.raw, undefined));
  app.get("/anthropic/v1/models/:model", (c) => anthropicModels(ctx, c.req.raw, c.req.param("model")));

  app.post("/google/:version/models/:action", (c) => geminiModelAction(ctx, c.req.raw, c.req.param("action")));
  app.get("/google/:version/models", (c) => geminiModels(ctx, c.req.raw, undefined));
  app.get("/google/:version/models/:model", (c) => geminiModels(ctx, c.req.raw, c.req.param("model")));

  // Unknown provider routes are answered (and logged) in that provider's error shape, so a
  // proxy calling a wrong path shows up in the log instead of looking like "not called".
  app.notFound(async (c) => {
    const profile = profileFor(c.req.path);
    if (profile === null) return c.json({ error: { message: `Not found: ${c.req.method} ${c.req.path}` } }, 404);
    const { exchange, denied } = await openExchange(ctx, c.req.raw, profile);
    return denied ?? exchange.fail("not_found", `Invalid URL (${c.req.method} ${c.req.path})`);
  });
  app.onError((error, c) => {
    const profile = profileFor(c.req.path);
    const message = `demo upstream internal error: ${error.message}`;
    if (profile === null) return c.json({ error: { message } }, 500);
    const spec = profile.error("server_error", message, "req_demo_internal");
    return c.json(spec.body, 500);
  });
  return app;
}
