// The stored shapes of rule specs (budgets, policies, rate limits), as zod schemas: the
// TenantLedger's own rules table and D1's mirror of it (ledger_rules) both hold a spec as JSON
// and read it back with these. Fields added after a rule was first stored read as their neutral
// default (no thresholds, fail closed, no caps, no required dimensions, any source). The types
// they check are workers/ledger/types.ts's BudgetSpec, PolicySpec and RateLimitSpec.
import { z } from "zod";

const BudgetWindow = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal(["daily", "weekly", "monthly", "lifetime"]) }),
  z.object({ kind: z.literal("rolling"), hours: z.number() }),
]);

export const StoredBudget = z.object({
  name: z.string(),
  scope: z.object({
    keyId: z.string().optional(),
    provider: z.string().optional(),
    model: z.string().optional(),
    dimensions: z.record(z.string(), z.string()).optional(),
  }),
  window: BudgetWindow,
  limitNano: z.string(),
  mode: z.enum(["block", "alert"]),
  thresholds: z.array(z.number()).default([]),
  failOpen: z.boolean().default(false),
});

const globs = z.array(z.string());

export const StoredPolicy = z.object({
  name: z.string(),
  keyId: z.string().nullable(),
  allowModels: globs.nullable(),
  denyModels: globs,
  allowProviders: globs.nullable(),
  denyProviders: globs,
  maxTokensCap: z.number().nullable().default(null),
  defaultMaxTokens: z.number().nullable().default(null),
  requiredDimensions: z.array(z.string()).default([]),
  allowedSources: z.array(z.string()).nullable().default(null),
});

export const StoredRateLimit = z.object({
  name: z.string(),
  keyId: z.string().nullable(),
  requestsPerMinute: z.number().nullable(),
  tokensPerMinute: z.number().nullable(),
});

/** A call's or key's dimensions: names to values. */
export const StoredDimensions = z.record(z.string(), z.string());
