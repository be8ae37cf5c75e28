// TenantLedger: one Durable Object per tenant, the single writer of its hot-path state: keys,
// provider credentials, settings, price overrides, budgets, policies, rate limits and the holds
// of calls in flight. `admit` decides a proxied call in one round trip with no D1 query and
// holds its worst-case cost; `settle` replaces the hold by the actual cost, once per request id.
// Changes are mirrored to D1 and decisions sent as audit events through the outbox (outbox.ts).
import { DurableObject } from "cloudflare:workers";
import { SYSTEM, type AuditActor, type AuditDraft } from "../../shared/audit.ts";
import { windowKey } from "../../shared/windows.ts";
import type { PriceOverride } from "../../shared/pricing.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { decide } from "./admission.ts";
import { BudgetBook } from "./budgets.ts";
import { Holds, SETTLED_KEEP_MS } from "./holds.ts";
import { Catalog } from "./catalog.ts";
import { addKey, rotateSecret, writeRule, type ChangeParts } from "./key-changes.ts";
import { MAX_GRACE_MS, matchSecret } from "./key-secret.ts";
import { renewLease } from "./leases.ts";
import { Outbox } from "./outbox.ts";
import { RateLimiter } from "./rate-limits.ts";
import { RuleStore } from "./rules.ts";
import { migrate } from "./schema.ts";
import type {
  Admitted,
  AdmitRequest,
  AdmitResult,
  BudgetStatus,
  KeyRecord,
  KeyRotation,
  LeaseGrant,
  LeaseReport,
  NewKey,
  ProviderRecord,
  ProviderUpdate,
  Refused,
  AnyRule,
  RuleDraft,
  RuleKind,
  RotateResult,
  TenantSettings,
} from "./types.ts";

const OUTBOX_RETRY_MS = 10_000;
/** Audit events are sent in batches at most this long after the decision. */
const AUDIT_FLUSH_MS = 500;

export class TenantLedger extends DurableObject<Env> {
  readonly #sql: SqlStorage;
  readonly #outbox: Outbox;
  readonly #rules: RuleStore;
  readonly #book: BudgetBook;
  readonly #limiter = new RateLimiter();
  readonly #holds: Holds;
  /** When the alarm is set for, as far as this instance knows. */
  #alarmAt: number | null = null;
  readonly #catalog: Catalog;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#outbox = new Outbox(this.#sql, env);
    this.#catalog = new Catalog(this.#sql);
    this.#rules = new RuleStore(this.#sql);
    this.#book = new BudgetBook(this.#sql);
    this.#holds = new Holds(this.#sql, this.#book, this.#rules, this.#limiter, this.#outbox);
    ctx
      .blockConcurrencyWhile(async () => migrate(this.#sql))
      .catch((error: unknown) => {
        console.error("ledger migration failed", error instanceof Error ? error.message : "unknown");
      });
  }

  // ---- hot path ---------------------------------------------------------------------------

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const result = this.#admit(request);
    await this.#schedule(request.now + AUDIT_FLUSH_MS);
    return result;
  }

  #admit(request: AdmitRequest): AdmitResult {
    const { now, call } = request;
    const key = this.#catalog.key(request.keyId);
    const secret = key
      ? matchSecret(
          { hash: key.row.hash, previousHash: key.row.previous_hash, previousUntil: key.row.previous_until },
          request.keyHash,
          now,
        )
      : "none";
    const reason =
      !key || secret === "none"
        ? "unknown"
        : key.row.revoked_at !== null && key.row.revoked_at <= now
          ? "revoked"
          : key.row.expires_at !== null && key.row.expires_at <= now
            ? "expired"
            : secret === "rotated"
              ? "rotated"
              : null;
    if (!key || reason) {
      const refused: Refused = {
        ok: false,
        code: "invalid_api_key",
        reason: reason ?? "unknown",
        message: "Incorrect or missing Outlay API key.",
      };
      // An unknown key id or a wrong secret is not the tenant's key: nothing is recorded for it.
      if (key && reason !== "unknown") this.#refused(request, refused);
      return refused;
    }
    const settings = this.getSettings();
    const base = {
      ok: true as const,
      key: { id: key.row.id, dimensions: key.dimensions },
      provider: this.#catalog.provider(request.provider),
      allowPassthroughKeys: settings.allowPassthroughKeys,
      priceOverrides: this.#catalog.overridesFor(request.provider),
      leaseMode: settings.admissionMode === "lease",
    };
    if (call && !base.provider && !request.builtInProvider) {
      const refused: Refused = {
        ok: false,
        code: "unknown_provider",
        message: `Provider "${request.provider}" is not configured for this organisation.`,
      };
      this.#refused(request, refused);
      return refused;
    }
    if (!call)
      return {
        ...base,
        dimensions: key.dimensions,
        injectMaxOutputTokens: null,
        heldNano: 0n,
        held: false,
        budgets: [],
        credit: null,
        failOpen: false,
      };

