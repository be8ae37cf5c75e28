// OpenAI wire format: shared profile (headers, errors) and Chat Completions (JSON + SSE).
// The Responses API is in openai-responses.ts, Embeddings and Models in openai-embeddings.ts.
// Shapes follow api.openai.com as the `openai` SDK parses them.

import type { Frame } from "./sse.ts";
import { LIMIT_FIELDS, outputLimits } from "./limits.ts";
import { base62Id, hexId, unixSeconds } from "./ids.ts";
import { type JsonObject, isRecord, openaiChatTexts } from "./input-text.ts";
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
  isOpenAIReasoningModel,
  planOutput,
  toolArguments,
} from "./tokens.ts";

const ERROR_TYPES: Record<ErrorKind, { status: number; type: string; code: string | null }> = {
  unauthenticated: { status: 401, type: "invalid_request_error", code: "invalid_api_key" },
  invalid_request: { status: 400, type: "invalid_request_error", code: null },
  not_found: { status: 404, type: "invalid_request_error", code: null },
  rate_limit: { status: 429, type: "requests", code: "rate_limit_exceeded" },
  server_error: { status: 500, type: "server_error", code: null },
  overloaded: { status: 503, type: "server_error", code: null },
};

export const openaiProfile: ProviderProfile = {
  provider: "openai",
  newRequestId: () => hexId("req_", 32),
  headers: (requestId) => ({
    "x-request-id": requestId,
    "openai-version": "2020-10-01",
    "openai-organization": "outlay-demo",
    "openai-processing-ms": "1",
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-limit-tokens": "10000000",
    "x-ratelimit-remaining-tokens": "9999000",
    "x-ratelimit-reset-tokens": "6ms",
    "x-demo-upstream": "outlay",
  }),
  jsonContentType: "application/json",
  streamContentType: "text/event-stream; charset=utf-8",
  key: (request) => {
    const match = /^Bearer\s+(\S.*)$/i.exec(request.headers.get("authorization") ?? "");
    return match?.[1]?.trim() ?? null;
  },
  error: (kind, message) => {
    const { status, type, code } = ERROR_TYPES[kind];
    return { status, body: { error: { message, type, param: null, code } } };
  },
  authMessage: (key) =>
    key === null || key === ""
      ? "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
      : "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
};

export const OPENAI_PARSE_ERROR =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)";

/** Reads and checks the common parts of an OpenAI POST: body, model, scenario controls. */
export async function openaiRequest(
  exchange: Exchange,
  request: Request,
): Promise<{ body: JsonObject; model: string; controls: DemoControls } | Response> {
  const body = await readJsonObject(request);
  if (body === null) return exchange.fail("invalid_request", OPENAI_PARSE_ERROR);
  if (typeof body.model !== "string" || body.model === "") {
    return exchange.fail("invalid_request", "you must provide a model parameter");
  }
  const { model, scenario } = splitModel(body.model);
  const controls = readControls(request.headers, scenario);
  exchange.record.model = model;
  exchange.record.stream = body.stream === true;
  exchange.record.scenario = controls.scenario;
  return { body, model, controls };
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number; audio_tokens: number };
  completion_tokens_details: {
    reasoning_tokens: number;
    audio_tokens: number;
    accepted_prediction_tokens: number;
    rejected_prediction_tokens: number;
  };
}

export function chatUsage(prompt: number, cached: number, completion: number, reasoning: number): ChatUsage {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: reasoning,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}

/** The tool the demo calls: the first function tool (or the forced one), unless tool_choice is "none". */
function chatTool(body: JsonObject): { name: string; arguments: string } | null {
  const tools = (Array.isArray(body.tools) ? body.tools : []).flatMap((tool) =>
    isRecord(tool) && isRecord(tool.function) && typeof tool.function.name === "string"
      ? [{ name: tool.function.name, parameters: tool.function.parameters }]
      : [],
  );
  const choice = body.tool_choice;
  if (tools.length === 0 || choice === "none") return null;
  const forcedName = isRecord(choice) && isRecord(choice.function) ? choice.function.name : undefined;
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const last: unknown = messages[messages.length - 1];
  const answered = isRecord(last) && last.role === "tool";
  if (answered && choice !== "required" && forcedName === undefined) return null;
  const tool = tools.find((t) => t.name === forcedName) ?? tools[0];
  return tool === undefined ? null : { name: tool.name, arguments: toolArguments(tool.parameters) };
}

