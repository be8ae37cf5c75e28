// Renders the ledger part's results as Markdown: printed, and written into docs/benchmarks.md
// between the "ledger" markers (inside its "Ledger" section; appended when they are missing).
import { formatUsd, parseDecimal } from "../../shared/money.ts";
import { MODES, type Mode } from "./config.ts";
import {
  type LedgerModeResults,
  type LedgerResults,
  ledgerTargets,
  leaseShare,
  type OvershootResult,
  VARIANT_IDS,
  VARIANT_NAMES,
  type VariantId,
} from "./ledger-results.ts";
import type { Load } from "./results.ts";
import { writeBlock } from "./report.ts";
import { errorCount } from "./wrk.ts";

export const LEDGER_START_MARK = "<!-- bench:ledger:start -->";
export const LEDGER_END_MARK = "<!-- bench:ledger:end -->";

function ms(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : "n/a";
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(2)}%` : "n/a";
}

function row(label: string, cell: (id: VariantId) => string): string {
  return `| ${label} | ${VARIANT_IDS.map(cell).join(" | ")} |`;
}

function foreign(load: Load): string {
  return `${load.foreignCpuPct.toFixed(0)}%${load.attempts > 1 ? ` (${load.attempts} tries)` : ""}`;
}

function modeRows(mode: Mode, r: LedgerModeResults): string[] {
  const M = mode.toUpperCase();
  const lat = (id: VariantId) => r.latency[id].latency;
  const added = (id: VariantId, fn: (id: VariantId) => number) => (id === "C0" ? "—" : ms(fn(id) - fn("C0")));
  const lines = [
    row(`${M} p50 / p99 latency, c=1 (ms)`, (id) => `${ms(lat(id).p50Ms)} / ${ms(lat(id).p99Ms)}`),
    row(
      `${M} admission cost: added p50 / p99 over C0 (ms)`,
      (id) => `${added(id, (v) => lat(v).p50Ms)} / ${added(id, (v) => lat(v).p99Ms)}`,
    ),
  ];
  const ttft = (id: VariantId) => r.latency[id].ttft;
  if (ttft("C0")) {
    lines.push(
      row(
        `${M} time to first token p50 / p99 (ms)`,
        (id) => `${ms(ttft(id)?.p50Ms ?? NaN)} / ${ms(ttft(id)?.p99Ms ?? NaN)}`,
      ),
      row(`${M} added TTFT p50 over C0 (ms)`, (id) => added(id, (v) => ttft(v)?.p50Ms ?? NaN)),
    );
  }
  lines.push(
    row(`${M} requests measured at c=1; admitted from a lease`, (id) => {
      const l = r.latency[id];
      return `${l.requests}; ${pct(l.marked, l.requests)}`;
    }),
    row(`${M} throughput, c=64 (calls/s)`, (id) => r.throughput[id].rps.toFixed(0)),
    row(`${M} throughput ÷ C0`, (id) => `${(r.throughput[id].rps / r.throughput.C0.rps).toFixed(2)}×`),
    row(`${M} admitted from a lease, c=64`, (id) => {
      const share = leaseShare(r.throughput[id]);
      const marks = r.throughput[id].marks;
      return Number.isFinite(share) && marks ? `${share.toFixed(2)}% of ${marks.responses}` : "n/a";
    }),
    row(`${M} CPU per call at c=64 (ms)`, (id) => ms(r.cpu[id].msPerRequest)),
    row(`${M} added CPU per call over C0 (ms)`, (id) => added(id, (v) => r.cpu[v].msPerRequest)),
    row(`${M} failed calls (c=1, c=64)`, (id) => `${r.latency[id].failures}, ${errorCount(r.throughput[id])}`),
    row(`${M} other processes' CPU (c=1, c=64)`, (id) => `${foreign(r.latency[id])}, ${foreign(r.throughput[id])}`),
  );
  return lines;
}