    const take = decide(
      {
        budgets: this.#rules.list("budget"),
        policies: this.#rules.list("policy"),
        rateLimits: this.#rules.list("rate_limit"),
        book: this.#book,
        limiter: this.#limiter,
        timeZone: settings.timeZone,
        priceOverrides: base.priceOverrides,
      },
      base.key,
      request.provider,
      call,
      now,
    );
    if ("ok" in take) {
      this.#refused(request, take);
      return take;
    }
    const budgetIds = take.budgets.map((b) => b.budget.id);
    const held = this.ctx.storage.transactionSync(() => {
      const opened = this.#holds.open(request.requestId, key.row.id, take, now);
      this.#outbox.audit({
        at: now,
        type: "call.admitted",
        actor: { kind: "key", id: key.row.id },
        requestId: request.requestId,
        subject: null,
        data: {
          provider: request.provider,
          model: call.model,
          heldNanoUsd: take.amount.toString(),
          tokens: take.tokens,
          budgets: budgetIds,
        },
      });
      return opened;
    });
    return {
      ...base,
      dimensions: take.dimensions,
      injectMaxOutputTokens: take.injectMaxOutputTokens,
      heldNano: take.amount,
      held,
      budgets: take.headroom,
      credit: take.credit,
      failOpen: take.failOpen,
    };
  }

  #refused(request: AdmitRequest, refused: Refused): void {
    this.#outbox.audit({
      at: request.now,
      type: "call.refused",
      actor: { kind: "key", id: request.keyId },
      requestId: request.requestId,
      subject: refused.ruleId ?? null,
      data: {
        code: refused.code,
        reason: refused.reason ?? null,
        provider: request.provider,
        model: request.call?.model ?? null,
      },
    });
  }

  /**
   * Replaces each call's hold by its actual cost, once per request id: the gateway settles when a
   * call ends, and the usage consumer settles again from the stored event (a no-op unless the
   * gateway's settle was lost), which also reconciles holds that expired.
   */
  async settle(events: readonly UsageEvent[], now = Date.now()): Promise<void> {
    const { timeZone } = this.getSettings();
    const crossings = this.ctx.storage.transactionSync(() => this.#holds.settle(events, timeZone, now));
    await this.#schedule(now + (crossings > 0 ? AUDIT_FLUSH_MS : SETTLED_KEEP_MS));
  }

  /**
   * Usage events the gateway could not queue: settled like any (once per request id) and kept in
   * the outbox in the same transaction, which sends them to USAGE_QUEUE and retries until taken.
   */
  async forwardUsage(tenantId: string, events: readonly UsageEvent[], now = Date.now()): Promise<void> {
    this.#bindTenant(tenantId);
    if (events.some((e) => e.tenantId !== tenantId)) throw new Error("usage event of another tenant");
    const { timeZone } = this.getSettings();
    this.ctx.storage.transactionSync(() => {
      this.#holds.settle(events, timeZone, now);
      this.#outbox.usage(events);
    });
    await this.#send();
  }

  /** Lease mode: books what an isolate admitted from its lease and grants the next one. */
  async lease(report: LeaseReport): Promise<LeaseGrant | null> {
    const parts = {
      catalog: this.#catalog,
      rules: this.#rules,
      book: this.#book,
      holds: this.#holds,
      limiter: this.#limiter,
      audit: (draft: AuditDraft) => this.#outbox.audit(draft),
    };
    const grant = this.ctx.storage.transactionSync(() => renewLease(parts, report));
    await this.#schedule(report.now + AUDIT_FLUSH_MS);
    return grant;
  }

  /** A running stream's draw-down (see Holds.draw). Returns the hold's amount now. */
  async draw(requestId: string, usedNano: bigint, wantNano: bigint, now = Date.now()): Promise<bigint> {
    const { timeZone } = this.getSettings();
    const drawn = this.ctx.storage.transactionSync(() =>
      this.#holds.draw(requestId, usedNano, wantNano, timeZone, now),
    );
    if (drawn.crossings > 0) await this.#schedule(now + AUDIT_FLUSH_MS);
    return drawn.amount;
  }

  // ---- keys -------------------------------------------------------------------------------

  /**
   * A new key and the rules made with it (a policy or rate limit naming the key), in one
   * transaction: the key is never usable without them.
   */
  async createKey(
    tenantId: string,
    key: NewKey,
    now = Date.now(),
    actor: AuditActor = SYSTEM,
    rules: readonly { id: string; draft: RuleDraft }[] = [],
  ): Promise<KeyRecord> {
    this.#bindTenant(tenantId);
    this.ctx.storage.transactionSync(() => addKey(this.#parts(), key, rules, actor, now));
    for (const rule of rules) if (rule.draft.kind === "rate_limit") this.#limiter.forget(rule.id);
    await this.#send();
    const record = this.#catalog.keyRecord(key.id);
    if (!record) throw new Error("key vanished after insert");
    return record;
  }

  /**
   * A new secret for the key: the current one stays valid for `graceMs` more (0: it ends now);
   * an older previous secret still in its grace ends at once. A retry with the key's last
   * rotation id changes nothing ("replayed"). Revoked and expired keys are not rotated.
   */
  async rotateKey(
    tenantId: string,
    id: string,
    rotation: KeyRotation,
    now = Date.now(),
    actor: AuditActor = SYSTEM,
  ): Promise<RotateResult> {
    this.#bindTenant(tenantId);
    if (!Number.isInteger(rotation.graceMs) || rotation.graceMs < 0 || rotation.graceMs > MAX_GRACE_MS) {
      throw new Error("grace period out of range");
    }
    const before = this.#catalog.keyRecord(id);
    if (!before) return { outcome: "not_found" };
    if (this.#catalog.rotationId(id) === rotation.rotationId) return { outcome: "replayed", key: before };
    if (before.revokedAt !== null) return { outcome: "revoked", key: before };
    if (before.expiresAt !== null && before.expiresAt <= now) return { outcome: "expired", key: before };
    this.ctx.storage.transactionSync(() => rotateSecret(this.#parts(), before, rotation, actor, now));
    await this.#send();
    const key = this.#catalog.keyRecord(id);
    if (!key) throw new Error("key vanished after rotation");
    return { outcome: "rotated", key };
  }

  async revokeKey(
    tenantId: string,
    id: string,
    now = Date.now(),
    actor: AuditActor = SYSTEM,
  ): Promise<KeyRecord | null> {
    this.#bindTenant(tenantId);
    const before = this.#catalog.keyRecord(id);
    if (!before || before.revokedAt !== null) return before;
    this.ctx.storage.transactionSync(() => {
      this.#catalog.revokeKey(id, now);
      this.#outbox.mirror("UPDATE api_keys SET revoked_at = ?2 WHERE tenant_id = ?1 AND id = ?3", [now, id]);
      this.#outbox.audit({ at: now, type: "key.revoked", actor, requestId: null, subject: id, data: {} });
    });
    await this.#send();
    return this.#catalog.keyRecord(id);
  }

  listKeys(): KeyRecord[] {
    return this.#catalog.listKeys();
  }

  // ---- providers --------------------------------------------------------------------------

  async setProvider(
    tenantId: string,
    update: ProviderUpdate,
    actor: AuditActor = SYSTEM,
    now = Date.now(),
  ): Promise<ProviderRecord> {
    this.#bindTenant(tenantId);
    const replaced = this.#catalog.listProviders().some((p) => p.name === update.name);
    const record = this.ctx.storage.transactionSync(() => {
      this.#outbox.mirror(
        `INSERT INTO provider_credentials (tenant_id, provider, kind, base_url, key_hint, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (tenant_id, provider) DO UPDATE SET kind = excluded.kind, base_url = excluded.base_url,
           key_hint = excluded.key_hint, updated_at = excluded.updated_at`,
        [update.name, update.format, update.baseUrl, update.keyHint, now],
      );
      // Metadata only: the name, format, base URL and the key's hint, never the credential.
      this.#outbox.audit({
        at: now,
        type: "provider.set",
        actor,
        requestId: null,
        subject: update.name,
        data: { format: update.format, baseUrl: update.baseUrl, keyHint: update.keyHint, replaced },
      });
      return this.#catalog.upsertProvider(update, now);
    });
    await this.#send();
    return record;
  }

  async deleteProvider(tenantId: string, name: string, actor: AuditActor = SYSTEM, now = Date.now()): Promise<boolean> {
    this.#bindTenant(tenantId);
    const removed = this.ctx.storage.transactionSync(() => {
      if (!this.#catalog.deleteProvider(name)) return false;
      this.#outbox.mirror("DELETE FROM provider_credentials WHERE tenant_id = ?1 AND provider = ?2", [name]);
      this.#outbox.audit({ at: now, type: "provider.deleted", actor, requestId: null, subject: name, data: {} });
      return true;
    });
    if (removed) await this.#send();
    return removed;
  }

  listProviders(): ProviderRecord[] {
    return this.#catalog.listProviders();
  }

  /** A provider's format, base URL and sealed credential (for "test connection"), or null. */
  providerConnection(name: string): Admitted["provider"] {
    return this.#catalog.provider(name);
  }

  // ---- settings and price overrides ---------------------------------------------------------

  getSettings(): TenantSettings {
    return this.#catalog.settings();
  }

  async setSettings(
    tenantId: string,
    change: Partial<TenantSettings>,
    actor: AuditActor = SYSTEM,
    now = Date.now(),
  ): Promise<TenantSettings> {
    this.#bindTenant(tenantId);
    const before = this.#catalog.settings();
    const after = this.ctx.storage.transactionSync(() => {
      const next = this.#catalog.setSettings(change);
      if (next.timeZone !== before.timeZone) {
        for (const budget of this.#rules.list("budget")) {
          const { window } = budget.spec;
          if (window.kind === "rolling" || window.kind === "lifetime") continue;
          this.#book.rekey(budget.id, windowKey(window, before.timeZone, now), windowKey(window, next.timeZone, now));
        }
      }
      this.#outbox.audit({
        at: now,
        type: "settings.updated",
        actor,
        requestId: null,
        subject: null,
        data: { ...next },
      });
      return next;
    });
    await this.#send();
    return after;
  }

  listPriceOverrides(): PriceOverride[] {
    return this.#catalog.listOverrides();
  }

  setPriceOverride(tenantId: string, o: PriceOverride): PriceOverride {
    this.#bindTenant(tenantId);
    this.#catalog.setOverride(o);
    return o;
  }

  deletePriceOverride(tenantId: string, provider: string, model: string): boolean {
    this.#bindTenant(tenantId);
    return this.#catalog.deleteOverride(provider, model);
  }

  // ---- budgets, policies, rate limits ------------------------------------------------------

  async putRule(tenantId: string, id: string, draft: RuleDraft, actor: AuditActor, now = Date.now()): Promise<AnyRule> {
    this.#bindTenant(tenantId);
    const saved = this.ctx.storage.transactionSync(() => writeRule(this.#parts(), id, draft, actor, now));
    if (saved.kind === "rate_limit") this.#limiter.forget(id);
    await this.#send();
    return saved;
  }

  async deleteRule(
    tenantId: string,
    kind: RuleKind,
    id: string,
    actor: AuditActor,
    now = Date.now(),
  ): Promise<boolean> {
    this.#bindTenant(tenantId);
    const existing = this.#rules.get(kind, id);
    if (!existing) return false;
    this.ctx.storage.transactionSync(() => {
      this.#rules.delete(kind, id);
      if (kind === "budget") this.#book.reset(id);
      this.#outbox.mirror("DELETE FROM ledger_rules WHERE tenant_id = ?1 AND id = ?2", [id]);
      this.#outbox.audit({
        at: now,
        type: "rule.deleted",
        actor,
        requestId: null,
        subject: id,
        data: { kind, name: existing.spec.name },
      });
    });
    if (kind === "rate_limit") this.#limiter.forget(id);
    await this.#send();
    return true;
  }

  getRule(kind: RuleKind, id: string): AnyRule | null {
    return this.#rules.get(kind, id) as AnyRule | null;
  }

  budgetStatus(id: string, now = Date.now()): BudgetStatus | null {
    const budget = this.#rules.get("budget", id);
    return budget ? this.#book.status(budget, this.getSettings().timeZone, now) : null;
  }

  /** Every budget with its current window (spent, held, remaining), in creation order. */
  budgetStatuses(now = Date.now()): BudgetStatus[] {
    const { timeZone } = this.getSettings();
    return this.#rules.list("budget").map((budget) => this.#book.status(budget, timeZone, now));
  }

  /** Holds not yet settled, for reconciliation checks (amounts as decimal nano-USD text). */
  openHolds(): { requestId: string; amountNano: string; expiresAt: number }[] {
    return this.#holds.list();
  }

  // ---- accounts: audit of dashboard actions, closure, purge -----------------------------------

  /** Audit events of actions taken outside the ledger (sign-ins, members, tokens, SSO), so they
   * join the tenant's one order of events. */
  async recordAudit(tenantId: string, drafts: AuditDraft[]): Promise<void> {
    this.#bindTenant(tenantId);
    this.ctx.storage.transactionSync(() => {
      for (const draft of drafts) this.#outbox.audit(draft);
    });
    await this.#send();
  }

  /** The organisation was closed: every key is revoked at once, so no call is admitted again. */
  async close(tenantId: string, now: number, actor: AuditActor): Promise<number> {
    this.#bindTenant(tenantId);
    const open = this.#catalog.listKeys().filter((k) => k.revokedAt === null);
    this.ctx.storage.transactionSync(() => {
      for (const key of open) this.#catalog.revokeKey(key.id, now);
      this.#outbox.mirror("UPDATE api_keys SET revoked_at = ?2 WHERE tenant_id = ?1 AND revoked_at IS NULL", [now]);
      this.#outbox.audit({
        at: now,
        type: "org.closed",
        actor,
        requestId: null,
        subject: tenantId,
        data: { keysRevoked: open.length },
      });
    });
    await this.#send();
    return open.length;
  }

  /** Deletes all this ledger stores: the purge of a closed organisation, 30 days on. Any later
   * call fails (its tables are gone), which is what a purged tenant should get. */
  async purge(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }

  // ---- housekeeping: outbox, hold expiry -----------------------------------------------------

  override async alarm(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      this.#holds.expire(now);
      this.#book.prune(this.#rules.list("budget"), this.getSettings().timeZone, now);
    });
    await this.#send();
    const wake = this.#holds.nextWake();
    if (wake !== null) await this.#schedule(wake);
  }

  /** Sends the outbox now; on failure the alarm retries. */
  async #send(): Promise<void> {
    const sent = await this.#outbox.flush(this.#tenantId());
    if (!sent) await this.#schedule(Date.now() + OUTBOX_RETRY_MS);
    else if (this.#outbox.hasQueued()) await this.#schedule(Date.now() + AUDIT_FLUSH_MS);
  }

  /** Makes sure the alarm fires no later than `at`. */
  async #schedule(at: number): Promise<void> {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    await this.ctx.storage.setAlarm(at);
  }

  #parts(): ChangeParts {
    return { catalog: this.#catalog, rules: this.#rules, book: this.#book, outbox: this.#outbox };
  }

  #bindTenant(tenantId: string): void {
    const row = this.#sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'tenant_id'").toArray()[0];
    if (!row) this.#sql.exec("INSERT INTO meta (k, v) VALUES ('tenant_id', ?)", tenantId);
    else if (row.v !== tenantId) throw new Error("ledger belongs to another tenant");
  }

  #tenantId(): string | null {
    return this.#sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = 'tenant_id'").toArray()[0]?.v ?? null;
  }
}
