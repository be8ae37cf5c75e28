// Anthropic wire format: POST /v1/messages (JSON and SSE) and /v1/messages/count_tokens,
// as api.anthropic.com sends them and `@anthropic-ai/sdk` parses them.

import type { Frame } from "./sse.ts";
import { LIMIT_FIELDS, outputLimits } from "./limits.ts";
import { base62Id } from "./ids.ts";
import { type JsonObject, anthropicTexts, isRecord } from "./input-text.ts";
import {
  type ErrorKind,
  type Exchange,
  type ProviderProfile,
  type UpstreamContext,
  openExchange,
  positiveInt,
  readJsonObject,
  scenarioFailure,
} from "./respond.ts";
import { type DemoControls, readControls, splitModel } from "./scenario.ts";
import {
  answerDeltas,
  argumentFragments,
  inputTokensFromTexts,
  planOutput,
  thinkingDeltas,
  toolArguments,
} from "./tokens.ts";

const ERRORS: Record<ErrorKind, { status: number; type: string }> = {
  unauthenticated: { status: 401, type: "authentication_error" },
  invalid_request: { status: 400, type: "invalid_request_error" },
  not_found: { status: 404, type: "not_found_error" },
  rate_limit: { status: 429, type: "rate_limit_error" },
  server_error: { status: 500, type: "api_error" },
  overloaded: { status: 529, type: "overloaded_error" },
};

function resetIn(seconds: number): string {
  return new Date(Math.ceil(Date.now() / 1000 + seconds) * 1000).toISOString().replace(".000Z", "Z");
}

export const anthropicProfile: ProviderProfile = {
  provider: "anthropic",
  newRequestId: () => base62Id("req_011C", 20),
  headers: (requestId) => ({
    "request-id": requestId,
    "anthropic-organization-id": "00000000-0000-4000-8000-00000000demo",
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": resetIn(1),
    "anthropic-ratelimit-input-tokens-limit": "2000000",
    "anthropic-ratelimit-input-tokens-remaining": "2000000",
    "anthropic-ratelimit-input-tokens-reset": resetIn(1),
    "anthropic-ratelimit-output-tokens-limit": "400000",
    "anthropic-ratelimit-output-tokens-remaining": "400000",
    "anthropic-ratelimit-output-tokens-reset": resetIn(1),
    "anthropic-ratelimit-tokens-limit": "2400000",
    "anthropic-ratelimit-tokens-remaining": "2400000",
    "anthropic-ratelimit-tokens-reset": resetIn(1),
    "x-demo-upstream": "outlay",
  }),
  jsonContentType: "application/json",
  streamContentType: "text/event-stream; charset=utf-8",
  // `x-api-key`, or `Authorization: Bearer` (what @anthropic-ai/sdk 1.x sends for apiKey).
  key: (request) =>
    request.headers.get("x-api-key") ??
    /^Bearer\s+(\S.*)$/i.exec(request.headers.get("authorization") ?? "")?.[1]?.trim() ??
    null,
  error: (kind, message, requestId) => {
    const { status, type } = ERRORS[kind];
    return { status, body: { type: "error", error: { type, message }, request_id: requestId } };
  },
  authMessage: (key) => (key === null || key === "" ? "x-api-key header is required" : "invalid x-api-key"),
};

export interface AnthropicUsage {
  input_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
  cache_creation: { ephemeral_5m_input_tokens: number; ephemeral_1h_input_tokens: number };
  output_tokens: number;
  service_tier: string;
}

/**
 * Anthropic usage: `input_tokens` EXCLUDES cache reads and writes. Reads = min(cached, total),
 * writes = min(cacheWrite, total - reads), input = total - reads - writes.
 */
export function anthropicUsage(totalInput: number, cached: number, cacheWrite: number, output: number): AnthropicUsage {
  const reads = Math.min(cached, totalInput);
  const writes = Math.min(cacheWrite, totalInput - reads);
  return {
    input_tokens: totalInput - reads - writes,
    cache_creation_input_tokens: writes,
    cache_read_input_tokens: reads,
    cache_creation: { ephemeral_5m_input_tokens: writes, ephemeral_1h_input_tokens: 0 },
    output_tokens: output,
    service_tier: "standard",
  };
}

