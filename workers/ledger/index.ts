// The ledger's front door: the TenantLedger Durable Object (one per tenant, the single writer of
// its keys, rules, budgets, holds and rate limits), the stub for a tenant, the types of its RPC
// methods and of their request objects, and the pure admission pieces that the gateway runs
// itself in lease mode.
import type { TenantLedger } from "./tenant-ledger.ts";

export { TenantLedger } from "./tenant-ledger.ts";
export { decide, type RateView, type SpendView } from "./admission.ts";
export { MAX_GRACE_MS, matchSecret } from "./key-secret.ts";
export { LEASE_RENEW_MS } from "./leases.ts";
export { isSourceEntry } from "./policies.ts";
export type * from "./requests.ts";
export type * from "./types.ts";

export type Ledger = DurableObjectStub<TenantLedger>;

/** The tenant's ledger (the same Durable Object for every call with this tenant id). */
export function ledgerFor(env: Env, tenantId: string): Ledger {
  return env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenantId));
}
