// The admission decision for one call, in order: dimensions (the key's bound ones cannot be
// changed), policies, rate limits, budgets. Pure over what the ledger holds: it reads the books
// and returns what to take; the ledger applies it in one transaction.
//
// The hold is the worst case: prompt estimate x input price + output limit x output price. The
// output limit is the request's, else the one a policy adds, else DEFAULT_OUTPUT_HOLD_TOKENS.
import { formatUsd } from "../../shared/money.ts";
import { priceCall, type PriceOverride } from "../../shared/pricing.ts";
import { windowKey } from "../../shared/windows.ts";
import { MAX_DIMENSIONS } from "../gateway/dimensions.ts";
import { budgetCovers, type Budget, type BudgetBook } from "./budgets.ts";
import { checkPolicies } from "./policies.ts";
import type { RateLimiter } from "./rate-limits.ts";
import type { BudgetHeadroom, CallFacts, Refused, RuleRecord } from "./types.ts";

/** Output tokens held for a call that sets no output limit and has no policy to add one. */
export const DEFAULT_OUTPUT_HOLD_TOKENS = 4096;

export type Books = {
  budgets: readonly Budget[];
  policies: readonly RuleRecord<"policy">[];
  rateLimits: readonly RuleRecord<"rate_limit">[];
  book: BudgetBook;
  limiter: RateLimiter;
  timeZone: string;
  priceOverrides: readonly PriceOverride[];
};

export type Take = {
  dimensions: Record<string, string>;
  injectMaxOutputTokens: number | null;
  amount: bigint;
  tokens: number;
  /** budgets the call counts against, with the window key its spend is booked under */
  budgets: { budget: Budget; key: number }[];
  limits: RuleRecord<"rate_limit">[];
  headroom: BudgetHeadroom[];
};

export function bindDimensions(
  requested: Record<string, string>,
  bound: Record<string, string>,
): { ok: true; dimensions: Record<string, string> } | Refused {
  for (const [name, value] of Object.entries(bound)) {
    if (requested[name] !== undefined && requested[name] !== value) {
      return {
        ok: false,
        code: "invalid_dimension",
        message: `Dimension "${name}" is bound to this key and cannot be changed per request.`,
      };
    }
  }
  const dimensions = { ...requested, ...bound };
  if (Object.keys(dimensions).length > MAX_DIMENSIONS) {
    return { ok: false, code: "invalid_dimension", message: `A call may carry at most ${MAX_DIMENSIONS} dimensions.` };
  }
  return { ok: true, dimensions };
}

export function decide(
  books: Books,
  key: { id: string; dimensions: Record<string, string> },
  provider: string,
  call: CallFacts,
  now: number,
): Take | Refused {
  const bound = bindDimensions(call.dimensions, key.dimensions);
  if (!bound.ok) return bound;
  const dims = bound.dimensions;

  const policies = books.policies.filter((p) => p.spec.keyId === null || p.spec.keyId === key.id);
  const verdict = checkPolicies(policies, provider, call, dims);
  if (!verdict.ok) return verdict;

  const outputLimit = call.maxOutputTokens ?? verdict.injectMaxOutputTokens ?? DEFAULT_OUTPUT_HOLD_TOKENS;
  const tokens = call.metered ? call.inputTokens + outputLimit : 0;
  const limits = books.rateLimits.filter((l) => l.spec.keyId === null || l.spec.keyId === key.id);
  const rate = books.limiter.check(limits, tokens, now);
  if (!rate.ok) {
    return {
      ok: false,
      code: "rate_limited",
      ruleId: rate.limit.id,
      retryAfterSeconds: rate.retryAfterSeconds,
      message: `Rate limit "${rate.limit.spec.name}" reached: ${rate.message}. Retry after ${rate.retryAfterSeconds} s.`,
    };
  }

  const attribution = { keyId: key.id, provider, model: call.model, dimensions: dims };
  const covering = call.metered ? books.budgets.filter((b) => budgetCovers(b, attribution)) : [];
  let amount = 0n;
  if (covering.length > 0) {
    const usage = {
      inputTokens: call.inputTokens,
      cachedInputTokens: 0,
      cacheWriteTokens: 0,
      outputTokens: outputLimit,
      reasoningTokens: 0,
    };
    const priced = priceCall(provider, call.model, usage, books.priceOverrides, new Date(now));
    const blocking = covering.find((b) => b.spec.mode === "block");
    if (!priced && blocking) {
      return {
        ok: false,
        code: "policy_denied",
        ruleId: blocking.id,
        message: `Model "${call.model}" has no known price, so budget "${blocking.spec.name}" cannot be enforced; add a price override for it.`,
      };
    }
    amount = BigInt(priced?.costNanoUsd ?? 0);
  }

  const headroom: BudgetHeadroom[] = [];
  for (const budget of covering) {
    const remaining =
      BigInt(budget.spec.limitNano) - books.book.spent(budget, books.timeZone, now) - books.book.held(budget.id);
    if (budget.spec.mode === "block" && amount > remaining) {
      return {
        ok: false,
        code: "budget_exceeded",
        ruleId: budget.id,
        message: `Budget "${budget.spec.name}" has ${formatUsd(remaining > 0n ? remaining : 0n)} USD left; this call may cost up to ${formatUsd(amount)} USD.`,
      };
    }
    headroom.push({ id: budget.id, remainingNano: remaining - amount });
  }

  return {
    dimensions: dims,
    injectMaxOutputTokens: call.maxOutputTokens === null ? verdict.injectMaxOutputTokens : null,
    amount,
    tokens,
    budgets: covering.map((budget) => ({ budget, key: windowKey(budget.spec.window, books.timeZone, now) })),
    limits,
    headroom,
  };
}
