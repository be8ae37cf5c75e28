// The metadata-only usage event: what every proxied call leaves behind. No prompt, response,
// key or credential ever goes in here.
import { itemsOfMessage } from "./queue-limits.ts";

/** Token counts by kind. `inputTokens` is the whole prompt (cached and cache-write included);
 * `outputTokens` is the whole completion (reasoning included). The kinds beside them are parts. */
export type TokenUsage = {
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
};

export const NO_TOKENS: TokenUsage = {
  inputTokens: 0,
  cachedInputTokens: 0,
  cacheWriteTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
};

/** provider: read from the provider's own usage fields; estimated: the response ended before
 * the provider reported usage and the missing counts were estimated; none: nothing was used. */
export type UsageSource = "provider" | "estimated" | "none";

export type Outcome =
  | "ok"
  | "upstream_error"
  | "upstream_cut"
  | "upstream_unreachable"
  | "client_abort"
  | "bad_request"
  /** refused by a budget, policy or rate limit: never sent upstream */
  | "refused"
  /** a stream Outlay ended early because a blocking budget ran out */
  | "budget_cut";

export type PriceRecord = {
  source: "catalog" | "override";
  ref: string;
  /** USD per million tokens, decimal strings, as used for this event. */
  input: string;
  cachedInput: string;
  cacheWrite: string;
  output: string;
};

export type UsageEvent = {
  v: 1;
  requestId: string;
  tenantId: string;
  keyId: string;
  provider: string;
  model: string;
  endpoint: string;
  stream: boolean;
  status: number;
  outcome: Outcome;
  usage: TokenUsage;
  usageSource: UsageSource;
  /** null when the model is unpriced. */
  costNanoUsd: number | null;
  price: PriceRecord | null;
  startedAt: number;
  firstByteMs: number | null;
  totalMs: number;
  dimensions: Record<string, string>;
};

/** Several usage events of one organisation in one queue message (the gateway packs them). */
export type UsagePack = { v: 1; pack: "usage"; tenantId: string; events: UsageEvent[] };

function isUsageEvent(body: unknown): body is UsageEvent {
  if (typeof body !== "object" || body === null) return false;
  const e = body as Partial<UsageEvent>;
  return e.v === 1 && typeof e.tenantId === "string" && typeof e.requestId === "string" && typeof e.usage === "object";
}

/** The events a usage queue message carries (one event, or a pack of one organisation's); null for anything else. */
export function usageEventsOf(body: unknown): UsageEvent[] | null {
  return itemsOfMessage(body, "usage", isUsageEvent);
}
