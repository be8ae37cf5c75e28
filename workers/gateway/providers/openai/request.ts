// Which OpenAI endpoint a call is, its model and stream flag; adds stream_options.include_usage
// to streamed chat/completions calls so usage is always reported (and noted for stripping).
import { AppError } from "../../../../shared/errors.ts";
import { checkDimension } from "../../../../shared/dimensions.ts";
import {
  answerCount,
  checkModel,
  flag,
  isObject,
  outputLimit,
  type CallShape,
  type JsonObject,
  type ParsedRequest,
} from "../types.ts";

const METERED: Record<string, string> = {
  "/chat/completions": "chat.completions",
  "/completions": "completions",
  "/responses": "responses",
  "/embeddings": "embeddings",
};

const USAGE_STREAMS = new Set(["chat.completions", "completions"]);

export function shapeOpenAi(request: ParsedRequest): CallShape | AppError {
  if (request.method === "GET" && (request.path === "/models" || request.path.startsWith("/models/"))) {
    const model = request.path.slice("/models/".length);
    const checked = model ? checkModel(model, "The model is missing from the path.") : model;
    if (checked instanceof AppError) return checked;
    return {
      endpoint: "models",
      model: checked,
      stream: false,
      metered: false,
      rewrittenBody: null,
      stripUsageChunk: false,
      bodyDimensions: {},
      maxOutputTokens: 0,
      outputs: 1,
    };
  }
  const endpoint = request.method === "POST" ? METERED[request.path] : undefined;
  if (!endpoint) {
    return new AppError("unknown_route", `Outlay does not proxy ${request.method} ${request.path}.`);
  }
  const body = request.body;
  if (!body) return new AppError("invalid_json", "The request body must be a JSON object.");
  const model = checkModel(body.model, "you must provide a model parameter");
  if (model instanceof AppError) return model;
  const stream = flag(body.stream, "stream");
  if (stream instanceof AppError) return stream;
  const maxOutputTokens = requestedOutput(endpoint, body);
  if (maxOutputTokens instanceof AppError) return maxOutputTokens;
  const bodyDimensions = userDimension(body.user);
  if (bodyDimensions instanceof AppError) return bodyDimensions;
  const outputs = requestedAnswers(endpoint, body);
  if (outputs instanceof AppError) return outputs;
  let rewrittenBody = null;
  let stripUsageChunk = false;
  if (stream && USAGE_STREAMS.has(endpoint)) {
    const options = isObject(body.stream_options) ? body.stream_options : {};
    if (options.include_usage !== true) {
      rewrittenBody = { ...body, stream_options: { ...options, include_usage: true } };
      stripUsageChunk = true;
    }
  }
  return {
    endpoint,
    model,
    stream,
    metered: true,
    rewrittenBody,
    stripUsageChunk,
    bodyDimensions,
    maxOutputTokens,
    outputs,
  };
}

/** The `user` field becomes the `user` dimension, under the same rules as every dimension. */
function userDimension(user: unknown): Record<string, string> | AppError {
  if (user === undefined || user === null || user === "") return {};
  if (typeof user !== "string") return new AppError("bad_request", "user must be a string.", "user");
  const problem = checkDimension("user", user);
  if (problem) return new AppError(problem.code, `user: ${problem.message}`, "user");
  return { user };
}

/** Chat and legacy completions generate `n` answers; legacy completions generate `best_of`
 * server-side and return the best `n`, billing all of them. */
function requestedAnswers(endpoint: string, body: JsonObject): number | AppError {
  if (endpoint !== "chat.completions" && endpoint !== "completions") return 1;
  const n = answerCount(body.n, "n");
  if (n instanceof AppError || endpoint === "chat.completions") return n;
  const bestOf = answerCount(body.best_of, "best_of");
  return bestOf instanceof AppError ? bestOf : Math.max(n, bestOf);
}

function requestedOutput(endpoint: string, body: JsonObject): number | null | AppError {
  if (endpoint === "embeddings") return 0;
  if (endpoint === "responses") return outputLimit(body.max_output_tokens, "max_output_tokens");
  const completion = outputLimit(body.max_completion_tokens, "max_completion_tokens");
  if (completion instanceof AppError) return completion;
  const legacy = outputLimit(body.max_tokens, "max_tokens");
  if (legacy instanceof AppError) return legacy;
  const limits = [completion, legacy].filter((n) => n !== null);
  return limits.length > 0 ? Math.min(...limits) : null;
}

/**
 * The body with its output limit at most `limit` (a policy's default, or what a blocking budget
 * holds or has left). Every limit field the body carries is lowered, so the provider finds no
 * larger one whichever it reads; a body with none gets the one this API reads: OpenAI's own
 * chat/completions max_completion_tokens (it counts reasoning tokens, and reasoning models refuse
 * max_tokens), compatible providers and legacy completions max_tokens, Responses
 * max_output_tokens. A field the body already chose is kept (OpenAI refuses both at once).
 */
export function withOpenAiMaxTokens(body: JsonObject, shape: CallShape, limit: number, provider: string): JsonObject {
  if (shape.endpoint === "responses") return { ...body, max_output_tokens: lowered(body.max_output_tokens, limit) };
  const fields = ["max_completion_tokens", "max_tokens"].filter((f) => body[f] !== undefined && body[f] !== null);
  if (fields.length === 0) {
    fields.push(
      shape.endpoint === "chat.completions" && provider === "openai" ? "max_completion_tokens" : "max_tokens",
    );
  }
  const out = { ...body };
  for (const field of fields) out[field] = lowered(body[field], limit);
  return out;
}

/** A request's own limit when it is already a whole number under `limit`, else `limit`. */
function lowered(value: unknown, limit: number): number {
  return typeof value === "number" && Number.isInteger(value) && value > 0 && value < limit ? value : limit;
}
