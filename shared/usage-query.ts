// The shape of a question about usage and of its answer, whichever table answers it (the store's
// rollups, or raw events for the API): groups (provider, model, key, day, hour, one dimension),
// filters, and sums with cost exact as bigint nano-USD. Also which questions the rollups can
// answer: a rollup row holds one dimension, so one dimension at a time (grouped, filtered, or
// both the same name) is answerable; two are not.
import { DIMENSION_NAME } from "./dimensions.ts";

export type UsageGroup = { kind: "provider" | "model" | "key" | "day" | "hour" } | { kind: "dimension"; dim: string };

export type UsageFilters = {
  providers?: readonly string[];
  models?: readonly string[];
  keys?: readonly string[];
  /** calls that carry this dimension; with values, only calls with one of them */
  dimension?: { name: string; values?: readonly string[] };
};

export type UsageQuery = {
  /** rollup hours h with from <= h < to (UTC epoch ms) */
  from: number;
  to: number;
  groups: readonly UsageGroup[];
  filters?: UsageFilters;
  /** the zone of `day` groups (default UTC); `hour` groups are UTC hour starts either way */
  timeZone?: string;
  /** "cost": highest cost first; "time": day/hour groups ascending, then highest cost */
  order?: "cost" | "time";
  limit?: number;
  /** only groups with unpriced requests */
  unpricedOnly?: boolean;
};

export type UsageSums = {
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costNano: bigint;
  unpricedRequests: number;
};

/** One group's sums; `values[i]` is group i's value: a string, a local day (the date's midnight
 * as UTC epoch ms), an hour (UTC epoch ms), or null for calls without the grouped dimension. */
export type UsageRow = UsageSums & { values: (string | number | null)[] };

export const GROUP_KINDS = ["provider", "model", "key", "day", "hour"] as const;

export function groupName(g: UsageGroup): string {
  return g.kind === "dimension" ? `dimension:${g.dim}` : g.kind;
}

/** "model" or "dimension:team" → the group, or null when the text names none. */
export function parseGroupName(text: string): UsageGroup | null {
  const name = text.trim();
  for (const kind of GROUP_KINDS) if (name === kind) return { kind };
  if (name.startsWith("dimension:") && DIMENSION_NAME.test(name.slice(10))) {
    return { kind: "dimension", dim: name.slice(10) };
  }
  return null;
}

export function isTimeGroup(g: UsageGroup): boolean {
  return g.kind === "day" || g.kind === "hour";
}

/** Why the rollups cannot answer these groups and filters, or null when they can. */
export function rollupProblem(groups: readonly UsageGroup[], filters: UsageFilters = {}): string | null {
  const dims = new Set(groups.flatMap((g) => (g.kind === "dimension" ? [g.dim] : [])));
  if (filters.dimension) dims.add(filters.dimension.name);
  if (dims.size > 1) return "The usage rollups hold one dimension at a time: group and filter by the same one.";
  return null;
}

export function emptySums(): UsageSums {
  return {
    requests: 0,
    inputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    costNano: 0n,
    unpricedRequests: 0,
  };
}

export function addSums(into: UsageSums, s: UsageSums): UsageSums {
  into.requests += s.requests;
  into.inputTokens += s.inputTokens;
  into.cachedInputTokens += s.cachedInputTokens;
  into.cacheWriteTokens += s.cacheWriteTokens;
  into.outputTokens += s.outputTokens;
  into.reasoningTokens += s.reasoningTokens;
  into.costNano += s.costNano;
  into.unpricedRequests += s.unpricedRequests;
  return into;
}
