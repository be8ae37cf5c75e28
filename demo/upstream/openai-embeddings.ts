// OpenAI Embeddings (float and base64 encodings) and Models.

import { openaiEmbeddingTexts } from "./input-text.ts";
import { openExchange, positiveInt, scenarioFailure, type UpstreamContext } from "./respond.ts";
import { readControls, splitModel } from "./scenario.ts";
import { inputTokensFromTexts } from "./tokens.ts";
import { openaiProfile, openaiRequest } from "./openai.ts";

const DEFAULT_DIMENSIONS: Record<string, number> = {
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "text-embedding-ada-002": 1536,
};

/** Deterministic unit vector for a text (FNV-1a seed, mulberry32 values), float32-rounded. */
export function embeddingVector(seedText: string, dimensions: number): Float32Array {
  let seed = 0x811c9dc5;
  for (let i = 0; i < seedText.length; i++) seed = Math.imul(seed ^ seedText.charCodeAt(i), 0x01000193) >>> 0;
  const values = new Float32Array(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const value = ((t ^ (t >>> 14)) >>> 0) / 4294967296 - 0.5;
    values[i] = value;
    norm += value * value;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) values[i] = (values[i] ?? 0) * scale;
  return values;
}

/** Little-endian float32 bytes, base64 encoded (what `encoding_format: "base64"` returns). */
export function encodeFloat32Base64(values: Float32Array): string {
  const view = new DataView(new ArrayBuffer(values.length * 4));
  values.forEach((value, i) => view.setFloat32(i * 4, value, true));
  const bytes = new Uint8Array(view.buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function isTokenArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.length > 0 && value.every((n) => typeof n === "number");
}

function isEmbeddingItem(value: unknown): value is string | number[] {
  return (typeof value === "string" && value !== "") || isTokenArray(value);
}

/** Prompt tokens of an embeddings input: strings by the input rule, token arrays by length. */
export function embeddingPromptTokens(items: ReadonlyArray<string | number[]>): number {
  const texts = openaiEmbeddingTexts(items);
  const arrayTokens = items.reduce((sum, item) => sum + (typeof item === "string" ? 0 : item.length), 0);
  return (texts.length > 0 ? inputTokensFromTexts(texts) : 0) + arrayTokens;
}

export async function embeddings(ctx: UpstreamContext, request: Request): Promise<Response> {
  const { exchange, denied } = await openExchange(ctx, request, openaiProfile);
  if (denied !== null) return denied;
  const parsed = await openaiRequest(exchange, request);
  if (parsed instanceof Response) return parsed;
  const { body, model, controls } = parsed;
  const input = body.input;
  const raw: unknown[] = typeof input === "string" || isTokenArray(input) ? [input] : Array.isArray(input) ? input : [];
  const items = raw.filter(isEmbeddingItem);
  if (raw.length === 0 || items.length !== raw.length) {
    return exchange.fail(
      "invalid_request",
      "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
    );
  }
  const format = body.encoding_format ?? "float";
  if (format !== "float" && format !== "base64") {
    return exchange.fail("invalid_request", "Invalid value for 'encoding_format': expected 'float' or 'base64'.");
  }
  const dimensions = positiveInt(body, "dimensions");
  if (dimensions === null)
    return exchange.fail("invalid_request", "Invalid 'dimensions': expected a positive integer.");
  const failure = scenarioFailure(exchange, controls);
  if (failure !== null) return failure;

  const size = dimensions ?? DEFAULT_DIMENSIONS[model] ?? 1536;
  const data = items.map((item, index) => {
    const vector = embeddingVector(typeof item === "string" ? item : item.join(","), size);
    return {
      object: "embedding",
      index,
      embedding: format === "base64" ? encodeFloat32Base64(vector) : Array.from(vector),
    };
  });
  const promptTokens = embeddingPromptTokens(items);
  const usage = { prompt_tokens: promptTokens, total_tokens: promptTokens };
  return exchange.json({ object: "list", data, model, usage }, { controls, usage, pieces: data.length });
}

export const DEMO_OPENAI_MODELS: readonly string[] = [
  "gpt-4o-mini",
  "gpt-4o",
  "gpt-4.1-mini",
  "gpt-5-mini",
  "o4-mini",
  "text-embedding-3-small",
  "text-embedding-3-large",
];

function modelObject(id: string): object {
  return { id, object: "model", created: 1_700_000_000, owned_by: "outlay-demo" };
}

/** GET /models (id undefined) and GET /models/{id}; every id is "available" in the demo. */
export async function models(ctx: UpstreamContext, request: Request, id: string | undefined): Promise<Response> {
  const { exchange, denied } = await openExchange(ctx, request, openaiProfile);
  if (denied !== null) return denied;
  const controls = readControls(request.headers, null);
  exchange.record.scenario = controls.scenario;
  exchange.record.model = id === undefined ? null : splitModel(id).model;
  const failure = scenarioFailure(exchange, controls);
  if (failure !== null) return failure;
  const body =
    id === undefined
      ? { object: "list", data: DEMO_OPENAI_MODELS.map(modelObject) }
      : modelObject(splitModel(id).model);
  return exchange.json(body, { controls, usage: null, pieces: 0 });
}
