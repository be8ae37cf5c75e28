// Budget accounting inside the ledger. Spend is booked per budget and window key (the calendar
// window's start in the tenant's zone, 0 for lifetime, the bucket's start for rolling windows);
// holds of calls in flight are kept per budget in memory, rebuilt from the holds table on load.
// Amounts are bigint nano-USD, stored as decimal text.
import { globMatch } from "../../shared/glob.ts";
import { windowKey, windowRange } from "../../shared/windows.ts";
import type { BudgetStatus, RuleRecord } from "./types.ts";
import { HeldBudgets } from "./stored-holds.ts";
import { parseStored } from "../../shared/stored-json.ts";

export type Budget = RuleRecord<"budget">;

/** The attributes of a call a budget scope is matched against. */
export type Attribution = { keyId: string; provider: string; model: string; dimensions: Record<string, string> };

/** A budget's key for alert rows of rolling windows, which have no window of their own to fire once in. */
const ROLLING_ALERTS = -1;

export function budgetCovers(budget: Budget, call: Attribution): boolean {
  const { keyId, provider, model, dimensions } = budget.spec.scope;
  if (keyId !== undefined && keyId !== call.keyId) return false;
  if (provider !== undefined && !globMatch(provider, call.provider)) return false;
  if (model !== undefined && !globMatch(model, call.model)) return false;
  if (dimensions)
    for (const [name, value] of Object.entries(dimensions)) if (call.dimensions[name] !== value) return false;
  return true;
}

export type Crossing = { budget: Budget; percent: number; windowKey: number; spentNano: bigint };