/** Reads and checks what /messages and /count_tokens share: version header, body, model, messages. */
async function anthropicRequest(
  exchange: Exchange,
  request: Request,
): Promise<{ body: JsonObject; model: string; controls: DemoControls } | Response> {
  if ((request.headers.get("anthropic-version") ?? "") === "") {
    return exchange.fail("invalid_request", "anthropic-version: header is required");
  }
  const body = await readJsonObject(request);
  if (body === null)
    return exchange.fail("invalid_request", "There was an issue with your request body: it is not valid JSON.");
  if (typeof body.model !== "string" || body.model === "")
    return exchange.fail("invalid_request", "model: Field required");
  if (!Array.isArray(body.messages)) return exchange.fail("invalid_request", "messages: Field required");
  if (body.messages.length === 0) return exchange.fail("invalid_request", "messages: at least one message is required");
  const { model, scenario } = splitModel(body.model);
  const controls = readControls(request.headers, scenario);
  exchange.record.model = model;
  exchange.record.stream = body.stream === true;
  exchange.record.scenario = controls.scenario;
  return { body, model, controls };
}

function anthropicTool(body: JsonObject): { name: string; input: string } | null {
  const tools = (Array.isArray(body.tools) ? body.tools : []).flatMap((tool) =>
    isRecord(tool) && typeof tool.name === "string" && isRecord(tool.input_schema)
      ? [{ name: tool.name, schema: tool.input_schema }]
      : [],
  );
  const choice = isRecord(body.tool_choice) ? body.tool_choice : { type: "auto" };
  if (tools.length === 0 || choice.type === "none") return null;
  const forcedName = choice.type === "tool" ? choice.name : undefined;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last: unknown = messages[messages.length - 1];
  const answered =
    isRecord(last) && Array.isArray(last.content) && last.content.some((b) => isRecord(b) && b.type === "tool_result");
  if (answered && choice.type === "auto") return null;
  const tool = tools.find((t) => t.name === forcedName) ?? tools[0];
  return tool === undefined ? null : { name: tool.name, input: toolArguments(tool.schema) };
}

/** Words of thinking a summarized thinking block shows (`x-demo-thinking: summarized`). */
export const SUMMARY_WORDS = 3;
/** The smallest thinking budget Anthropic takes. */
export const MIN_THINKING_BUDGET = 1024;

/** Anthropic's rules on an enabled thinking budget, as its 400 messages say them; null when kept. */
function thinkingRuleBroken(budget: number, maxTokens: number): string | null {
  if (!Number.isFinite(budget)) return "thinking.enabled.budget_tokens: Field required";
  if (budget < MIN_THINKING_BUDGET) {
    return `thinking.enabled.budget_tokens: Input should be greater than or equal to ${MIN_THINKING_BUDGET}`;
  }
  if (maxTokens <= budget) return "`max_tokens` must be greater than `thinking.budget_tokens`.";
  return null;
}

const SIGNATURE = "RXFEZW1vVGhpbmtpbmdTaWduYXR1cmVGcm9tVGhlT3V0bGF5RGVtb1Vwc3RyZWFt";

