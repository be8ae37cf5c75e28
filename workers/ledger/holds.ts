// Holds of calls in flight and their settlement. Admission opens a hold for the call's worst
// case; a running stream draws it down (what it used moves from held to spent, and the hold may
// grow while blocking budgets have room); settlement replaces it by the actual cost, once per
// request id; a hold whose call never settles expires and its usage event, when it comes, is
// booked by attribution instead. Every method runs inside the ledger's transaction.
import { SYSTEM } from "../../shared/audit.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import type { Take } from "./admission.ts";
import { budgetCovers, type Budget, type BudgetBook, type Crossing } from "./budgets.ts";
import type { Outbox } from "./outbox.ts";
import type { RateLimiter } from "./rate-limits.ts";
import type { RuleStore } from "./rules.ts";
import { HeldBudgets, HeldLimits } from "./stored-holds.ts";
import { parseStored } from "../../shared/stored-json.ts";
import { requestIdFloor } from "../../shared/ids.ts";

/** A hold whose call never settles is released after this long (the usage event reconciles it). */
export const HOLD_TTL_MS = 15 * 60_000;
/**
 * Settled request ids are remembered this long, so a second settle of the same call is ignored:
 * the usage consumer's re-settle comes within the queue's retries (10, backoff at most 60 s).
 * Longer would cost storage: a tenant at 1,000 calls/s keeps about 7 million ids in two hours.
 */
export const SETTLED_KEEP_MS = 2 * 3_600_000;
/** Settled ids are swept at most this often (holds.ts nextWake). */
const SETTLED_SWEEP_MS = 60_000;

type HoldRow = {
  request_id: string;
  key_id: string;
  amount: string;
  drawn: string;
  tokens: number;
  budgets: string;
  limits: string;
  created_at: number;
  expires_at: number;
};

type Booked = { budget: Budget; key: number };

export class Holds {
  readonly #sql: SqlStorage;
  readonly #book: BudgetBook;
  readonly #rules: RuleStore;
  readonly #limiter: RateLimiter;
  readonly #outbox: Outbox;

  constructor(sql: SqlStorage, book: BudgetBook, rules: RuleStore, limiter: RateLimiter, outbox: Outbox) {
    this.#sql = sql;
    this.#book = book;
    this.#rules = rules;
    this.#limiter = limiter;
    this.#outbox = outbox;
  }