function overshootRows(r: LedgerResults): string[] {
  const o = r.overshoot;
  const cell = (fn: (x: OvershootResult) => string) => `${fn(o.strict)} | ${fn(o.lease)}`;
  const status = (x: OvershootResult) => {
    const by = x.loop.byStatus;
    const other = x.loop.responses - (by["200"] ?? 0) - (by["402"] ?? 0);
    return `${by["200"] ?? 0} / ${by["402"] ?? 0} / ${other}`;
  };
  return [
    "| Budget driven to exhaustion at c=64 (JSON) | strict | lease |",
    "|---|---:|---:|",
    `| budget limit (USD) | ${cell((x) => x.limitUsd)} |`,
    `| calls answered 200 / 402 / other | ${cell(status)} |`,
    `| of the 200s, admitted from a lease | ${cell((x) => pct(x.loop.marked, x.loop.byStatus["200"] ?? 0))} |`,
    `| calls to the ledger before the first leased one; first leased after (ms) | ${cell((x) =>
      x.mode === "lease" ? `${x.loop.beforeFirstMark}; ${x.loop.firstMarkMs?.toFixed(0) ?? "none"}` : "—",
    )} |`,
    `| spent_usd (GET /api/v1/budgets/{id}) | ${cell((x) => x.books.spentUsd)} |`,
    `| limit − spent (USD) | ${cell((x) => formatUsd((parseDecimal(x.limitUsd) ?? 0n) - (parseDecimal(x.books.spentUsd) ?? 0n)))} |`,
    `| held_usd after the drive | ${cell((x) => x.books.heldUsd)} |`,
    `| usage events: cost_usd (events) | ${cell((x) => `${x.usage.costUsd} (${x.usage.requests})`)} |`,
    `| overshoot: max(0, spent − limit) ÷ limit | ${cell((x) => `${x.overshootPct.toFixed(3)}%`)} |`,
    `| drive (s); books read after (s) | ${cell((x) => `${x.loop.durationS.toFixed(1)}; ${(x.bookedAfterMs / 1_000).toFixed(1)}`)} |`,
  ];
}

export function renderLedger(r: LedgerResults): string {
  const mc = r.machine;
  const lines: string[] = [
    "### Ledger: latest run",
    "",
    `- Date: ${r.date} (ledger part ${r.elapsedS.toFixed(0)} s)`,
    `- Command: \`${r.command}\`; Outlay bundled from ${r.revision}`,
    `- Machine: ${mc.nproc} CPUs, ${mc.cpuModel}, Linux ${mc.kernel}; Node ${mc.node}, workerd ${mc.workerd}, ${mc.wrk}`,
    `- Points: ${r.config.durationS} s measured after ${r.config.warmupS} s warm-up each; c=1 with the sequential raw-socket client, c=64 with \`wrk -t${r.config.throughputThreads} -c64\` and a Lua \`response\` hook counting \`x-outlay-admission: lease\``,
    "",
    `| | ${VARIANT_IDS.map((id) => VARIANT_NAMES[id]).join(" | ")} |`,
    `|---|${VARIANT_IDS.map(() => "---:").join("|")}|`,
  ];
  for (const mode of MODES) lines.push(...modeRows(mode, r.modes[mode]));
  const w = r.warmup;
  const c64 = r.overshoot.lease.loop;
  lines.push(
    "",
    `Lease warm-up: a fresh lease-mode tenant's first ${w.calls} call(s) at c=1 went to the ledger (the isolate had no lease yet); the first call admitted from the lease was answered ${w.ms?.toFixed(1) ?? "never"} ms after the first was sent. At c=64 (the lease overshoot run, also a fresh tenant) ${c64.beforeFirstMark} calls went to the ledger before the first leased one (${c64.firstMarkMs?.toFixed(0) ?? "never"} ms).`,
    "",
    `Overshoot budget: ${r.overshoot.lease.limitUsd} USD = ${r.probe.budgetCalls} × the worst-case hold of one bench call (${r.probe.worstCaseUsd} USD, read from the remaining-budget header of a probe call); the call actually costs ${r.probe.actualCostUsd} USD.`,
    "",
    ...overshootRows(r),
    "",
    "| Target | Result | Limit | Met |",
    "|---|---:|---|---|",
    ...ledgerTargets(r).map((t) => `| ${t.name} | ${t.detail} | ${t.limit} | ${t.met ? "met" : "**not met**"} |`),
    "",
  );
  return lines.join("\n");
}

export function writeLedgerDocs(docsPath: string, markdown: string): void {
  writeBlock(docsPath, { start: LEDGER_START_MARK, end: LEDGER_END_MARK }, markdown, (text, block) => {
    return `${text.trimEnd()}\n\n## Ledger\n\n${block}\n`;
  });
}
