// Gemini calls: /v1beta/models/{model}:generateContent, :streamGenerateContent (SSE with
// alt=sse), :countTokens, :embedContent; also GET /v1beta/models for listing.
import { AppError } from "../../../../shared/errors.ts";
import { isObject, tokenLimit, type CallShape, type JsonObject, type ParsedRequest } from "../types.ts";

const PATH = /^\/(v1|v1beta|v1alpha)\/models\/([^/:]+):([A-Za-z]+)$/;

const METHODS: Record<string, { endpoint: string; stream: boolean; metered: boolean }> = {
  generateContent: { endpoint: "generateContent", stream: false, metered: true },
  streamGenerateContent: { endpoint: "streamGenerateContent", stream: true, metered: true },
  countTokens: { endpoint: "countTokens", stream: false, metered: false },
  embedContent: { endpoint: "embedContent", stream: false, metered: true },
};

export function shapeGoogle(request: ParsedRequest): CallShape | AppError {
  if (request.method === "GET" && /^\/(v1|v1beta|v1alpha)\/models(\/[^/:]+)?$/.test(request.path)) {
    return {
      endpoint: "models",
      model: request.path.split("/")[3] ?? "",
      stream: false,
      metered: false,
      rewrittenBody: null,
      stripUsageChunk: false,
      bodyDimensions: {},
      maxOutputTokens: 0,
    };
  }
  const match = PATH.exec(request.path);
  const method = match?.[3] ? METHODS[match[3]] : undefined;
  if (request.method !== "POST" || !match || !method) {
    return new AppError("unknown_route", `Outlay does not proxy ${request.method} ${request.path}.`);
  }
  if (!request.body) return new AppError("invalid_json", "The request body must be a JSON object.");
  const model = decodeURIComponent(match[2] ?? "");
  if (!model) return new AppError("missing_model", "The model is missing from the path.", "model");
  const config = isObject(request.body.generationConfig) ? request.body.generationConfig : {};
  const maxOutputTokens = method.endpoint === "embedContent" ? 0 : tokenLimit(config.maxOutputTokens);
  return { ...method, model, rewrittenBody: null, stripUsageChunk: false, bodyDimensions: {}, maxOutputTokens };
}

export function withGoogleMaxTokens(body: JsonObject, _shape: CallShape, limit: number): JsonObject {
  const config = isObject(body.generationConfig) ? body.generationConfig : {};
  return { ...body, generationConfig: { ...config, maxOutputTokens: limit } };
}
