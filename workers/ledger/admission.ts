// The admission decision for one call, in order: dimensions (the key's bound ones cannot be
// changed), policies, rate limits, budgets. Pure over what the ledger holds: it reads the books
// and returns what to take; the ledger applies it in one transaction.
//
// The hold is the worst case: prompt estimate x input price + output limit x output price. The
// output limit is the request's, else the one a policy adds, else DEFAULT_OUTPUT_HOLD_TOKENS.
// Under a blocking budget the provider is told that limit (`injectMaxOutputTokens`), lowered to
// what the budget has left when a stream starts on the remainder: the provider then stops with
// the tokens it does not stream (reasoning, thinking) counted, and the hold is a real bound.
import { formatUsd, parseDecimal } from "../../shared/money.ts";
import { priceCall, type PriceOverride } from "../../shared/pricing.ts";
import { NO_TOKENS } from "../../shared/usage.ts";
import { MAX_DIMENSIONS } from "../../shared/dimensions.ts";
import { budgetCovers, type Budget } from "./budgets.ts";
import { checkPolicies } from "./policies.ts";
import type { RateVerdict } from "./rate-limits.ts";
import type { BudgetHeadroom, CallFacts, Refused, RuleRecord, StreamCredit } from "./types.ts";

/** Output tokens held for a call that sets no output limit and has no policy to add one. */
export const DEFAULT_OUTPUT_HOLD_TOKENS = 4096;
/** A stream admitted on what is left of a budget must at least afford this much output. */
export const MIN_STREAM_OUTPUT_TOKENS = 16;

/** What a budget has spent and holds: the ledger's books, or a gateway isolate's lease. */
export type SpendView = {
  spent(budget: Budget, timeZone: string, at: number): bigint;
  held(budgetId: string): bigint;
  /** the window key a spend at `at` is booked under */
  keyAt(budget: Budget, timeZone: string, at: number): number;
};

/** Whether rate limits have room: the ledger's buckets, or a lease's share of them. */
export type RateView = {
  check(limits: readonly RuleRecord<"rate_limit">[], tokens: number, now: number): RateVerdict;
};

export type Books = {
  budgets: readonly Budget[];
  policies: readonly RuleRecord<"policy">[];
  rateLimits: readonly RuleRecord<"rate_limit">[];
  book: SpendView;
  limiter: RateView;
  timeZone: string;
  priceOverrides: readonly PriceOverride[];
};