  /** Takes what admission decided; returns whether a hold row was written (then the call must settle). */
  open(requestId: string, keyId: string, take: Take, now: number): boolean {
    this.#limiter.take(take.limits, take.tokens, now);
    // A hold row when there is money held or token allowance to give back at settlement.
    const held = take.amount > 0n || (take.tokens > 0 && take.limits.some((l) => l.spec.tokensPerMinute !== null));
    if (!held) return false;
    this.#sql.exec(
      `INSERT OR REPLACE INTO holds (request_id, key_id, amount, drawn, tokens, budgets, limits, created_at, expires_at)
       VALUES (?, ?, ?, '0', ?, ?, ?, ?, ?)`,
      requestId,
      keyId,
      take.amount.toString(),
      take.tokens,
      JSON.stringify(take.budgets.map((b) => [b.budget.id, b.key])),
      JSON.stringify(take.limits.map((l) => l.id)),
      now,
      now + HOLD_TTL_MS,
    );
    this.#book.adjustHeld(
      take.budgets.map((b) => b.budget.id),
      take.amount,
    );
    return true;
  }

  /**
   * Changes a lease's hold on one budget by `delta` (never below zero) and keeps it alive for
   * `ttlMs`; returns the new amount. One hold row per lease and budget, id "lease:<lease>:<budget>".
   */
  adjustLease(leaseId: string, budget: Budget, key: number, delta: bigint, now: number, ttlMs: number): bigint {
    const id = `lease:${leaseId}:${budget.id}`;
    const before = BigInt(this.#row(id)?.amount ?? "0");
    const after = before + delta > 0n ? before + delta : 0n;
    if (after === 0n) {
      this.#sql.exec("DELETE FROM holds WHERE request_id = ?", id);
    } else {
      this.#sql.exec(
        `INSERT INTO holds (request_id, key_id, amount, drawn, tokens, budgets, limits, created_at, expires_at)
         VALUES (?, '', ?, '0', 0, ?, '[]', ?, ?)
         ON CONFLICT (request_id) DO UPDATE SET amount = excluded.amount, expires_at = excluded.expires_at`,
        id,
        after.toString(),
        JSON.stringify([[budget.id, key]]),
        now,
        now + ttlMs,
      );
    }
    this.#book.adjustHeld([budget.id], after - before);
    return after;
  }

  #row(requestId: string): HoldRow | undefined {
    return this.#sql.exec<HoldRow>("SELECT * FROM holds WHERE request_id = ?", requestId).toArray()[0];
  }

  #booked(hold: HoldRow): { ids: string[]; booked: Booked[] } {
    const entries = parseStored(HeldBudgets, hold.budgets, "hold budgets");
    const booked = entries.flatMap(([id, key]) => {
      const budget = this.#rules.get("budget", id);
      return budget ? [{ budget, key }] : [];
    });
    return { ids: entries.map(([id]) => id), booked };
  }

  /** Settles each event once; returns how many thresholds were crossed (announced as audit events). */
  settle(events: readonly UsageEvent[], timeZone: string, now: number): number {
    // Charges are summed per budget and window first: a batch (a lease report) writes each once.
    const charges = new Map<string, Booked & { amount: bigint }>();
    for (const event of events) {
      const settled = this.#settleOne(event, timeZone, now);
      if (!settled) continue;
      for (const { budget, key } of settled.booked) {
        const id = `${budget.id}\u0000${key}`;
        const entry = charges.get(id) ?? { budget, key, amount: 0n };
        entry.amount += settled.amount;
        charges.set(id, entry);
      }
    }
    const crossings: Crossing[] = [];
    for (const c of charges.values()) crossings.push(...this.#book.charge(c.budget, c.key, c.amount, timeZone, now));
    this.#announce(crossings, now);
    return crossings.length;
  }

  /** Releases the event's hold (if any) and marks it settled; returns what to charge where. */
  #settleOne(event: UsageEvent, timeZone: string, now: number): { booked: Booked[]; amount: bigint } | null {
    if (this.#sql.exec("SELECT 1 FROM settled WHERE request_id = ?", event.requestId).toArray().length > 0) return null;
    const hold = this.#row(event.requestId);
    const cost = BigInt(event.costNanoUsd ?? 0);
    let booked: Booked[];
    let drawn = 0n;
    if (hold) {
      drawn = BigInt(hold.drawn);
      const entries = this.#booked(hold);
      booked = entries.booked;
      this.#book.adjustHeld(entries.ids, drawn - BigInt(hold.amount));
      const limits = parseStored(HeldLimits, hold.limits, "hold rate limits").flatMap(
        (id) => this.#rules.get("rate_limit", id) ?? [],
      );
      this.#limiter.refund(limits, hold.tokens - event.usage.inputTokens - event.usage.outputTokens, now);
      this.#sql.exec("DELETE FROM holds WHERE request_id = ?", event.requestId);
    } else {
      // No hold: its call was admitted before any budget covered it, or the hold expired.
      const attribution = {
        keyId: event.keyId,
        provider: event.provider,
        model: event.model,
        dimensions: event.dimensions,
      };
      booked = this.#rules
        .list("budget")
        .filter((b) => budgetCovers(b, attribution))
        .map((budget) => ({ budget, key: this.#book.keyAt(budget, timeZone, event.startedAt) }));
      if (booked.length === 0 || cost === 0n) return null;
    }
    this.#sql.exec("INSERT INTO settled (request_id, at) VALUES (?, ?)", event.requestId, now);
    return { booked, amount: cost - drawn };
  }

  /**
   * A running stream's draw-down: books what it has used so far (moved from held to spent, up to
   * the hold) and, when it wants more, extends the hold by what every blocking budget it counts
   * against still has, up to `wantNano` in all. The amount is 0n when the hold is gone (settled
   * or expired), which ends the stream.
   */
  draw(requestId: string, usedNano: bigint, wantNano: bigint, timeZone: string, now: number) {
    const hold = this.#row(requestId);
    if (!hold) return { amount: 0n, crossings: 0 };
    const { ids, booked } = this.#booked(hold);
    let amount = BigInt(hold.amount);
    let drawn = BigInt(hold.drawn);
    if (wantNano > amount) {
      let room = wantNano - amount;
      for (const { budget } of booked) {
        if (budget.spec.mode !== "block") continue;
        const left = this.#book.status(budget, timeZone, now).remainingNano;
        if (left < room) room = left > 0n ? left : 0n;
      }
      amount += room;
      this.#book.adjustHeld(ids, room);
    }
    const use = (usedNano < amount ? usedNano : amount) - drawn;
    const crossings: Crossing[] = [];
    if (use > 0n) {
      drawn += use;
      this.#book.adjustHeld(ids, -use);
      for (const { budget, key } of booked) crossings.push(...this.#book.charge(budget, key, use, timeZone, now));
    }
    this.#sql.exec(
      "UPDATE holds SET amount = ?, drawn = ?, expires_at = ? WHERE request_id = ?",
      amount.toString(),
      drawn.toString(),
      now + HOLD_TTL_MS,
      requestId,
    );
    this.#announce(crossings, now);
    return { amount, crossings: crossings.length };
  }

  /** Releases holds of calls that never settled; their usage events settle them later if they come. */
  expire(now: number): void {
    for (const hold of this.#sql.exec<HoldRow>("SELECT * FROM holds WHERE expires_at <= ?", now).toArray()) {
      this.#book.adjustHeld(this.#booked(hold).ids, BigInt(hold.drawn) - BigInt(hold.amount));
      this.#sql.exec("DELETE FROM holds WHERE request_id = ?", hold.request_id);
      this.#outbox.audit({
        at: now,
        type: "hold.expired",
        actor: SYSTEM,
        requestId: hold.request_id,
        subject: null,
        data: { heldNanoUsd: hold.amount, keyId: hold.key_id },
      });
    }
    // Request ids sort by the time their call started, before it settled: the old ones are a
    // range of the key. The time check keeps any id made otherwise until it is old too.
    const cut = now - SETTLED_KEEP_MS;
    this.#sql.exec("DELETE FROM settled WHERE request_id < ? AND at < ?", requestIdFloor(cut), cut);
  }

  /** When the alarm must next look at holds and settled ids, or null. */
  nextWake(now: number): number | null {
    const expiry = this.#sql.exec<{ at: number | null }>("SELECT MIN(expires_at) AS at FROM holds").one().at;
    // The first id by key is the oldest call's (a scan of every settled id for MIN(at) is not); an
    // id made otherwise may sort first and stay, so this wake is never sooner than a sweep apart.
    const first = this.#sql.exec<{ at: number }>("SELECT at FROM settled ORDER BY request_id LIMIT 1").toArray()[0];
    const sweep = first ? Math.max(first.at + SETTLED_KEEP_MS, now + SETTLED_SWEEP_MS) : Infinity;
    const wake = Math.min(expiry ?? Infinity, sweep);
    return Number.isFinite(wake) ? wake : null;
  }

  list(): { requestId: string; amountNano: string; expiresAt: number }[] {
    return this.#sql
      .exec<HoldRow>("SELECT * FROM holds ORDER BY created_at")
      .toArray()
      .map((h) => ({ requestId: h.request_id, amountNano: h.amount, expiresAt: h.expires_at }));
  }

  #announce(crossings: readonly Crossing[], now: number): void {
    for (const c of crossings) {
      this.#outbox.audit({
        at: now,
        type: "budget.threshold",
        actor: SYSTEM,
        requestId: null,
        subject: c.budget.id,
        data: {
          name: c.budget.spec.name,
          percent: c.percent,
          mode: c.budget.spec.mode,
          windowKey: c.windowKey,
          spentNanoUsd: c.spentNano.toString(),
          limitNanoUsd: c.budget.spec.limitNano,
        },
      });
    }
  }
}
