// Gemini calls: /v1beta/models/{model}:generateContent, :streamGenerateContent (SSE with
// alt=sse), :countTokens, :embedContent; also GET /v1beta/models for listing.
import { AppError } from "../../../../shared/errors.ts";
import {
  answerCount,
  checkModel,
  isObject,
  outputLimit,
  type CallShape,
  type JsonObject,
  type ParsedRequest,
} from "../types.ts";

const PATH = /^\/(v1|v1beta|v1alpha)\/models\/([^/:]+):([A-Za-z]+)$/;
const LIST = /^\/(v1|v1beta|v1alpha)\/models(?:\/([^/:]+))?$/;

const METHODS: Record<string, { endpoint: string; stream: boolean; metered: boolean }> = {
  generateContent: { endpoint: "generateContent", stream: false, metered: true },
  streamGenerateContent: { endpoint: "streamGenerateContent", stream: true, metered: true },
  countTokens: { endpoint: "countTokens", stream: false, metered: false },
  embedContent: { endpoint: "embedContent", stream: false, metered: true },
};

export function shapeGoogle(request: ParsedRequest): CallShape | AppError {
  const listing = LIST.exec(request.path);
  if (request.method === "GET" && listing) {
    const model = listing[2] ? checkModel(listing[2], "The model is missing from the path.") : "";
    if (model instanceof AppError) return model;
    return {
      endpoint: "models",
      model,
      stream: false,
      metered: false,
      rewrittenBody: null,
      stripUsageChunk: false,
      bodyDimensions: {},
      maxOutputTokens: 0,
      outputs: 1,
    };
  }
  const match = PATH.exec(request.path);
  const method = match?.[3] ? METHODS[match[3]] : undefined;
  if (request.method !== "POST" || !match || !method) {
    return new AppError("unknown_route", `Outlay does not proxy ${request.method} ${request.path.slice(0, 200)}.`);
  }
  if (!request.body) return new AppError("invalid_json", "The request body must be a JSON object.");
  // The path was checked segment by segment (path.ts): the model here is the one in the URL sent.
  const model = checkModel(match[2], "The model is missing from the path.");
  if (model instanceof AppError) return model;
  const given = request.body.generationConfig;
  if (given !== undefined && given !== null && !isObject(given)) {
    return new AppError("bad_request", "generationConfig must be an object.", "generationConfig");
  }
  const config = isObject(given) ? given : {};
  const maxOutputTokens =
    method.endpoint === "embedContent" ? 0 : outputLimit(config.maxOutputTokens, "generationConfig.maxOutputTokens");
  if (maxOutputTokens instanceof AppError) return maxOutputTokens;
  const outputs =
    method.endpoint === "embedContent" ? 1 : answerCount(config.candidateCount, "generationConfig.candidateCount");
  if (outputs instanceof AppError) return outputs;
  return {
    ...method,
    model,
    rewrittenBody: null,
    stripUsageChunk: false,
    bodyDimensions: {},
    maxOutputTokens,
    outputs,
  };
}

/** The smallest thinkingBudget every Gemini thinking model takes (2.5 Pro: 128-32768). */
const MIN_THINKING_BUDGET = 128;

/**
 * The body with generationConfig.maxOutputTokens at most `limit` (on thinking models it counts
 * the thoughts too). A positive thinkingBudget at or above it is lowered to leave one token of
 * answer, unless that would go under the smallest budget a model takes (a 400): then it stays,
 * and maxOutputTokens alone bounds the call. A dynamic (-1) or zero budget is left alone.
 */
export function withGoogleMaxTokens(body: JsonObject, _shape: CallShape, limit: number): JsonObject {
  const config = isObject(body.generationConfig) ? body.generationConfig : {};
  const given = config.maxOutputTokens;
  const max = typeof given === "number" && Number.isInteger(given) && given > 0 && given < limit ? given : limit;
  const generationConfig: JsonObject = { ...config, maxOutputTokens: max };
  const thinking = isObject(config.thinkingConfig) ? config.thinkingConfig : null;
  const budget = thinking?.thinkingBudget;
  if (thinking && typeof budget === "number" && budget > 0 && budget >= max && max - 1 >= MIN_THINKING_BUDGET) {
    generationConfig.thinkingConfig = { ...thinking, thinkingBudget: max - 1 };
  }
  return { ...body, generationConfig };
}
