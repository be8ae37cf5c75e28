// Anthropic Messages API calls: /v1/messages (JSON or SSE) and /v1/messages/count_tokens.
import { AppError } from "../../../../shared/errors.ts";
import { tokenLimit, type CallShape, type JsonObject, type ParsedRequest } from "../types.ts";

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
  if (typeof body.model !== "string" || body.model.length === 0) {
    return new AppError("missing_model", "model: Field required", "model");
  }
  return {
    endpoint,
    model: body.model,
    stream: endpoint === "messages" && body.stream === true,
    metered: endpoint === "messages",
    rewrittenBody: null,
    stripUsageChunk: false,
    bodyDimensions: {},
    maxOutputTokens: endpoint === "messages" ? tokenLimit(body.max_tokens) : 0,
  };
}

export function withAnthropicMaxTokens(body: JsonObject, _shape: CallShape, limit: number): JsonObject {
  return { ...body, max_tokens: limit };
}
