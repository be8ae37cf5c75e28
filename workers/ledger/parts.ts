// What a TenantLedger is made of, built once per instance: its storage, the stores over it
// (catalog, rules, budget book, holds), the in-memory rate limiter and the outbox, plus the
// housekeeping that keeps them moving: sending the outbox after a change and the alarm that
// retries sends, expires holds and prunes old windows. The modules that carry out each RPC
// method (key-changes.ts, rule-changes.ts, config-changes.ts, admit-call.ts, settlement.ts,
// organisation.ts) take it as their first argument.
import { BudgetBook } from "./budgets.ts";
import { Catalog } from "./catalog.ts";
import { Holds } from "./holds.ts";
import { Outbox } from "./outbox.ts";
import { RateLimiter } from "./rate-limits.ts";
import { RuleStore } from "./rules.ts";
import { boundTenant } from "./schema.ts";

const OUTBOX_RETRY_MS = 10_000;
/** Audit events are sent in batches at most this long after the decision. */
export const AUDIT_FLUSH_MS = 500;

export class LedgerParts {
  readonly storage: DurableObjectStorage;
  readonly sql: SqlStorage;
  readonly catalog: Catalog;
  readonly rules: RuleStore;
  readonly book: BudgetBook;
  readonly limiter = new RateLimiter();
  readonly holds: Holds;
  readonly outbox: Outbox;
  /** When the alarm is set for, as far as this instance knows. */
  #alarmAt: number | null = null;

  constructor(storage: DurableObjectStorage, env: Env) {
    this.storage = storage;
    this.sql = storage.sql;
    this.outbox = new Outbox(this.sql, env);
    this.catalog = new Catalog(this.sql);
    this.rules = new RuleStore(this.sql);
    this.book = new BudgetBook(this.sql);
    this.holds = new Holds(this.sql, this.book, this.rules, this.limiter, this.outbox);
  }

  /** Sends the outbox now; on failure the alarm retries. */
  async send(): Promise<void> {
    const sent = await this.outbox.flush(boundTenant(this.sql));
    if (!sent) await this.wakeBy(Date.now() + OUTBOX_RETRY_MS);
    else if (this.outbox.hasQueued()) await this.wakeBy(Date.now() + AUDIT_FLUSH_MS);
  }

  /** Makes sure the alarm fires no later than `at`. */
  async wakeBy(at: number): Promise<void> {
    if (this.#alarmAt !== null && this.#alarmAt <= at) return;
    this.#alarmAt = at;
    await this.storage.setAlarm(at);
  }

  /** The alarm: expires holds, prunes budget windows, sends the outbox, sets the next wake. */
  async housekeep(): Promise<void> {
    this.#alarmAt = null;
    const now = Date.now();
    this.storage.transactionSync(() => {
      this.holds.expire(now);
      this.book.prune(this.rules.list("budget"), this.catalog.settings().timeZone, now);
    });
    await this.send();
    const wake = this.holds.nextWake(now);
    if (wake !== null) await this.wakeBy(wake);
  }
}
