// Request bodies of /api/v1/budgets, /policies and /rate-limits (zod), and their conversion to
// the ledger's specs and back to the API's snake_case views. Money is a decimal USD string.
import { z } from "zod";
import { ID_PATTERN } from "../../shared/ids.ts";
import { formatUsd, NANO_PER_USD, parseDecimal } from "../../shared/money.ts";
import type { BudgetWindow } from "../../shared/windows.ts";
import { checkDimension, DIMENSION_NAME, MAX_DIMENSIONS } from "../../shared/dimensions.ts";
import { type BudgetSpec, isSourceEntry, type PolicySpec, type RateLimitSpec } from "../ledger/index.ts";
import { ProviderGlob } from "./provider-names.ts";

const Name = z.string().trim().min(1).max(100);
const KeyId = z.string().regex(ID_PATTERN, "must be a key id");
const Glob = z.string().min(1).max(200);
const Globs = z.array(Glob).max(100);
const ProviderGlobs = z.array(ProviderGlob).max(100);
const TokenCount = z.number().int().positive().max(10_000_000);
const Usd = z
  .string()
  .refine(
    (v) => /^\d/.test(v) && /\d$/.test(v) && parseDecimal(v) !== null,
    'must be a decimal string of USD, e.g. "25" or "0.50"',
  )
  .refine((v) => (parseDecimal(v) ?? 0n) <= 1_000_000_000n * NANO_PER_USD, "must be at most 1000000000");

/** A rule's dimension scope: at most MAX_DIMENSIONS, each name and value checked as a call's
 * (shared/dimensions.ts), so a rule can only name dimensions a call can carry. The
 * check runs on the raw object, before zod copies it (a "__proto__" key would vanish there). */
export const Dimensions = z
  .unknown()
  .superRefine((raw, ctx) => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      ctx.addIssue({ code: "custom", message: "must be an object of dimension names to values" });
      return;
    }
    const entries = Object.entries(raw);
    if (entries.length > MAX_DIMENSIONS) {
      ctx.addIssue({ code: "custom", message: `must have at most ${MAX_DIMENSIONS} dimensions` });
      return;
    }
    for (const [name, value] of entries) {
      const problem = typeof value === "string" ? checkDimension(name, value) : null;
      if (typeof value !== "string") ctx.addIssue({ code: "custom", message: "must be a string", path: [name] });
      else if (problem) ctx.addIssue({ code: "custom", message: problem.message, path: [name] });
    }
  })
  .transform((raw) => Object.fromEntries(Object.entries(raw as Record<string, string>)));

export const BudgetBody = z
  .strictObject({
    name: Name,
    scope: z
      .strictObject({
        key_id: KeyId.optional(),
        provider: ProviderGlob.optional(),
        model: Glob.optional(),
        dimensions: Dimensions.optional(),
      })
      .default({}),
    window: z.enum(["daily", "weekly", "monthly", "rolling", "lifetime"]),
    rolling_hours: z.number().int().min(1).max(8760).optional(),
    limit_usd: Usd,
    mode: z.enum(["block", "alert"]).default("block"),
    thresholds: z
      .array(z.number().int().min(1).max(1000))
      .max(10)
      .refine((t) => new Set(t).size === t.length, "must not repeat a percent")
      .default([50, 80, 100]),
    fail_open: z.boolean().default(false),
  })
  .refine((b) => (b.window === "rolling") === (b.rolling_hours !== undefined), {
    message: 'is required with window "rolling" and only then',
    path: ["rolling_hours"],
  });

export function budgetSpec(b: z.infer<typeof BudgetBody>): BudgetSpec {
  const window: BudgetWindow =
    b.window === "rolling" ? { kind: "rolling", hours: b.rolling_hours ?? 1 } : { kind: b.window };
  const scope: BudgetSpec["scope"] = {};
  if (b.scope.key_id !== undefined) scope.keyId = b.scope.key_id;
  if (b.scope.provider !== undefined) scope.provider = b.scope.provider;
  if (b.scope.model !== undefined) scope.model = b.scope.model;
  if (b.scope.dimensions !== undefined && Object.keys(b.scope.dimensions).length > 0)
    scope.dimensions = b.scope.dimensions;
  return {
    name: b.name,
    scope,
    window,
    limitNano: String(parseDecimal(b.limit_usd) ?? 0n),
    mode: b.mode,
    thresholds: [...b.thresholds].sort((x, y) => x - y),
    failOpen: b.fail_open,
  };
}

