// Budgets, policies and rate limits as D1 lists them (ledger_rules): the mirror of the tenant
// ledger's rules, written only by the ledger's outbox. `spec` is the rule's JSON, read back here
// with the schemas below (the shapes of workers/ledger/types.ts's BudgetSpec, PolicySpec and
// RateLimitSpec, which the API's bodies are turned into before the ledger stores them).
import { z } from "zod";
import { parseStored } from "./stored-json.ts";
import type { TenantDb } from "./tenant-db.ts";

const BudgetWindow = z.discriminatedUnion("kind", [
  z.object({ kind: z.literal(["daily", "weekly", "monthly", "lifetime"]) }),
  z.object({ kind: z.literal("rolling"), hours: z.number() }),
]);

const StoredBudget = z.object({
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

const StoredPolicy = z.object({
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

const StoredRateLimit = z.object({
  name: z.string(),
  keyId: z.string().nullable(),
  requestsPerMinute: z.number().nullable(),
  tokensPerMinute: z.number().nullable(),
});

/** Each kind's spec as stored. */
export type StoredRuleSpecs = {
  budget: z.infer<typeof StoredBudget>;
  policy: z.infer<typeof StoredPolicy>;
  rate_limit: z.infer<typeof StoredRateLimit>;
};
export type StoredRuleKind = keyof StoredRuleSpecs;

const SPECS: { [K in StoredRuleKind]: z.ZodType<StoredRuleSpecs[K]> } = {
  budget: StoredBudget,
  policy: StoredPolicy,
  rate_limit: StoredRateLimit,
};

/** A ledger_rules row (tenant_id aside), its spec parsed. */
export type LedgerRuleRow<K extends StoredRuleKind = StoredRuleKind> = {
  id: string;
  kind: K;
  name: string;
  spec: StoredRuleSpecs[K];
  created_at: number;
  updated_at: number;
};

/** The tenant's rules of one kind, in creation order. */
export async function listRuleRows<K extends StoredRuleKind>(
  db: TenantDb,
  kind: K,
): Promise<Pick<LedgerRuleRow<K>, "id" | "spec" | "created_at" | "updated_at">[]> {
  const rows = await db.all<{ id: string; spec: string; created_at: number; updated_at: number }>(
    "SELECT id, spec, created_at, updated_at FROM ledger_rules WHERE tenant_id = ?1 AND kind = ?2 ORDER BY created_at, id",
    kind,
  );
  const schema: z.ZodType<StoredRuleSpecs[K]> = SPECS[kind];
  return rows.map((r) => ({ ...r, spec: parseStored(schema, r.spec, `ledger_rules.spec (${kind})`) }));
}

/** The names of the tenant's rules among `ids`. */
export function listRuleNames(db: TenantDb, ids: readonly string[]): Promise<Pick<LedgerRuleRow, "id" | "name">[]> {
  return db.all<Pick<LedgerRuleRow, "id" | "name">>(
    "SELECT id, name FROM ledger_rules WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
    JSON.stringify(ids),
  );
}
