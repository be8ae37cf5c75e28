// The metadata-only usage event: what every proxied call leaves behind. No prompt, response,
// key or credential ever goes in here.
import { createHash } from "node:crypto";
import { z } from "zod";
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

/**
 * Several usage events of one organisation in one queue message (the gateway packs them). A pack
 * is stored once, by its id (`packId`): a pack sent again, by the queue or by the ledger that took
 * it over, is the same pack. `id` and `part` are set only on the event the usage consumer sends
 * back alone from a pack it could not store whole: the event at index `part` of pack `id`.
 */
export type UsagePack = { v: 1; pack: "usage"; tenantId: string; events: UsageEvent[]; id?: string; part?: number };

/** A usage queue message: a pack, or one event alone. */
export type UsageMessage = UsageEvent | UsagePack;

function isUsageEvent(body: unknown): body is UsageEvent {
  if (typeof body !== "object" || body === null) return false;
  const e = body as Partial<UsageEvent>;
  return e.v === 1 && typeof e.tenantId === "string" && typeof e.requestId === "string" && typeof e.usage === "object";
}

/** The events a usage queue message carries (one event, or a pack of one organisation's); null for anything else. */
export function usageEventsOf(body: unknown): UsageEvent[] | null {
  return itemsOfMessage(body, "usage", isUsageEvent);
}

/** A usage event as the consumer stores it: with the pack it came in and its place there. */
export type PackedUsage = {
  tenantId: string;
  event: UsageEvent;
  packId: string;
  /** the event's index in its pack */
  index: number;
  /** how many events the pack has */
  count: number;
  /** sent back alone (`part`): stored as that one event of its pack, never with the rest */
  alone: boolean;
};

const PACK_ID = /^[A-Za-z0-9_:.-]{1,80}$/;
const MAX_PART = 100_000;

/** The id a pack is stored by: its own when it came back alone, else made from its request ids,
 * so that the same events packed the same way are the same pack wherever they were sent from. A
 * lone event's pack is its request id. */
export function packIdOf(events: readonly UsageEvent[]): string {
  const [only] = events;
  if (only && events.length === 1) return only.requestId;
  const hash = createHash("sha256");
  for (const e of events) hash.update(`${e.requestId}\n`);
  return `p:${hash.digest("base64url").slice(0, 22)}`;
}

/** The events of a usage queue message with their pack; null for anything else. */
export function packedUsageOf(body: unknown): PackedUsage[] | null {
  const events = usageEventsOf(body);
  if (!events) return null;
  const { id, part } = body as { id?: unknown; part?: unknown };
  if (id === undefined && part === undefined) {
    const packId = packIdOf(events);
    return events.map((event, index) => ({
      tenantId: event.tenantId,
      event,
      packId,
      index,
      count: events.length,
      alone: false,
    }));
  }
  const [event] = events;
  const valid =
    typeof id === "string" &&
    PACK_ID.test(id) &&
    Number.isInteger(part) &&
    (part as number) >= 0 &&
    (part as number) < MAX_PART;
  if (!valid || !event || events.length !== 1) return null;
  return [{ tenantId: event.tenantId, event, packId: id, index: part as number, count: 1, alone: true }];
}

const count = z.number().int().nonnegative();
const PriceSchema = z.object({
  source: z.enum(["catalog", "override"]),
  ref: z.string(),
  input: z.string(),
  cachedInput: z.string(),
  cacheWrite: z.string(),
  output: z.string(),
});

/** A usage event as the consumer stores it: every field of its type (a message that passed
 * usageEventsOf's look at its shape can still carry a field of the wrong type). */
export const UsageEventSchema = z.object({
  v: z.literal(1),
  requestId: z.string().min(1),
  tenantId: z.string().min(1),
  keyId: z.string(),
  provider: z.string(),
  model: z.string(),
  endpoint: z.string(),
  stream: z.boolean(),
  status: z.number().int(),
  outcome: z.enum([
    "ok",
    "upstream_error",
    "upstream_cut",
    "upstream_unreachable",
    "client_abort",
    "bad_request",
    "refused",
    "budget_cut",
  ]),
  usage: z.object({
    inputTokens: count,
    cachedInputTokens: count,
    cacheWriteTokens: count,
    outputTokens: count,
    reasoningTokens: count,
  }),
  usageSource: z.enum(["provider", "estimated", "none"]),
  costNanoUsd: z.number().int().safe().nullable(),
  price: PriceSchema.nullable(),
  startedAt: z.number().int().nonnegative().safe(),
  firstByteMs: count.nullable(),
  totalMs: count,
  dimensions: z.record(z.string(), z.string()),
}) satisfies z.ZodType<UsageEvent>;