export class BudgetBook {
  readonly #sql: SqlStorage;
  /** held nano-USD per budget id; null until loaded from the holds table */
  #held: Map<string, bigint> | null = null;
  /** spend of the current calendar (or lifetime) window per budget id */
  #spent = new Map<string, { key: number; spent: bigint }>();
  /** the current calendar window per budget */
  #windows = new Map<string, { start: number; end: number; timeZone: string }>();

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  #heldMap(): Map<string, bigint> {
    if (!this.#held) {
      const held = new Map<string, bigint>();
      for (const row of this.#sql.exec<{ amount: string; drawn: string; budgets: string }>(
        "SELECT amount, drawn, budgets FROM holds",
      )) {
        const open = BigInt(row.amount) - BigInt(row.drawn);
        for (const [id] of parseStored(HeldBudgets, row.budgets, "hold budgets"))
          held.set(id, (held.get(id) ?? 0n) + open);
      }
      this.#held = held;
    }
    return this.#held;
  }

  held(budgetId: string): bigint {
    return this.#heldMap().get(budgetId) ?? 0n;
  }

  adjustHeld(budgetIds: readonly string[], delta: bigint): void {
    const held = this.#heldMap();
    for (const id of budgetIds) held.set(id, (held.get(id) ?? 0n) + delta);
  }

  /** The calendar window containing `at`, remembered per budget until it ends (Intl is slow). */
  #window(budget: Budget, timeZone: string, at: number): { start: number; end: number } {
    const cached = this.#windows.get(budget.id);
    if (cached && cached.timeZone === timeZone && at >= cached.start && at < cached.end) return cached;
    const range = windowRange(budget.spec.window, timeZone, at);
    this.#windows.set(budget.id, { ...range, timeZone });
    return range;
  }

  /** The window key a spend at `at` is booked under. */
  keyAt(budget: Budget, timeZone: string, at: number): number {
    const { window } = budget.spec;
    return window.kind === "rolling" ? windowKey(window, timeZone, at) : this.#window(budget, timeZone, at).start;
  }

  /** Spend in the window that contains `at`. */
  spent(budget: Budget, timeZone: string, at: number): bigint {
    const { window } = budget.spec;
    if (window.kind === "rolling") {
      const range = windowRange(window, timeZone, at);
      let total = 0n;
      for (const row of this.#sql.exec<{ spent: string }>(
        "SELECT spent FROM budget_spend WHERE budget_id = ? AND window_key >= ? AND window_key < ?",
        budget.id,
        range.start,
        range.end,
      )) {
        total += BigInt(row.spent);
      }
      return total;
    }
    const key = this.#window(budget, timeZone, at).start;
    const cached = this.#spent.get(budget.id);
    if (cached && cached.key === key) return cached.spent;
    const row = this.#sql
      .exec<{ spent: string }>("SELECT spent FROM budget_spend WHERE budget_id = ? AND window_key = ?", budget.id, key)
      .toArray()[0];
    const spent = row ? BigInt(row.spent) : 0n;
    this.#spent.set(budget.id, { key, spent });
    return spent;
  }

  status(budget: Budget, timeZone: string, at: number): BudgetStatus {
    const range = windowRange(budget.spec.window, timeZone, at);
    const spentNano = this.spent(budget, timeZone, at);
    const heldNano = this.held(budget.id);
    return {
      ...budget,
      windowStart: range.start,
      windowEnd: range.end,
      spentNano,
      heldNano,
      remainingNano: BigInt(budget.spec.limitNano) - spentNano - heldNano,
    };
  }

  /**
   * Books `amount` (may be negative: a correction) under the window key and returns the
   * thresholds this crossed, each recorded so that it fires once per window.
   */
  charge(budget: Budget, key: number, amount: bigint, timeZone: string, now: number): Crossing[] {
    if (amount !== 0n) {
      const row = this.#sql
        .exec<{ spent: string }>(
          "SELECT spent FROM budget_spend WHERE budget_id = ? AND window_key = ?",
          budget.id,
          key,
        )
        .toArray()[0];
      const next = (row ? BigInt(row.spent) : 0n) + amount;
      // An upsert writes one row; INSERT OR REPLACE wrote two (the row and its key's index).
      this.#sql.exec(
        `INSERT INTO budget_spend (budget_id, window_key, spent) VALUES (?, ?, ?)
           ON CONFLICT (budget_id, window_key) DO UPDATE SET spent = excluded.spent`,
        budget.id,
        key,
        next.toString(),
      );
      const cached = this.#spent.get(budget.id);
      if (cached && cached.key === key) cached.spent = next;
    }
    return this.#crossings(budget, key, timeZone, now);
  }

  #crossings(budget: Budget, key: number, timeZone: string, now: number): Crossing[] {
    const { window, thresholds } = budget.spec;
    const limit = BigInt(budget.spec.limitNano);
    const rolling = window.kind === "rolling";
    // Thresholds of the window the spend was booked in; a rolling window is judged as it stands now.
    const spent = rolling ? this.spent(budget, timeZone, now) : this.spent(budget, timeZone, key);
    const alertKey = rolling ? ROLLING_ALERTS : key;
    const fired = new Set(
      this.#sql
        .exec<{ percent: number }>(
          "SELECT percent FROM budget_alerts WHERE budget_id = ? AND window_key = ?",
          budget.id,
          alertKey,
        )
        .toArray()
        .map((r) => r.percent),
    );
    const crossings: Crossing[] = [];
    for (const percent of thresholds) {
      const reached = spent * 100n >= BigInt(percent) * limit;
      if (reached && !fired.has(percent)) {
        this.#sql.exec(
          "INSERT INTO budget_alerts (budget_id, window_key, percent, at) VALUES (?, ?, ?, ?)",
          budget.id,
          alertKey,
          percent,
          now,
        );
        crossings.push({ budget, percent, windowKey: alertKey, spentNano: spent });
      } else if (!reached && fired.has(percent) && rolling) {
        // Spend slid out of the rolling window below this threshold: it may fire again.
        this.#sql.exec(
          "DELETE FROM budget_alerts WHERE budget_id = ? AND window_key = ? AND percent = ?",
          budget.id,
          alertKey,
          percent,
        );
      }
    }
    return crossings;
  }

  /**
   * The tenant's time zone changed: the spend and alerts of the window that was current move to
   * the window that is current in the new zone, so a zone change neither drops nor doubles them.
   */
  rekey(budgetId: string, from: number, to: number): void {
    if (from === to) return;
    const row = this.#sql
      .exec<{ spent: string }>("SELECT spent FROM budget_spend WHERE budget_id = ? AND window_key = ?", budgetId, from)
      .toArray()[0];
    if (row) {
      const existing = this.#sql
        .exec<{ spent: string }>("SELECT spent FROM budget_spend WHERE budget_id = ? AND window_key = ?", budgetId, to)
        .toArray()[0];
      const total = BigInt(row.spent) + (existing ? BigInt(existing.spent) : 0n);
      this.#sql.exec("DELETE FROM budget_spend WHERE budget_id = ? AND window_key = ?", budgetId, from);
      this.#sql.exec(
        "INSERT OR REPLACE INTO budget_spend (budget_id, window_key, spent) VALUES (?, ?, ?)",
        budgetId,
        to,
        total.toString(),
      );
    }
    this.#sql.exec(
      "UPDATE OR IGNORE budget_alerts SET window_key = ? WHERE budget_id = ? AND window_key = ?",
      to,
      budgetId,
      from,
    );
    this.#sql.exec("DELETE FROM budget_alerts WHERE budget_id = ? AND window_key = ?", budgetId, from);
    this.#spent.delete(budgetId);
  }

  /** A budget's window changed or the budget is gone: its spend and alerts start afresh. */
  reset(budgetId: string): void {
    this.#sql.exec("DELETE FROM budget_spend WHERE budget_id = ?", budgetId);
    this.#sql.exec("DELETE FROM budget_alerts WHERE budget_id = ?", budgetId);
    this.#spent.delete(budgetId);
    this.#windows.delete(budgetId);
  }

  /** Drops spend rows no window can count any more (older than the longest rolling window). */
  prune(budgets: readonly Budget[], timeZone: string, now: number): void {
    for (const budget of budgets) {
      const { window } = budget.spec;
      if (window.kind !== "rolling") continue;
      const { start } = windowRange(window, timeZone, now);
      this.#sql.exec("DELETE FROM budget_spend WHERE budget_id = ? AND window_key < ?", budget.id, start);
    }
  }
}
