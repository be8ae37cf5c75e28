// The argument of each TenantLedger RPC method: one object per call, named `<Method>Request`.
// A method that changes the ledger names its tenant (`tenantId`, bound on first write and checked
// on every later one); `actor` is who the audit event names (the system when absent) and `now`
// the time of the change (the ledger's clock when absent). Methods that only read take no
// tenant. Plain data only (structured-clone safe). `admit` takes an AdmitRequest and `lease` a
// LeaseReport (types.ts), which already carry their `now`.
import type { AuditActor, AuditDraft } from "../../shared/audit.ts";
import type { PriceOverride } from "../../shared/pricing.ts";
import type { UsageEvent, UsageMessage } from "../../shared/usage.ts";
import type { KeyRotation, NewKey, ProviderUpdate, RuleDraft, RuleKind, TenantSettings } from "./types.ts";

/** What every change carries: the tenant, who made it and when. */
type Change = { tenantId: string; actor?: AuditActor; now?: number };

// ---- hot path ----------------------------------------------------------------------------------

export type SettleRequest = { events: readonly UsageEvent[]; now?: number };

/** Usage queue messages the gateway could not send, as packed (`events`: from a gateway of before
 * packs were kept whole, each event its own message). */
export type ForwardUsageRequest = {
  tenantId: string;
  messages?: readonly UsageMessage[];
  events?: readonly UsageEvent[];
  now?: number;
};

/** A running stream's draw-down: what it has used so far and how much more it wants held. */
export type DrawRequest = { requestId: string; usedNano: bigint; wantNano: bigint; now?: number };

// ---- keys --------------------------------------------------------------------------------------

/** A new key and the rules made with it (a policy or rate limit naming the key). */
export type CreateKeyRequest = Change & { key: NewKey; rules?: readonly { id: string; draft: RuleDraft }[] };

export type RotateKeyRequest = Change & { id: string; rotation: KeyRotation };

export type RevokeKeyRequest = Change & { id: string };

// ---- providers, settings, price overrides ------------------------------------------------------

export type SetProviderRequest = Change & { provider: ProviderUpdate };

export type DeleteProviderRequest = Change & { name: string };

export type ProviderConnectionRequest = { name: string };

export type SetSettingsRequest = Change & { change: Partial<TenantSettings> };

export type SetPriceOverrideRequest = { tenantId: string; override: PriceOverride };

export type DeletePriceOverrideRequest = { tenantId: string; provider: string; model: string };

// ---- budgets, policies, rate limits ------------------------------------------------------------

export type PutRuleRequest = Change & { actor: AuditActor; id: string; draft: RuleDraft };

export type DeleteRuleRequest = Change & { actor: AuditActor; kind: RuleKind; id: string };

export type GetRuleRequest = { kind: RuleKind; id: string };

export type BudgetStatusRequest = { id: string; now?: number };

export type BudgetStatusesRequest = { now?: number };

// ---- accounts ----------------------------------------------------------------------------------

/** Audit events of actions taken outside the ledger (sign-ins, members, tokens, SSO). */
export type RecordAuditRequest = { tenantId: string; drafts: AuditDraft[] };

export type CloseRequest = Change & { actor: AuditActor; now: number };
