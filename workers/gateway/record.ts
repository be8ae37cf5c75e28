// The record of an authenticated call, and what it used turned into one metadata-only usage event,
// priced (sent after the response by admit.ts finishCall). Exactly one event per authenticated call.
import { priceCall, type PriceOverride } from "../../shared/pricing.ts";
import { NO_TOKENS, type Outcome, type TokenUsage, type UsageEvent, type UsageSource } from "../../shared/usage.ts";
import type { AdmitResult, CallFacts } from "../ledger/index.ts";

export type CallRecord = Pick<
  UsageEvent,
  "requestId" | "tenantId" | "keyId" | "provider" | "model" | "endpoint" | "stream" | "startedAt" | "dimensions"
> & { priceOverrides: readonly PriceOverride[] };

export type Measured = {
  status: number;
  outcome: Outcome;
  usage: TokenUsage | null;
  usageSource: UsageSource;
  firstByteAt: number | null;
  endedAt: number;
};

/**
 * The record of a call whose key the ledger found good, built once its admission is known: what
 * the request said (`facts`; blank when the request was malformed) and, once admitted, the
 * dimensions the key adds and the tenant's negotiated prices.
 */
export function callRecord(
  requestId: string,
  startedAt: number,
  tenantId: string,
  keyId: string,
  provider: string,
  facts: CallFacts | null,
  admission: AdmitResult,
): CallRecord {
  return {
    requestId,
    tenantId,
    keyId,
    provider,
    model: facts?.model ?? "",
    endpoint: facts?.endpoint ?? "",
    stream: facts?.stream ?? false,
    startedAt,
    dimensions: admission.ok ? admission.dimensions : (facts?.dimensions ?? {}),
    priceOverrides: admission.ok ? admission.priceOverrides : [],
  };
}

/** Estimated tokens for text of a given length: about four characters a token. */
export function estimateTokens(chars: number): number {
  return Math.ceil(chars / 4);
}

/** Tokens counted for one inline image, audio or file (base64 or data: URL): about a large image. */
export const INLINE_MEDIA_TOKENS = 1600;
const INLINE_MEDIA_MIN = 1024;
const BASE64 = /^(data:[^,]{1,100},)?[A-Za-z0-9+/=\r\n]+$/;

function inlineMedia(value: unknown, found: { count: number; chars: number }): void {
  if (typeof value === "string") {
    if (value.length >= INLINE_MEDIA_MIN && BASE64.test(value.slice(0, 4096))) {
      found.count += 1;
      found.chars += value.length;
    }
  } else if (Array.isArray(value)) {
    for (const item of value) inlineMedia(item, found);
  } else if (typeof value === "object" && value !== null) {
    for (const item of Object.values(value)) inlineMedia(item, found);
  }
}

/**
 * The prompt's size in tokens for holds and token rate limits, before the provider counts it:
 * the body's bytes / 4 (JSON syntax makes this err high), with each inline base64 blob counted
 * as INLINE_MEDIA_TOKENS instead of by its length.
 */
export function estimateInputTokens(bodyBytes: number, body: unknown): number {
  const media = { count: 0, chars: 0 };
  inlineMedia(body, media);
  return estimateTokens(bodyBytes - media.chars) + media.count * INLINE_MEDIA_TOKENS;
}

/**
 * Usage of a call whose body ended before the provider's final usage: what the provider already
 * reported is kept (input with its cached parts, output and reasoning so far); input it never
 * reported is estimated from the request size, output from the text that passed, whichever is more.
 */
export function estimateUsage(partial: TokenUsage | null, outputChars: number, inputEstimate: number): TokenUsage {
  const outputTokens = Math.max(partial?.outputTokens ?? 0, estimateTokens(outputChars));
  return {
    inputTokens: partial ? partial.inputTokens : inputEstimate,
    cachedInputTokens: partial?.cachedInputTokens ?? 0,
    cacheWriteTokens: partial?.cacheWriteTokens ?? 0,
    outputTokens,
    reasoningTokens: Math.min(partial?.reasoningTokens ?? 0, outputTokens),
  };
}

export function buildEvent(call: CallRecord, measured: Measured): UsageEvent {
  const usage = measured.usage ?? NO_TOKENS;
  const used = usage.inputTokens + usage.outputTokens > 0;
  const priced = used
    ? priceCall(call.provider, call.model, usage, call.priceOverrides, new Date(call.startedAt))
    : null;
  return {
    v: 1,
    requestId: call.requestId,
    tenantId: call.tenantId,
    keyId: call.keyId,
    provider: call.provider,
    model: call.model,
    endpoint: call.endpoint,
    stream: call.stream,
    status: measured.status,
    outcome: measured.outcome,
    usage,
    usageSource: used ? measured.usageSource : "none",
    costNanoUsd: used ? (priced?.costNanoUsd ?? null) : 0,
    price: priced?.price ?? null,
    startedAt: call.startedAt,
    firstByteMs: measured.firstByteAt === null ? null : measured.firstByteAt - call.startedAt,
    totalMs: measured.endedAt - call.startedAt,
    dimensions: call.dimensions,
  };
}

/** The event of a call Outlay answered itself (refused, or the provider not reached): nothing used. */
export function refusalEvent(call: CallRecord, status: number, outcome: Outcome): UsageEvent {
  return buildEvent(call, {
    status,
    outcome,
    usage: null,
    usageSource: "none",
    firstByteAt: null,
    endedAt: Date.now(),
  });
}
