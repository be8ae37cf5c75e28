// Which OpenAI endpoint a call is, its model and stream flag; adds stream_options.include_usage
// to streamed chat/completions calls so usage is always reported (and noted for stripping).
import { AppError } from "../../../../shared/errors.ts";
import { isObject, type CallShape, type ParsedRequest } from "../types.ts";

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
  return { endpoint, model: body.model, stream, metered: true, rewrittenBody, stripUsageChunk, bodyDimensions };
}