export async function anthropicMessages(ctx: UpstreamContext, request: Request): Promise<Response> {
  const { exchange, denied } = await openExchange(ctx, request, anthropicProfile);
  if (denied !== null) return denied;
  const parsed = await anthropicRequest(exchange, request);
  if (parsed instanceof Response) return parsed;
  const { body, model, controls } = parsed;
  exchange.record.limits = outputLimits(body, LIMIT_FIELDS.anthropic);
  const maxTokens = positiveInt(body, "max_tokens");
  if (maxTokens === undefined) return exchange.fail("invalid_request", "max_tokens: Field required");
  if (maxTokens === null) return exchange.fail("invalid_request", "max_tokens: Input should be a valid integer >= 1");
  const failure = scenarioFailure(exchange, controls);
  if (failure !== null) return failure;

  const totalInput = inputTokensFromTexts(anthropicTexts(body));
  const thinking = isRecord(body.thinking) && body.thinking.type === "enabled" ? body.thinking : null;
  const budget = thinking === null ? 0 : (positiveInt(thinking, "budget_tokens") ?? Number.POSITIVE_INFINITY);
  const summarized = thinking !== null && controls.thinking === "summarized";
  if (summarized) {
    const invalid = thinkingRuleBroken(budget, maxTokens);
    if (invalid !== null) return exchange.fail("invalid_request", invalid);
  }
  const tool = anthropicTool(body);
  const plan = planOutput({
    naturalTokens: tool === null ? (controls.outputTokens ?? ctx.options.defaultOutputTokens) : 0,
    maxTokens,
    reasoningTokens: Math.min(budget, controls.reasoningTokens ?? ctx.options.defaultReasoningTokens),
  });
  // Summarized thinking (Claude 4): the client sees a few words, the bill counts every token.
  const thoughts = thinkingDeltas(summarized ? Math.min(SUMMARY_WORDS, plan.reasoningTokens) : plan.reasoningTokens);
  const words = answerDeltas(plan.textTokens);
  const fragments = tool === null ? [] : argumentFragments(tool.input);
  const outputTokens = plan.reasoningTokens + words.length + fragments.length;
  const delivered = thoughts.length + words.length + fragments.length;
  const usage = anthropicUsage(totalInput, controls.cachedTokens, controls.cacheWriteTokens, outputTokens);
  const stopReason = tool !== null ? "tool_use" : plan.truncated ? "max_tokens" : "end_turn";
  const toolId = base62Id("toolu_01", 22);

  const content: object[] = [];
  if (thinking !== null) content.push({ type: "thinking", thinking: thoughts.join(""), signature: SIGNATURE });
  if (words.length > 0) content.push({ type: "text", text: words.join("") });
  if (tool !== null)
    content.push({ type: "tool_use", id: toolId, name: tool.name, input: JSON.parse(tool.input) as unknown });
  const message = {
    id: base62Id("msg_01", 22),
    type: "message",
    role: "assistant",
    model,
    content,
    stop_reason: stopReason,
    stop_sequence: null,
    usage,
  };
  if (body.stream !== true) {
    return exchange.json(message, { controls, usage, pieces: delivered });
  }

  const startUsage = { ...usage, output_tokens: 1 };
  const deltaUsage = {
    input_tokens: usage.input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens,
    cache_read_input_tokens: usage.cache_read_input_tokens,
    output_tokens: usage.output_tokens,
  };
  function* frames(): Generator<Frame> {
    const sse = (type: string, fields: object, kind: Frame["kind"], pieces?: number): Frame => ({
      event: type,
      data: { type, ...fields },
      kind,
      ...(pieces === undefined ? {} : { pieces }),
    });
    yield {
      ...sse("message_start", { message: { ...message, content: [], stop_reason: null, usage: startUsage } }, "meta"),
      usage: startUsage,
    };
    let index = 0;
    const block = function* (start: object, deltas: Iterable<object>, extra: object[] = []): Generator<Frame> {
      yield sse("content_block_start", { index, content_block: start }, "meta");
      if (index === 0) yield sse("ping", {}, "meta");
      for (const delta of deltas) yield sse("content_block_delta", { index, delta }, "delta", 1);
      for (const delta of extra) yield sse("content_block_delta", { index, delta }, "meta");
      yield sse("content_block_stop", { index }, "meta");
      index += 1;
    };
    if (thinking !== null) {
      yield* block(
        { type: "thinking", thinking: "", signature: "" },
        thoughts.map((t) => ({ type: "thinking_delta", thinking: t })),
        [{ type: "signature_delta", signature: SIGNATURE }],
      );
    }
    if (words.length > 0) {
      yield* block(
        { type: "text", text: "" },
        words.map((text) => ({ type: "text_delta", text })),
      );
    }
    if (tool !== null) {
      yield sse(
        "content_block_start",
        { index, content_block: { type: "tool_use", id: toolId, name: tool.name, input: {} } },
        "meta",
      );
      if (index === 0) yield sse("ping", {}, "meta");
      yield sse("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: "" } }, "meta");
      for (const partial of fragments) {
        yield sse(
          "content_block_delta",
          { index, delta: { type: "input_json_delta", partial_json: partial } },
          "delta",
          1,
        );
      }
      yield sse("content_block_stop", { index }, "meta");
      index += 1;
    }
    if (index === 0) yield sse("ping", {}, "meta");
    const delta = { stop_reason: stopReason, stop_sequence: null };
    yield { ...sse("message_delta", { delta, usage: deltaUsage }, "final"), usage: deltaUsage };
    yield sse("message_stop", {}, "final");
  }
  return exchange.stream(frames(), { controls, framing: "sse" });
}

export async function anthropicCountTokens(ctx: UpstreamContext, request: Request): Promise<Response> {
  const { exchange, denied } = await openExchange(ctx, request, anthropicProfile);
  if (denied !== null) return denied;
  const parsed = await anthropicRequest(exchange, request);
  if (parsed instanceof Response) return parsed;
  const { body, controls } = parsed;
  exchange.record.stream = false;
  const failure = scenarioFailure(exchange, controls);
  if (failure !== null) return failure;
  const inputTokens = inputTokensFromTexts(anthropicTexts(body));
  return exchange.json({ input_tokens: inputTokens }, { controls, usage: null, pieces: 0 });
}