export type Take = {
  dimensions: Record<string, string>;
  /** the output limit the provider must be sent (set, or lowered to it), null to leave the body */
  injectMaxOutputTokens: number | null;
  amount: bigint;
  tokens: number;
  /** budgets the call counts against, with the window key its spend is booked under */
  budgets: { budget: Budget; key: number }[];
  limits: RuleRecord<"rate_limit">[];
  headroom: BudgetHeadroom[];
  /** set for a stream the gateway must draw down as it runs (see StreamCredit) */
  credit: StreamCredit | null;
  failOpen: boolean;
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
  // Token counts arrive over RPC: anything not a whole, safe count is refused here, never turned
  // into a BigInt that throws (1e308 has no price, and the gateway would answer 503).
  const outputs = call.outputs ?? 1;
  if (
    !isTokenCount(call.inputTokens) ||
    (call.maxOutputTokens !== null && !isTokenCount(call.maxOutputTokens)) ||
    !isTokenCount(outputs) ||
    outputs < 1 ||
    !isTokenCount(outputs * (call.maxOutputTokens ?? DEFAULT_OUTPUT_HOLD_TOKENS))
  ) {
    return {
      ok: false,
      code: "bad_request",
      message: `Token counts (prompt estimate, output limit) must be whole numbers from 0 to ${Number.MAX_SAFE_INTEGER}.`,
    };
  }
  const dims = bound.dimensions;

  const policies = books.policies.filter((p) => p.spec.keyId === null || p.spec.keyId === key.id);
  const verdict = checkPolicies(policies, provider, call, dims);
  if (!verdict.ok) return verdict;

  const outputLimit = call.maxOutputTokens ?? verdict.injectMaxOutputTokens ?? DEFAULT_OUTPUT_HOLD_TOKENS;
  let inject = call.maxOutputTokens === null ? verdict.injectMaxOutputTokens : null;
  // Each answer may use the whole output limit: the hold and token limits count them all.
  const outputHeld = outputLimit * outputs;
  const tokens = call.metered ? call.inputTokens + outputHeld : 0;
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
  const blocking = covering.filter((b) => b.spec.mode === "block");
  let amount = 0n;
  let credit: StreamCredit | null = null;
  if (covering.length > 0) {
    const at = new Date(now);
    const usage = { ...NO_TOKENS, inputTokens: call.inputTokens, outputTokens: outputHeld };
    const priced = priceCall(provider, call.model, usage, books.priceOverrides, at);
    const first = blocking[0];
    if (!priced && first) {
      return {
        ok: false,
        code: "policy_denied",
        ruleId: first.id,
        message: `Model "${call.model}" has no known price, so budget "${first.spec.name}" cannot be enforced; add a price override for it.`,
      };
    }
    amount = BigInt(priced?.costNanoUsd ?? 0);
    // A call held against a blocking budget carries the output limit it is held for, also when
    // it set none: the provider counts hidden tokens (reasoning, thinking) in that limit, so the
    // hold bounds what it can bill. A call with its own limit gets it again, in every field the
    // body carries (one that also sent a larger one in another field must not outrun its hold).
    if (priced && blocking.length > 0 && outputLimit > 0) inject = outputLimit;
    if (priced && call.stream && blocking.length > 0) {
      const input = BigInt(
        priceCall(provider, call.model, { ...NO_TOKENS, inputTokens: call.inputTokens }, books.priceOverrides, at)
          ?.costNanoUsd ?? 0,
      );
      const outputRate = parseDecimal(priced.price.output) ?? 0n;
      credit = {
        grantedNano: amount,
        inputNano: input,
        outputRate,
        stepNano: amount - input,
        ceilingNano: amount,
      };
    }
  }

  const left = new Map<string, bigint>();
  for (const b of covering) {
    left.set(b.id, BigInt(b.spec.limitNano) - books.book.spent(b, books.timeZone, now) - books.book.held(b.id));
  }
  const remaining = (budget: Budget) => left.get(budget.id) ?? 0n;
  const short = blocking.find((b) => amount > remaining(b));
  if (short) {
    // A stream may start on what is left when that covers its prompt and a first stretch of
    // output. The provider is told to stop at what the remainder buys (its hidden tokens
    // included); as the second line the gateway draws the hold down as output arrives and ends
    // the stream cleanly when a blocking budget runs out.
    const least = blocking.reduce((min, b) => (remaining(b) < min ? remaining(b) : min), amount);
    // What the remainder buys is shared by the answers: each is sent its share as its limit.
    const bought = credit
      ? Math.floor(outputBought(provider, call, least, credit, outputHeld, books.priceOverrides, now) / outputs)
      : 0;
    if (!credit || bought < MIN_STREAM_OUTPUT_TOKENS || least <= 0n) {
      const r = remaining(short);
      return {
        ok: false,
        code: "budget_exceeded",
        ruleId: short.id,
        message: `Budget "${short.spec.name}" has ${formatUsd(r > 0n ? r : 0n)} USD left; this call may cost up to ${formatUsd(amount)} USD.`,
      };
    }
    amount = least;
    credit = { ...credit, grantedNano: least };
    inject = bought;
  } else if (credit && credit.ceilingNano !== null) {
    // The whole worst case is held and the provider stops at the output limit: nothing to draw.
    credit = null;
  }
  const headroom = covering.map((b) => ({ id: b.id, remainingNano: remaining(b) - amount }));

  return {
    dimensions: dims,
    injectMaxOutputTokens: inject,
    amount,
    tokens,
    budgets: covering.map((budget) => ({ budget, key: books.book.keyAt(budget, books.timeZone, now) })),
    limits,
    headroom,
    credit,
    failOpen: covering.some((b) => b.spec.failOpen) && blocking.every((b) => b.spec.failOpen),
  };
}

/** A token count the ledger can price: a whole number from 0 to 2^53 - 1. */
function isTokenCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The output tokens `budgetNano` buys after the prompt estimate, at most `limit`: the largest
 * count whose price, rounded as the usage event rounds it, stays within the budget.
 */
function outputBought(
  provider: string,
  call: CallFacts,
  budgetNano: bigint,
  credit: StreamCredit,
  limit: number,
  overrides: readonly PriceOverride[],
  now: number,
): number {
  const spare = budgetNano - credit.inputNano;
  if (spare < 0n) return 0;
  let tokens = credit.outputRate > 0n ? (spare * 1_000_000n) / credit.outputRate : BigInt(limit);
  if (tokens > BigInt(limit)) tokens = BigInt(limit);
  // The prompt and output prices are rounded once together: at most one nano-dollar apart.
  const cost = (n: bigint) =>
    BigInt(
      priceCall(
        provider,
        call.model,
        { ...NO_TOKENS, inputTokens: call.inputTokens, outputTokens: Number(n) },
        overrides,
        new Date(now),
      )?.costNanoUsd ?? 0,
    );
  for (let step = 0; step < 3 && tokens > 0n && cost(tokens) > budgetNano; step++) tokens -= 1n;
  return cost(tokens) > budgetNano ? 0 : Number(tokens);
}
