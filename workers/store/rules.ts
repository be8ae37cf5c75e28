// Budgets, policies and rate limits as D1 lists them (ledger_rules): the mirror of the tenant
// ledger's rules, written only by the ledger's outbox. `spec` is the rule's JSON, read back here
// with the schemas below (the shapes of workers/ledger/types.ts's BudgetSpec, PolicySpec and
// RateLimitSpec, which the API's bodies are turned into before the ledger stores them).
import type { z } from "zod";
import { StoredBudget, StoredPolicy, StoredRateLimit } from "../../shared/rule-specs.ts";
import { parseStored } from "../../shared/stored-json.ts";
import type { TenantDb } from "./tenant-db.ts";

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
