// TenantLedger: one Durable Object per tenant, the single writer of its hot-path state: keys,
// provider credentials, settings, price overrides, budgets, policies, rate limits and the holds
// of calls in flight. `admit` decides a proxied call in one round trip with no D1 query and
// holds its worst-case cost; `settle` replaces the hold by the actual cost, once per request id.
// Changes are mirrored to D1 and decisions sent as audit events through the outbox (outbox.ts).
//
// This class is the RPC surface only: every method takes one request object (requests.ts) and
// hands it to the module that owns the concern. A method that changes the ledger binds it to the
// request's tenant first (schema.ts); one that only reads takes no tenant.
import { DurableObject } from "cloudflare:workers";
import type { PriceOverride } from "../../shared/pricing.ts";
import { close, purge, recordAudit } from "./organisation.ts";
import { admit } from "./admit-call.ts";
import { deletePriceOverride, deleteProvider, setPriceOverride, setProvider, setSettings } from "./config-changes.ts";
import { createKey, revokeKey, rotateKey } from "./key-changes.ts";
import { LedgerParts } from "./parts.ts";
import type {
  BudgetStatusesRequest,
  BudgetStatusRequest,
  CloseRequest,
  CreateKeyRequest,
  DeletePriceOverrideRequest,
  DeleteProviderRequest,
  DeleteRuleRequest,
  DrawRequest,
  ForwardUsageRequest,
  GetRuleRequest,
  ProviderConnectionRequest,
  PutRuleRequest,
  RecordAuditRequest,
  RevokeKeyRequest,
  RotateKeyRequest,
  SetPriceOverrideRequest,
  SetProviderRequest,
  SetSettingsRequest,
  SettleRequest,
} from "./requests.ts";
import { budgetStatus, budgetStatuses, deleteRule, putRule } from "./rule-changes.ts";
import { migrate } from "./schema.ts";
import { draw, forwardUsage, lease, settle } from "./settlement.ts";
import type {
  Admitted,
  AdmitRequest,
  AdmitResult,
  AnyRule,
  BudgetStatus,
  KeyRecord,
  LeaseGrant,
  LeaseReport,
  ProviderRecord,
  RotateResult,
  TenantSettings,
} from "./types.ts";

export class TenantLedger extends DurableObject<Env> {
  readonly #parts: LedgerParts;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#parts = new LedgerParts(ctx.storage, env);
    ctx
      .blockConcurrencyWhile(async () => migrate(ctx.storage.sql))
      .catch((error: unknown) => {
        console.error("ledger migration failed", error instanceof Error ? error.message : "unknown");
      });
  }

  // ---- hot path: admission and settlement (admit-call.ts, settlement.ts) ---------------------

  admit(request: AdmitRequest): Promise<AdmitResult> {
    return admit(this.#parts, request);
  }

  /**
   * Replaces each call's hold by its actual cost, once per request id: the gateway settles when a
   * call ends, and the usage consumer settles again from the stored event (a no-op unless the
   * gateway's settle was lost), which also reconciles holds that expired.
   */
  settle(request: SettleRequest): Promise<void> {
    return settle(this.#parts, request);
  }

  /**
   * Usage events the gateway could not queue: settled like any (once per request id) and kept in
   * the outbox in the same transaction, which sends them to USAGE_QUEUE and retries until taken.
   */
  forwardUsage(request: ForwardUsageRequest): Promise<void> {
    return forwardUsage(this.#parts, request);
  }

  /** Lease mode: books what an isolate admitted from its lease and grants the next one. */
  lease(report: LeaseReport): Promise<LeaseGrant | null> {
    return lease(this.#parts, report);
  }

  /** A running stream's draw-down (see Holds.draw). Returns the hold's amount now. */
  draw(request: DrawRequest): Promise<bigint> {
    return draw(this.#parts, request);
  }

  /** Holds not yet settled, for reconciliation checks (amounts as decimal nano-USD text). */
  openHolds(): { requestId: string; amountNano: string; expiresAt: number }[] {
    return this.#parts.holds.list();
  }

  // ---- keys (key-changes.ts) -----------------------------------------------------------------

  createKey(request: CreateKeyRequest): Promise<KeyRecord> {
    return createKey(this.#parts, request);
  }

  rotateKey(request: RotateKeyRequest): Promise<RotateResult> {
    return rotateKey(this.#parts, request);
  }

  revokeKey(request: RevokeKeyRequest): Promise<KeyRecord | null> {
    return revokeKey(this.#parts, request);
  }

  listKeys(): KeyRecord[] {
    return this.#parts.catalog.listKeys();
  }

  // ---- providers, settings, price overrides (config-changes.ts) --------------------------------

  setProvider(request: SetProviderRequest): Promise<ProviderRecord> {
    return setProvider(this.#parts, request);
  }

  deleteProvider(request: DeleteProviderRequest): Promise<boolean> {
    return deleteProvider(this.#parts, request);
  }

  listProviders(): ProviderRecord[] {
    return this.#parts.catalog.listProviders();
  }

  /** A provider's format, base URL and sealed credential (for "test connection"), or null. */
  providerConnection({ name }: ProviderConnectionRequest): Admitted["provider"] {
    return this.#parts.catalog.provider(name);
  }

  getSettings(): TenantSettings {
    return this.#parts.catalog.settings();
  }

  setSettings(request: SetSettingsRequest): Promise<TenantSettings> {
    return setSettings(this.#parts, request);
  }

  listPriceOverrides(): PriceOverride[] {
    return this.#parts.catalog.listOverrides();
  }

  setPriceOverride(request: SetPriceOverrideRequest): PriceOverride {
    return setPriceOverride(this.#parts, request);
  }

  deletePriceOverride(request: DeletePriceOverrideRequest): boolean {
    return deletePriceOverride(this.#parts, request);
  }

  // ---- budgets, policies, rate limits (rule-changes.ts) ----------------------------------------

  putRule(request: PutRuleRequest): Promise<AnyRule> {
    return putRule(this.#parts, request);
  }

  deleteRule(request: DeleteRuleRequest): Promise<boolean> {
    return deleteRule(this.#parts, request);
  }

  getRule({ kind, id }: GetRuleRequest): AnyRule | null {
    return this.#parts.rules.get(kind, id) as AnyRule | null;
  }

  budgetStatus(request: BudgetStatusRequest): BudgetStatus | null {
    return budgetStatus(this.#parts, request);
  }

  /** Every budget with its current window (spent, held, remaining), in creation order. */
  budgetStatuses(request: BudgetStatusesRequest = {}): BudgetStatus[] {
    return budgetStatuses(this.#parts, request);
  }

  // ---- the organisation: audit of actions outside the ledger, closure, purge (organisation.ts)

  /** Audit events of actions taken outside the ledger (sign-ins, members, tokens, SSO), so they
   * join the tenant's one order of events. */
  recordAudit(request: RecordAuditRequest): Promise<void> {
    return recordAudit(this.#parts, request);
  }

  /** The organisation was closed: every key is revoked at once, so no call is admitted again. */
  close(request: CloseRequest): Promise<number> {
    return close(this.#parts, request);
  }

  /** Deletes all this ledger stores: the purge of a closed organisation, 30 days on. */
  purge(): Promise<void> {
    return purge(this.#parts);
  }

  // ---- housekeeping: outbox, hold expiry (parts.ts) --------------------------------------------

  override alarm(): Promise<void> {
    return this.#parts.housekeep();
  }
}
