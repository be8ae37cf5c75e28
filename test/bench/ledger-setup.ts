// Tenants of the ledger part of the benchmark, each on the same Outlay arm and set up through
// Outlay's own API (docs/api.md): a tenant with its provider and proxy key (outlay-setup.ts),
// then its rules and admission mode. Also reads a budget's books and the usage totals.
import type { OutlayAdmin } from "./arms.ts";
import { apiCall, provisionOutlay, stringField } from "./outlay-setup.ts";

export type AdmissionMode = "strict" | "lease";

export type TenantRules = {
  /** A monthly block budget of this many USD (decimal string), or none. */
  budgetUsd: string | null;
  /** One policy that never refuses the bench call. */
  policy: boolean;
  /** One rate limit far above any rate the bench reaches. */
  rateLimit: boolean;
  mode: AdmissionMode;
};

export type BenchTenant = {
  name: string;
  proxyKey: string;
  adminToken: string;
  budgetId: string | null;
};

/** Requests per minute of the rate limit: the API's maximum, never reached by the bench. */
export const RATE_LIMIT_RPM = 1_000_000;
/** The policy denies models matching this glob; the bench calls gpt-4o-mini, so it always passes. */
export const POLICY_DENY = "x*";

export async function provisionTenant(admin: OutlayAdmin, name: string, rules: TenantRules): Promise<BenchTenant> {
  const { base } = admin;
  const tenant = await provisionOutlay(base, admin.operatorToken, admin.upstream, name);
  const token = tenant.adminToken;
  let budgetId: string | null = null;
  if (rules.budgetUsd !== null) {
    const budget = await apiCall(`${base}/api/v1/budgets`, "POST", token, {
      name: `${name} budget`,
      window: "monthly",
      limit_usd: rules.budgetUsd,
    });
    budgetId = stringField(budget, "id");
  }
  if (rules.policy) {
    await apiCall(`${base}/api/v1/policies`, "POST", token, { name: `${name} policy`, deny_models: [POLICY_DENY] });
  }
  if (rules.rateLimit) {
    await apiCall(`${base}/api/v1/rate-limits`, "POST", token, {
      name: `${name} rate limit`,
      requests_per_minute: RATE_LIMIT_RPM,
    });
  }
  if (rules.mode === "lease") {
    const settings = await apiCall(`${base}/api/v1/settings`, "PATCH", token, { admission_mode: "lease" });
    if (stringField(settings, "admission_mode") !== "lease") throw new Error(`${name}: admission_mode not set`);
  }
  return { name, proxyKey: tenant.proxyKey, adminToken: token, budgetId };
}

export type BudgetBooks = { limitUsd: string; spentUsd: string; heldUsd: string; remainingUsd: string };

/** GET /api/v1/budgets/{id}: the limit and the current window's books (USD decimal strings). */
export async function budgetBooks(admin: OutlayAdmin, tenant: BenchTenant): Promise<BudgetBooks> {
  if (!tenant.budgetId) throw new Error(`${tenant.name} has no budget`);
  const body = await apiCall(`${admin.base}/api/v1/budgets/${tenant.budgetId}`, "GET", tenant.adminToken);
  const current = typeof body === "object" && body !== null && "current" in body ? body.current : null;
  return {
    limitUsd: stringField(body, "limit_usd"),
    spentUsd: stringField(current, "spent_usd"),
    heldUsd: stringField(current, "held_usd"),
    remainingUsd: stringField(current, "remaining_usd"),
  };
}

export type UsageTotals = { requests: number; costUsd: string };

/** GET /api/v1/usage: requests and cost of the events the usage consumer wrote to D1. */
export async function usageTotals(admin: OutlayAdmin, tenant: BenchTenant): Promise<UsageTotals> {
  const body = await apiCall(`${admin.base}/api/v1/usage`, "GET", tenant.adminToken);
  const rows = typeof body === "object" && body !== null && "rows" in body ? body.rows : null;
  const first: unknown = Array.isArray(rows) ? rows[0] : undefined;
  if (first === undefined) return { requests: 0, costUsd: "0" };
  const requests = typeof first === "object" && first !== null && "requests" in first ? first.requests : 0;
  return { requests: typeof requests === "number" ? requests : 0, costUsd: stringField(first, "cost_usd") };
}