export function budgetView(spec: BudgetSpec) {
  return {
    name: spec.name,
    scope: {
      key_id: spec.scope.keyId ?? null,
      provider: spec.scope.provider ?? null,
      model: spec.scope.model ?? null,
      dimensions: spec.scope.dimensions ?? {},
    },
    window: spec.window.kind,
    rolling_hours: spec.window.kind === "rolling" ? spec.window.hours : null,
    limit_usd: formatUsd(BigInt(spec.limitNano)),
    mode: spec.mode,
    thresholds: spec.thresholds,
    fail_open: spec.failOpen,
  };
}

export const PolicyBody = z
  .strictObject({
    name: Name,
    key_id: KeyId.nullable().default(null),
    allow_models: Globs.nullable().default(null),
    deny_models: Globs.default([]),
    allow_providers: ProviderGlobs.nullable().default(null),
    deny_providers: ProviderGlobs.default([]),
    max_tokens_cap: TokenCount.nullable().default(null),
    default_max_tokens: TokenCount.nullable().default(null),
    required_dimensions: z
      .array(z.string().regex(DIMENSION_NAME, "must be a dimension name"))
      .max(MAX_DIMENSIONS)
      .refine((names) => new Set(names).size === names.length, "must not repeat a dimension")
      .default([]),
    allowed_sources: z
      .array(z.string().refine(isSourceEntry, "must be an IP address or a CIDR range"))
      .min(1)
      .max(100)
      .nullable()
      .default(null),
  })
  .refine(
    (p) => p.max_tokens_cap === null || p.default_max_tokens === null || p.default_max_tokens <= p.max_tokens_cap,
    { message: "must not be above max_tokens_cap", path: ["default_max_tokens"] },
  );

export function policySpec(p: z.infer<typeof PolicyBody>): PolicySpec {
  return {
    name: p.name,
    keyId: p.key_id,
    allowModels: p.allow_models,
    denyModels: p.deny_models,
    allowProviders: p.allow_providers,
    denyProviders: p.deny_providers,
    maxTokensCap: p.max_tokens_cap,
    defaultMaxTokens: p.default_max_tokens,
    requiredDimensions: p.required_dimensions,
    allowedSources: p.allowed_sources,
  };
}

export function policyView(p: PolicySpec) {
  return {
    name: p.name,
    key_id: p.keyId,
    allow_models: p.allowModels,
    deny_models: p.denyModels,
    allow_providers: p.allowProviders,
    deny_providers: p.denyProviders,
    max_tokens_cap: p.maxTokensCap,
    default_max_tokens: p.defaultMaxTokens,
    required_dimensions: p.requiredDimensions,
    allowed_sources: p.allowedSources,
  };
}

export const RateLimitBody = z
  .strictObject({
    name: Name,
    key_id: KeyId.nullable().default(null),
    requests_per_minute: z.number().int().positive().max(1_000_000).nullable().default(null),
    tokens_per_minute: TokenCount.max(1_000_000_000).nullable().default(null),
  })
  .refine((r) => r.requests_per_minute !== null || r.tokens_per_minute !== null, {
    message: "set requests_per_minute, tokens_per_minute or both",
    path: ["requests_per_minute"],
  });

export function rateLimitSpec(r: z.infer<typeof RateLimitBody>): RateLimitSpec {
  return {
    name: r.name,
    keyId: r.key_id,
    requestsPerMinute: r.requests_per_minute,
    tokensPerMinute: r.tokens_per_minute,
  };
}

export function rateLimitView(r: RateLimitSpec) {
  return {
    name: r.name,
    key_id: r.keyId,
    requests_per_minute: r.requestsPerMinute,
    tokens_per_minute: r.tokensPerMinute,
  };
}

/** The key a rule names, if any (it must be one of the tenant's keys). */
export function ruleKeyId(spec: BudgetSpec | PolicySpec | RateLimitSpec): string | null {
  return "scope" in spec ? (spec.scope.keyId ?? null) : spec.keyId;
}
