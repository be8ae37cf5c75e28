// Google Gemini API wire format: models/{model}:generateContent, :streamGenerateContent
// (?alt=sse, or a streamed JSON array without it) and :countTokens, as
// generativelanguage.googleapis.com sends them and `@google/genai` parses them.

import type { Frame } from "./sse.ts";
import { LIMIT_FIELDS, outputLimits } from "./limits.ts";
import { base62Id } from "./ids.ts";
import { type JsonObject, geminiTexts, isRecord } from "./input-text.ts";
import {
  type ErrorKind,
  type ProviderProfile,
  type UpstreamContext,
  openExchange,
  positiveInt,
  readJsonObject,
  scenarioFailure,
} from "./respond.ts";
import { readControls, splitModel } from "./scenario.ts";
import {
  answerDeltas,
  inputTokensFromTexts,
  isGeminiThinkingModel,
  planOutput,
  toolArguments,
  toolCallTokens,
} from "./tokens.ts";

const ERRORS: Record<ErrorKind, { status: number; grpc: string }> = {
  unauthenticated: { status: 401, grpc: "UNAUTHENTICATED" },
  invalid_request: { status: 400, grpc: "INVALID_ARGUMENT" },
  not_found: { status: 404, grpc: "NOT_FOUND" },
  rate_limit: { status: 429, grpc: "RESOURCE_EXHAUSTED" },
  server_error: { status: 500, grpc: "INTERNAL" },
  overloaded: { status: 503, grpc: "UNAVAILABLE" },
};

export const googleProfile: ProviderProfile = {
  provider: "google",
  newRequestId: () => base62Id("", 22),
  headers: () => ({ vary: "Origin, X-Origin, Referer", "x-demo-upstream": "outlay" }),
  jsonContentType: "application/json; charset=UTF-8",
  streamContentType: "text/event-stream",
  key: (request) => request.headers.get("x-goog-api-key") ?? new URL(request.url).searchParams.get("key"),
  error: (kind, message) => {
    const { status, grpc } = ERRORS[kind];
    return { status, body: { error: { code: status, message, status: grpc } } };
  },
  authMessage: (key) =>
    key === null || key === ""
      ? "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."
      : "API key not valid. Please pass a valid API key.",
};

export interface GeminiUsage {
  promptTokenCount: number;
  candidatesTokenCount?: number;
  totalTokenCount: number;
  cachedContentTokenCount?: number;
  promptTokensDetails: Array<{ modality: string; tokenCount: number }>;
  cacheTokensDetails?: Array<{ modality: string; tokenCount: number }>;
  thoughtsTokenCount?: number;
}

/**
 * Gemini usageMetadata. promptTokenCount INCLUDES cached tokens; thoughts are NOT part of
 * candidatesTokenCount; total = prompt + candidates + thoughts. Zero counts are omitted
 * (proto3 JSON), except promptTokenCount and totalTokenCount.
 */
export function geminiUsage(prompt: number, cached: number, candidates: number, thoughts: number): GeminiUsage {
  return {
    promptTokenCount: prompt,
    ...(candidates > 0 ? { candidatesTokenCount: candidates } : {}),
    totalTokenCount: prompt + candidates + thoughts,
    ...(cached > 0 ? { cachedContentTokenCount: cached } : {}),
    promptTokensDetails: [{ modality: "TEXT", tokenCount: prompt }],
    ...(cached > 0 ? { cacheTokensDetails: [{ modality: "TEXT", tokenCount: cached }] } : {}),
    ...(thoughts > 0 ? { thoughtsTokenCount: thoughts } : {}),
  };
}

function geminiTool(body: JsonObject): { name: string; args: string } | null {
  const declarations = (Array.isArray(body.tools) ? body.tools : []).flatMap((tool) =>
    isRecord(tool) && Array.isArray(tool.functionDeclarations) ? tool.functionDeclarations : [],
  );
  const functions = declarations.flatMap((fn) =>
    isRecord(fn) && typeof fn.name === "string"
      ? [{ name: fn.name, schema: fn.parameters ?? fn.parametersJsonSchema }]
      : [],
  );
  const config =
    isRecord(body.toolConfig) && isRecord(body.toolConfig.functionCallingConfig)
      ? body.toolConfig.functionCallingConfig
      : {};
  const mode = typeof config.mode === "string" ? config.mode.toUpperCase() : "AUTO";
  if (functions.length === 0 || mode === "NONE") return null;
  const contents = Array.isArray(body.contents) ? body.contents : [];
  const last: unknown = contents[contents.length - 1];
  const answered =
    isRecord(last) && Array.isArray(last.parts) && last.parts.some((p) => isRecord(p) && isRecord(p.functionResponse));
  if (answered && mode !== "ANY") return null;
  const allowed = Array.isArray(config.allowedFunctionNames) ? config.allowedFunctionNames : [];
  const fn = functions.find((f) => allowed.includes(f.name)) ?? functions[0];
  return fn === undefined ? null : { name: fn.name, args: toolArguments(fn.schema) };
}

const THOUGHT_SIGNATURE = "RGVtb1Rob3VnaHRTaWduYXR1cmVGcm9tT3V0bGF5";

