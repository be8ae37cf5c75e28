// Which OpenAI endpoint a call is, its model and stream flag; adds stream_options.include_usage
// to streamed chat/completions calls so usage is always reported (and noted for stripping).
import { AppError } from "../../../../shared/errors.ts";
import { isObject, tokenLimit, type CallShape, type JsonObject, type ParsedRequest } from "../types.ts";

const METERED: Record<string, string> = {
  "/chat/completions": "chat.completions",
  "/completions": "completions",
  "/responses": "responses",
  "/embeddings": "embeddings",
};

const USAGE_STREAMS = new Set(["chat.completions", "completions"]);

export function shapeOpenAi(request: ParsedRequest): CallShape | AppError {
  if (request.method === "GET" && (request.path === "/models" || request.path.startsWith("/models/"))) {
    return {
      endpoint: "models",
      model: request.path.slice("/models/".length) || "",
      stream: false,
      metered: false,
      rewrittenBody: null,
      stripUsageChunk: false,
      bodyDimensions: {},
      maxOutputTokens: 0,
    };
  }
  const endpoint = request.method === "POST" ? METERED[request.path] : undefined;
  if (!endpoint) {
    return new AppError("unknown_route", `Outlay does not proxy ${request.method} ${request.path}.`);
  }
  const body = request.body;
  if (!body) return new AppError("invalid_json", "The request body must be a JSON object.");
  if (typeof body.model !== "string" || body.model.length === 0) {
    return new AppError("missing_model", "you must provide a model parameter", "model");
  }
  const stream = body.stream === true;
  let rewrittenBody = null;
  let stripUsageChunk = false;
  if (stream && USAGE_STREAMS.has(endpoint)) {
    const options = isObject(body.stream_options) ? body.stream_options : {};
    if (options.include_usage !== true) {
      rewrittenBody = { ...body, stream_options: { ...options, include_usage: true } };
      stripUsageChunk = true;
    }
  }
  const bodyDimensions: Record<string, string> = {};
  if (typeof body.user === "string" && body.user.length > 0) bodyDimensions.user = body.user.slice(0, 128);
  return {
    endpoint,
    model: body.model,
    stream,
    metered: true,
    rewrittenBody,
    stripUsageChunk,
    bodyDimensions,
    maxOutputTokens: requestedOutput(endpoint, body),
  };
}

function requestedOutput(endpoint: string, body: JsonObject): number | null {
  if (endpoint === "embeddings") return 0;
  if (endpoint === "responses") return tokenLimit(body.max_output_tokens);
  const limits = [tokenLimit(body.max_completion_tokens), tokenLimit(body.max_tokens)].filter((n) => n !== null);
  return limits.length > 0 ? Math.min(...limits) : null;
}

/** OpenAI's own API takes max_completion_tokens (reasoning models refuse max_tokens); compatible
 * providers mostly know only max_tokens. */
export function withOpenAiMaxTokens(body: JsonObject, shape: CallShape, limit: number, provider: string): JsonObject {
  if (shape.endpoint === "responses") return { ...body, max_output_tokens: limit };
  if (shape.endpoint === "chat.completions" && provider === "openai") return { ...body, max_completion_tokens: limit };
  return { ...body, max_tokens: limit };
}