export async function chatCompletions(ctx: UpstreamContext, request: Request): Promise<Response> {
  const { exchange, denied } = await openExchange(ctx, request, openaiProfile);
  if (denied !== null) return denied;
  const parsed = await openaiRequest(exchange, request);
  if (parsed instanceof Response) return parsed;
  const { body, model, controls } = parsed;
  if (!Array.isArray(body.messages)) return exchange.fail("invalid_request", "Missing required parameter: 'messages'.");
  if (body.messages.length === 0) return exchange.fail("invalid_request", "[] is too short - 'messages'");
  exchange.record.limits = outputLimits(body, LIMIT_FIELDS.chat);
  const maxTokens = positiveInt(body, "max_completion_tokens") ?? positiveInt(body, "max_tokens");
  if (maxTokens === null) return exchange.fail("invalid_request", "Invalid 'max_tokens': expected a positive integer.");
  const stream = body.stream === true;
  if (!stream && body.stream_options !== undefined && body.stream_options !== null) {
    return exchange.fail("invalid_request", "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
  }
  const failure = scenarioFailure(exchange, controls);
  if (failure !== null) return failure;

  const prompt = inputTokensFromTexts(openaiChatTexts(body));
  const cached = Math.min(controls.cachedTokens, prompt);
  const tool = chatTool(body);
  const wantsReasoning = isOpenAIReasoningModel(model) && body.reasoning_effort !== "none";
  const plan = planOutput({
    naturalTokens: tool === null ? (controls.outputTokens ?? ctx.options.defaultOutputTokens) : 0,
    maxTokens,
    reasoningTokens: wantsReasoning ? (controls.reasoningTokens ?? ctx.options.defaultReasoningTokens) : 0,
  });
  const fragments = tool === null ? [] : argumentFragments(tool.arguments);
  const deltas = answerDeltas(plan.textTokens);
  const completion = plan.reasoningTokens + deltas.length + fragments.length;
  const usage = chatUsage(prompt, cached, completion, plan.reasoningTokens);
  const finish = tool !== null ? "tool_calls" : plan.truncated ? "length" : "stop";
  const id = base62Id("chatcmpl-", 29);
  const callId = base62Id("call_", 24);
  const created = unixSeconds();
  const base = {
    id,
    object: "chat.completion.chunk",
    created,
    model,
    service_tier: "default",
    system_fingerprint: "fp_outlay_demo",
  };

  if (!stream) {
    const message = {
      role: "assistant",
      content: tool === null ? deltas.join("") : null,
      refusal: null,
      annotations: [],
      ...(tool === null ? {} : { tool_calls: [{ id: callId, type: "function", function: tool }] }),
    };
    const completionBody = {
      ...base,
      object: "chat.completion",
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
      usage,
    };
    return exchange.json(completionBody, { controls, usage, pieces: deltas.length + fragments.length });
  }

  const includeUsage = isRecord(body.stream_options) && body.stream_options.include_usage === true;
  const chunk = (delta: object, finishReason: string | null): object => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
    ...(includeUsage ? { usage: null } : {}),
  });
  function* frames(): Generator<Frame> {
    if (tool === null) {
      yield { kind: "meta", data: chunk({ role: "assistant", content: "", refusal: null }, null) };
      for (const content of deltas) yield { kind: "delta", pieces: 1, data: chunk({ content }, null) };
    } else {
      const first = { index: 0, id: callId, type: "function", function: { name: tool.name, arguments: "" } };
      yield {
        kind: "meta",
        data: chunk({ role: "assistant", content: null, tool_calls: [first], refusal: null }, null),
      };
      for (const part of fragments) {
        yield {
          kind: "delta",
          pieces: 1,
          data: chunk({ tool_calls: [{ index: 0, function: { arguments: part } }] }, null),
        };
      }
    }
    yield { kind: "final", data: chunk({}, finish) };
    if (includeUsage) yield { kind: "final", data: { ...base, choices: [], usage }, usage };
    yield { kind: "final", data: "[DONE]" };
  }
  return exchange.stream(frames(), { controls, framing: "sse" });
}
