// Anthropic Messages API calls: /v1/messages (JSON or SSE) and /v1/messages/count_tokens.
import { AppError } from "../../../../shared/errors.ts";
import { checkModel, flag, outputLimit, type CallShape, type JsonObject, type ParsedRequest } from "../types.ts";

const ENDPOINTS: Record<string, string> = {
  "/messages": "messages",
  "/messages/count_tokens": "messages.count_tokens",
};

export function shapeAnthropic(request: ParsedRequest): CallShape | AppError {
  const endpoint = request.method === "POST" ? ENDPOINTS[request.path] : undefined;
  if (!endpoint) {
    return new AppError("unknown_route", `Outlay does not proxy ${request.method} ${request.path}.`);
  }
  const body = request.body;
  if (!body) return new AppError("invalid_json", "The request body must be a JSON object.");
  const model = checkModel(body.model, "model: Field required");
  if (model instanceof AppError) return model;
  const messages = endpoint === "messages";
  const stream = messages ? flag(body.stream, "stream") : false;
  if (stream instanceof AppError) return stream;
  const maxOutputTokens = messages ? outputLimit(body.max_tokens, "max_tokens") : 0;
  if (maxOutputTokens instanceof AppError) return maxOutputTokens;
  return {
    endpoint,
    model,
    stream,
    metered: messages,
    rewrittenBody: null,
    stripUsageChunk: false,
    bodyDimensions: {},
    maxOutputTokens,
    outputs: 1,
  };
}

/** Extended thinking needs budget_tokens >= 1024 and below max_tokens, or Anthropic answers 400. */
export const MIN_THINKING_BUDGET = 1024;

/**
 * The body with max_tokens at most `limit` (it counts extended-thinking tokens). An enabled
 * thinking budget is lowered below it; when the limit cannot hold the smallest thinking budget
 * plus one token of answer, thinking is turned off: the call runs on what the budget has left,
 * without a thinking block, rather than being sent to a certain 400 (docs/budgets.md).
 */
export function withAnthropicMaxTokens(body: JsonObject, _shape: CallShape, limit: number): JsonObject {
  const given = body.max_tokens;
  const max = typeof given === "number" && Number.isInteger(given) && given > 0 && given < limit ? given : limit;
  const out: JsonObject = { ...body, max_tokens: max };
  const thinking = body.thinking;
  if (typeof thinking !== "object" || thinking === null || Array.isArray(thinking)) return out;
  const spec = thinking as JsonObject;
  if (spec.type !== "enabled") return out;
  if (max <= MIN_THINKING_BUDGET) {
    out.thinking = { type: "disabled" };
  } else if (typeof spec.budget_tokens !== "number" || spec.budget_tokens >= max) {
    out.thinking = { ...spec, budget_tokens: max - 1 };
  }
  return out;
}
