// Shapes of the ledger part's results (bench-results/ledger.json) and its targets: lease mode
// ≥ 1,000 calls/s at c=64, ≥ 95% of them admitted without a ledger round trip, overshoot of a
// budget driven to exhaustion ≤ 1% of its limit.
import type { Mode } from "./config.ts";
import type { BudgetBooks, UsageTotals } from "./ledger-setup.ts";
import type { LoopResult } from "./closed-loop.ts";
import type { CpuResult, Load, Machine } from "./results.ts";
import type { SequentialResult } from "./sequential.ts";
import type { WrkResult } from "./wrk.ts";

export const VARIANT_IDS = ["C0", "strict", "lease"] as const;
export type VariantId = (typeof VARIANT_IDS)[number];
export type PerVariant<T> = Record<VariantId, T>;

export const VARIANT_NAMES: PerVariant<string> = { C0: "C0 no rules", strict: "C-strict", lease: "C-lease" };

export type LedgerModeResults = {
  /** Concurrency 1 (sequential client); `marked` counts responses admitted from a lease. */
  latency: PerVariant<SequentialResult & Load>;
  /** Concurrency 64 (wrk with a script counting responses admitted from a lease). */
  throughput: PerVariant<WrkResult & Load>;
  cpu: PerVariant<CpuResult>;
};

/** Calls of a fresh lease-mode tenant that went to the ledger before the first one admitted from a lease. */
export type Warmup = { connections: number; calls: number; ms: number | null };

export type OvershootResult = {
  mode: "strict" | "lease";
  limitUsd: string;
  loop: LoopResult;
  books: BudgetBooks;
  usage: UsageTotals;
  /** max(0, spent − limit) ÷ limit, in % */
  overshootPct: number;
  /** How long after the drive the books were read. */
  bookedAfterMs: number;
};

export type LedgerResults = {
  date: string;
  command: string;
  revision: string;
  machine: Machine;
  config: Record<string, number>;
  modes: Record<Mode, LedgerModeResults>;
  warmup: Warmup;
  /** One call under a big budget: its worst-case hold and its actual cost (USD); the overshoot
   * budget is `budgetCalls` worst-case holds. */
  probe: { worstCaseUsd: string; actualCostUsd: string; budgetCalls: number };
  overshoot: { strict: OvershootResult; lease: OvershootResult };
  elapsedS: number;
};

export type LedgerTarget = { name: string; detail: string; limit: string; met: boolean };

/** Share of responses admitted from a lease, in % (NaN without counts). */
export function leaseShare(wrk: WrkResult): number {
  const marks = wrk.marks;
  return marks && marks.responses > 0 ? (100 * marks.marked) / marks.responses : Number.NaN;
}

export const THROUGHPUT_TARGET = 1_000;
export const LEASE_SHARE_TARGET = 95;
export const OVERSHOOT_TARGET = 1;

export function ledgerTargets(r: LedgerResults): LedgerTarget[] {
  const out: LedgerTarget[] = [];
  for (const mode of ["json", "sse"] as const) {
    const lease = r.modes[mode].throughput.lease;
    const M = mode.toUpperCase();
    out.push({
      name: `Lease mode throughput at c=64, ${M}`,
      detail: `${lease.rps.toFixed(0)} calls/s`,
      limit: `≥ ${THROUGHPUT_TARGET.toLocaleString("en-US")} calls/s`,
      met: lease.rps >= THROUGHPUT_TARGET,
    });
    const share = leaseShare(lease);
    out.push({
      name: `Calls admitted without a ledger round trip at c=64, ${M}`,
      detail: `${Number.isFinite(share) ? share.toFixed(2) : "n/a"}%`,
      limit: `≥ ${LEASE_SHARE_TARGET}%`,
      met: share >= LEASE_SHARE_TARGET,
    });
  }
  const over = r.overshoot.lease.overshootPct;
  out.push({
    name: "Overshoot of an exhausted budget, lease mode, c=64",
    detail: `${over.toFixed(3)}%`,
    limit: `≤ ${OVERSHOOT_TARGET}%`,
    met: over <= OVERSHOOT_TARGET,
  });
  return out;
}
