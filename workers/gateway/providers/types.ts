// The closed provider interface. Each wire format (OpenAI, Anthropic, Gemini) is one folder with
// the same files: api.ts (URL, key placement, error shape), request.ts (what the call is),
// meter.ts (usage from JSON bodies and SSE events). OpenAI-compatible providers are configuration
// on the OpenAI adapter (compat.ts).
import { AppError } from "../../../shared/errors.ts";
import type { TokenUsage } from "../../../shared/usage.ts";

export type { WireFormat } from "../../../shared/wire-format.ts";
import type { WireFormat } from "../../../shared/wire-format.ts";

export type JsonObject = Record<string, unknown>;

/** What the gateway learned from the request, before any upstream call. */
export type CallShape = {
  endpoint: string;
  model: string;
  stream: boolean;
  /** Whether the endpoint has a JSON body that must be read (false for GET /models). */
  metered: boolean;
  /** The body to send upstream when it had to change (e.g. include_usage added). */
  rewrittenBody: JsonObject | null;
  /** The proxy added a usage chunk to the stream that the client did not ask for: drop it. */
  stripUsageChunk: boolean;
  /** Dimensions the body itself carries (the OpenAI `user` field). */
  bodyDimensions: Record<string, string>;
  /** The output-token limit the request set (0 for calls with no generated output, e.g.
   * embeddings), null when it set none. */
  maxOutputTokens: number | null;
  /** Answers the provider generates, each up to the output limit (OpenAI `n` and `best_of`,
   * Gemini `candidateCount`): all of them are held and billed. */
  outputs: number;
};

export type ParsedRequest = {
  /** path after the provider prefix, e.g. "/chat/completions" or "/v1beta/models/x:generateContent" */
  path: string;
  method: string;
  body: JsonObject | null;
};

/** Reads usage from a stream as it passes, one SSE event at a time. */
export interface StreamMeter {
  /** Returns false when the event must not be forwarded to the client. */
  onEvent(event: string | undefined, data: string): boolean;
  usage(): TokenUsage | null;
  /** Characters of generated text seen, for estimates when a stream ends without usage. */
  outputChars(): number;
  /** Usage the stream reported before it ended, if any (Anthropic message_start, Gemini's
   * running usageMetadata): the floor of an estimate when the final usage never came. */
  partialUsage(): TokenUsage | null;
  /** Whether the stream's own end marker has passed ([DONE], message_stop, a finishReason,
   * response.completed): a client leaving after that has had the whole response. */
  sawEnd(): boolean;
  /**
   * SSE text (complete events, each ending in a blank line) that ends this stream cleanly as if the
   * provider had stopped at its output limit: OpenAI chat/completions a chunk with finish_reason "length"
   * (plus a usage chunk when the client itself asked for include_usage, i.e. the proxy does not strip it)
   * then "data: [DONE]"; OpenAI Responses "response.incomplete" with incomplete_details.reason
   * "max_output_tokens"; Anthropic content_block_stop for a block still open, message_delta with
   * stop_reason "max_tokens" and usage, message_stop; Gemini a chunk with finishReason "MAX_TOKENS" and
   * usageMetadata. `usage` is what the call is charged (the gateway's estimate), reported in the final events.
   * Empty once the stream's own end marker has passed (sawEnd()): nothing is left to end.
   */
  finish(usage: TokenUsage): string;
}

export interface ProviderAdapter {
  readonly format: WireFormat;
  /** The Outlay key, from the header where this provider's SDK puts its key. */
  readKey(headers: Headers): string | null;
  errorBody(error: AppError): JsonObject;
  shape(request: ParsedRequest): CallShape | AppError;
  /** The body with an output-token limit set where this API takes it (a policy's default cap). */
  withMaxOutputTokens(body: JsonObject, shape: CallShape, limit: number, provider: string): JsonObject;
  authHeaders(credential: string): Record<string, string>;
  meterJson(endpoint: string, body: unknown): TokenUsage | null;
  streamMeter(endpoint: string, stripUsageChunk: boolean): StreamMeter;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Largest output-token limit a request may set (no model comes near it; it keeps every
 * price and hold of a call far inside safe integers). */
export const MAX_OUTPUT_TOKENS = 10_000_000;
/** Longest model id the gateway takes (documented in docs/gateway.md). */
export const MAX_MODEL_LENGTH = 256;
const MODEL = /^[\x21-\x7e]+$/;

/**
 * A request's output-token limit: null when the field is absent (or JSON null), the number when
 * it is a positive integer of at most MAX_OUTPUT_TOKENS, else an error naming the field. A limit
 * the gateway cannot read the way the provider will (a string, 1e308, 2.5, -1) is refused rather
 * than ignored, so that holds and budgets always see the limit the provider applies.
 */
export function outputLimit(value: unknown, param: string): number | null | AppError {
  if (value === undefined || value === null) return null;
  if (typeof value === "number" && Number.isInteger(value) && value > 0 && value <= MAX_OUTPUT_TOKENS) return value;
  return new AppError("bad_request", `${param} must be a whole number from 1 to ${MAX_OUTPUT_TOKENS}.`, param);
}

/** The model id from a request (body field or path segment): 1-256 printable ASCII characters. */
export function checkModel(value: unknown, missing: string): string | AppError {
  if (typeof value !== "string" || value.length === 0) return new AppError("missing_model", missing, "model");
  if (value.length > MAX_MODEL_LENGTH || !MODEL.test(value)) {
    return new AppError(
      "bad_request",
      `model must be 1-${MAX_MODEL_LENGTH} printable ASCII characters without spaces.`,
      "model",
    );
  }
  return value;
}

/** Most answers one call may ask for (OpenAI's own ceiling for `n`). */
export const MAX_OUTPUTS = 128;

/** How many answers a request field asks for: absent (or null) is 1; else a whole number from 1
 * to MAX_OUTPUTS, or an error naming the field. */
export function answerCount(value: unknown, param: string): number | AppError {
  if (value === undefined || value === null) return 1;
  if (typeof value === "number" && Number.isInteger(value) && value >= 1 && value <= MAX_OUTPUTS) return value;
  return new AppError("bad_request", `${param} must be a whole number from 1 to ${MAX_OUTPUTS}.`, param);
}

/** A boolean request field (stream): absent is false; anything but true, false or null is refused. */
export function flag(value: unknown, param: string): boolean | AppError {
  if (value === undefined || value === null || typeof value === "boolean") return value === true;
  return new AppError("bad_request", `${param} must be true or false.`, param);
}

export function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