/** Serves POST /google/{version}/models/{model}:{method}; `action` is `{model}:{method}`. */
export async function geminiModelAction(ctx: UpstreamContext, request: Request, action: string): Promise<Response> {
  const { exchange, denied } = await openExchange(ctx, request, googleProfile);
  if (denied !== null) return denied;
  const colon = action.lastIndexOf(":");
  const method = action.slice(colon + 1);
  if (colon <= 0 || (method !== "generateContent" && method !== "streamGenerateContent" && method !== "countTokens")) {
    return exchange.fail("not_found", `Method not found: ${method}`);
  }
  const { model, scenario } = splitModel(action.slice(0, colon));
  const controls = readControls(request.headers, scenario);
  const record = exchange.record;
  record.model = model;
  record.scenario = controls.scenario;
  record.stream = method === "streamGenerateContent";
  const raw = await readJsonObject(request);
  if (raw === null) return exchange.fail("invalid_request", "Invalid JSON payload received. Unexpected token.");
  const body = method === "countTokens" && isRecord(raw.generateContentRequest) ? raw.generateContentRequest : raw;
  if (!Array.isArray(body.contents) || body.contents.length === 0) {
    return exchange.fail("invalid_request", "* GenerateContentRequest.contents: contents is not specified\n");
  }
  record.limits = outputLimits(body, LIMIT_FIELDS.google);
  const config = isRecord(body.generationConfig) ? body.generationConfig : {};
  const maxTokens = positiveInt(config, "maxOutputTokens");
  if (maxTokens === null) {
    return exchange.fail(
      "invalid_request",
      "* GenerateContentRequest.generation_config.max_output_tokens: must be positive\n",
    );
  }
  const failure = scenarioFailure(exchange, controls);
  if (failure !== null) return failure;

  const prompt = inputTokensFromTexts(geminiTexts(body));
  const cached = Math.min(controls.cachedTokens, prompt);
  if (method === "countTokens") {
    const counted = {
      totalTokens: prompt,
      ...(cached > 0 ? { cachedContentTokenCount: cached } : {}),
      promptTokensDetails: [{ modality: "TEXT", tokenCount: prompt }],
    };
    return exchange.json(counted, { controls, usage: null, pieces: 0 });
  }

  const thinkingModel = isGeminiThinkingModel(model);
  const thinkingConfig = isRecord(config.thinkingConfig) ? config.thinkingConfig : {};
  const budget = typeof thinkingConfig.thinkingBudget === "number" ? thinkingConfig.thinkingBudget : -1;
  const wanted = controls.reasoningTokens ?? ctx.options.defaultReasoningTokens;
  const tool = geminiTool(body);
  const plan = planOutput({
    naturalTokens: tool === null ? (controls.outputTokens ?? ctx.options.defaultOutputTokens) : 0,
    maxTokens,
    reasoningTokens: !thinkingModel || budget === 0 ? 0 : budget > 0 ? Math.min(budget, wanted) : wanted,
  });
  const words = answerDeltas(plan.textTokens);
  const toolTokens = tool === null ? 0 : toolCallTokens(tool.args);
  const finishReason = tool === null && plan.truncated ? "MAX_TOKENS" : "STOP";
  const responseId = exchange.requestId;
  const toolPart =
    tool === null
      ? null
      : {
          functionCall: { name: tool.name, args: JSON.parse(tool.args) as unknown },
          ...(thinkingModel ? { thoughtSignature: THOUGHT_SIGNATURE } : {}),
        };
  const usageOf = (candidates: number): GeminiUsage => geminiUsage(prompt, cached, candidates, plan.reasoningTokens);
  const response = (parts: object[], usage: GeminiUsage, finish: string | null): object => ({
    candidates: [
      {
        content: parts.length > 0 ? { parts, role: "model" } : { role: "model" },
        ...(finish === null ? {} : { finishReason: finish }),
        index: 0,
      },
    ],
    usageMetadata: usage,
    modelVersion: model,
    responseId,
  });

  if (method === "generateContent") {
    const parts = toolPart !== null ? [toolPart] : words.length > 0 ? [{ text: words.join("") }] : [];
    const usage = usageOf(words.length + toolTokens);
    return exchange.json(response(parts, usage, finishReason), { controls, usage, pieces: words.length + toolTokens });
  }

  function* frames(): Generator<Frame> {
    if (toolPart !== null || words.length === 0) {
      const usage = usageOf(toolTokens);
      const parts = toolPart === null ? [] : [toolPart];
      yield { kind: "final", pieces: toolTokens, data: response(parts, usage, finishReason), usage };
      return;
    }
    for (const [i, text] of words.entries()) {
      const last = i === words.length - 1;
      const usage = usageOf(i + 1);
      yield {
        kind: last ? "final" : "delta",
        pieces: 1,
        data: response([{ text }], usage, last ? finishReason : null),
        usage,
      };
    }
  }
  const sse = new URL(request.url).searchParams.get("alt") === "sse";
  return exchange.stream(frames(), { controls, framing: sse ? "sse-crlf" : "json-array" });
}
