// Model listing of Anthropic (GET /v1/models, /v1/models/{id}) and Gemini (GET /{version}/models,
// /{version}/models/{model}), in the providers' real shapes and paging, so clients that list models
// (the dashboard's "test connection", SDKs' models.list()) work against the demo. Keys, scenarios
// and the request log as for every other route.
//   Anthropic: newest first; ?limit=1-1000 (default 20), ?after_id / ?before_id; { data, has_more,
//     first_id, last_id }; anthropic-version is required.
//   Gemini: ?pageSize=1-1000 (default 50), ?pageToken from the previous page's nextPageToken.

import { anthropicProfile } from "./anthropic.ts";
import { googleProfile } from "./google.ts";
import { type Exchange, type ProviderProfile, type UpstreamContext, openExchange, scenarioFailure } from "./respond.ts";
import { type DemoControls, readControls } from "./scenario.ts";

export interface AnthropicModel {
  type: "model";
  id: string;
  display_name: string;
  created_at: string;
}

/** Newest first, as Anthropic lists them. */
export const DEMO_ANTHROPIC_MODELS: readonly AnthropicModel[] = [
  {
    type: "model",
    id: "claude-haiku-4-5-20251001",
    display_name: "Claude Haiku 4.5",
    created_at: "2025-10-15T00:00:00Z",
  },
  {
    type: "model",
    id: "claude-sonnet-4-5-20250929",
    display_name: "Claude Sonnet 4.5",
    created_at: "2025-09-29T00:00:00Z",
  },
  {
    type: "model",
    id: "claude-opus-4-1-20250805",
    display_name: "Claude Opus 4.1",
    created_at: "2025-08-05T00:00:00Z",
  },
  {
    type: "model",
    id: "claude-sonnet-4-20250514",
    display_name: "Claude Sonnet 4",
    created_at: "2025-05-22T00:00:00Z",
  },
  {
    type: "model",
    id: "claude-3-5-haiku-20241022",
    display_name: "Claude Haiku 3.5",
    created_at: "2024-10-22T00:00:00Z",
  },
];

export interface GeminiModel {
  name: string;
  version: string;
  displayName: string;
  description: string;
  inputTokenLimit: number;
  outputTokenLimit: number;
  supportedGenerationMethods: string[];
  temperature?: number;
  topP?: number;
  topK?: number;
  maxTemperature?: number;
  thinking?: boolean;
}

const GENERATE = ["generateContent", "countTokens", "createCachedContent", "batchGenerateContent"];

function gemini(id: string, displayName: string, thinking: boolean): GeminiModel {
  return {
    name: `models/${id}`,
    version: "001",
    displayName,
    description: `${displayName} (Outlay demo upstream: canned answers).`,
    inputTokenLimit: 1_048_576,
    outputTokenLimit: 65_536,
    supportedGenerationMethods: GENERATE,
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
    ...(thinking ? { thinking: true } : {}),
  };
}

export const DEMO_GEMINI_MODELS: readonly GeminiModel[] = [
  gemini("gemini-2.5-pro", "Gemini 2.5 Pro", true),
  gemini("gemini-2.5-flash", "Gemini 2.5 Flash", true),
  gemini("gemini-2.5-flash-lite", "Gemini 2.5 Flash-Lite", true),
  gemini("gemini-2.0-flash", "Gemini 2.0 Flash", false),
  {
    name: "models/gemini-embedding-001",
    version: "001",
    displayName: "Gemini Embedding 001",
    description: "Gemini Embedding 001 (Outlay demo upstream: deterministic vectors).",
    inputTokenLimit: 2048,
    outputTokenLimit: 1,
    supportedGenerationMethods: ["embedContent", "countTextTokens", "countTokens"],
  },
];

/** An integer query parameter in [1, max], its default when absent, or null when invalid. */
function pageSize(url: URL, name: string, fallback: number, max: number): number | null {
  const raw = url.searchParams.get(name);
  if (raw === null || raw === "") return fallback;
  if (!/^\d{1,7}$/.test(raw)) return null;
  const n = Number(raw);
  return n >= 1 && n <= max ? n : null;
}

/** Log record, key check, scenario: the response when one of them answers, else what goes on. */
async function start(
  ctx: UpstreamContext,
  request: Request,
  profile: ProviderProfile,
  model: string | null,
): Promise<{ exchange: Exchange; controls: DemoControls } | Response> {
  const { exchange, denied } = await openExchange(ctx, request, profile);
  if (denied !== null) return denied;
  const controls = readControls(request.headers, null);
  exchange.record.scenario = controls.scenario;
  exchange.record.model = model;
  return scenarioFailure(exchange, controls) ?? { exchange, controls };
}

function anthropicVersionMissing(exchange: Exchange, request: Request): Response | null {
  if ((request.headers.get("anthropic-version") ?? "") !== "") return null;
  return exchange.fail("invalid_request", "anthropic-version: header is required");
}

/** GET /anthropic/v1/models (id undefined) and GET /anthropic/v1/models/{id}. */
export async function anthropicModels(ctx: UpstreamContext, request: Request, id: string | undefined) {
  const started = await start(ctx, request, anthropicProfile, id ?? null);
  if (started instanceof Response) return started;
  const { exchange, controls } = started;
  const missing = anthropicVersionMissing(exchange, request);
  if (missing) return missing;
  const json = (body: object) => exchange.json(body, { controls, usage: null, pieces: 0 });
  if (id !== undefined) {
    const found = DEMO_ANTHROPIC_MODELS.find((m) => m.id === id);
    return found ? json(found) : exchange.fail("not_found", `model: ${id}`);
  }
  const url = new URL(request.url);
  const limit = pageSize(url, "limit", 20, 1000);
  if (limit === null) return exchange.fail("invalid_request", "limit: Input should be between 1 and 1000");
  const afterId = url.searchParams.get("after_id");
  const beforeId = url.searchParams.get("before_id");
  const all = DEMO_ANTHROPIC_MODELS;
  let from = 0;
  let to = all.length;
  if (afterId !== null) {
    const at = all.findIndex((m) => m.id === afterId);
    if (at < 0) return exchange.fail("invalid_request", `after_id: no model ${afterId}`);
    from = at + 1;
  }
  if (beforeId !== null) {
    const at = all.findIndex((m) => m.id === beforeId);
    if (at < 0) return exchange.fail("invalid_request", `before_id: no model ${beforeId}`);
    to = at;
  }
  // before_id pages backwards: the `limit` models just before it; has_more looks that way too.
  const backwards = beforeId !== null && afterId === null;
  const begin = backwards ? Math.max(from, to - limit) : from;
  const end = backwards ? to : Math.min(to, from + limit);
  const page = all.slice(begin, end);
  const hasMore = backwards ? begin > from : end < to;
  const first = page[0];
  const last = page[page.length - 1];
  return json({ data: page, has_more: hasMore, first_id: first?.id ?? null, last_id: last?.id ?? null });
}

const PAGE_TOKEN = /^demo-page-(\d{1,4})$/;

/** GET /google/{version}/models (model undefined) and GET /google/{version}/models/{model}. */
export async function geminiModels(ctx: UpstreamContext, request: Request, model: string | undefined) {
  const started = await start(ctx, request, googleProfile, model ?? null);
  if (started instanceof Response) return started;
  const { exchange, controls } = started;
  const json = (body: object) => exchange.json(body, { controls, usage: null, pieces: 0 });
  if (model !== undefined) {
    const found = DEMO_GEMINI_MODELS.find((m) => m.name === `models/${model}`);
    return found ? json(found) : exchange.fail("not_found", `models/${model} is not found for API version v1beta.`);
  }
  const url = new URL(request.url);
  const size = pageSize(url, "pageSize", 50, 1000);
  if (size === null) return exchange.fail("invalid_request", "Invalid value at 'page_size'.");
  const token = url.searchParams.get("pageToken");
  let from = 0;
  if (token !== null && token !== "") {
    const match = PAGE_TOKEN.exec(token);
    if (!match) return exchange.fail("invalid_request", "Invalid page token.");
    from = Number(match[1]);
  }
  const page = DEMO_GEMINI_MODELS.slice(from, from + size);
  const next = from + page.length;
  return json({
    models: page,
    ...(next < DEMO_GEMINI_MODELS.length ? { nextPageToken: `demo-page-${next}` } : {}),
  });
}
