// The cloud part's results (bench-results/cloud.json) and its targets (issue 14 §5).
import type { ImportRun } from "./cloud-import.ts";
import type { RssNow } from "./cloud-memory.ts";
import type { YearResult } from "./cloud-spend.ts";
import type { Machine } from "./results.ts";

export type CloudResults = {
  date: string;
  command: string;
  revision: string;
  machine: Machine;
  bill: {
    month: string;
    resources: number;
    rows: number;
    csvBytes: number;
    csvGzBytes: number;
    parquetBytes: number;
    rowGroupSize: number;
    totalNano: string;
  };
  /** Outlay's resident memory before any import */
  idle: RssNow;
  /** every isolate's V8 old space capped at this (MINIFLARE_WORKERD_V8_FLAGS=--max-old-space-size) */
  heapCapMb: number;
  imports: ImportRun[];
  year: YearResult;
  elapsedS: number;
};

export type CloudTarget = { name: string; result: string; limit: string; met: boolean };

export const ROWS_PER_SECOND_TARGET = 50_000;
export const MEMORY_TARGET_MB = 128;
export const SPEND_P95_TARGET_MS = 100;

const mb = (kb: number) => kb / 1024;

export function cloudTargets(r: CloudResults): CloudTarget[] {
  const targets: CloudTarget[] = [];
  for (const run of r.imports) {
    const done = run.status === "done";
    targets.push({
      name: `${run.format}: rows per second (rows read ÷ completion to done)`,
      result: done
        ? `${Math.round(run.rowsPerSecond).toLocaleString("en")} rows/s`
        : `${run.status}: ${run.error ?? ""}`,
      limit: `≥ ${ROWS_PER_SECOND_TARGET.toLocaleString("en")} rows/s`,
      met: done && run.rowsPerSecond >= ROWS_PER_SECOND_TARGET,
    });
    targets.push({
      name: `${run.format}: peak RSS of the workerd process (Outlay's isolate, Miniflare's D1, R2 and Workflow engine)`,
      result: `${mb(run.memory.peakWorkerdKb).toFixed(0)} MB (idle before: ${mb(run.memory.baseline.workerdKb).toFixed(0)} MB)`,
      limit: `< ${MEMORY_TARGET_MB} MB`,
      met: done && mb(run.memory.peakWorkerdKb) < MEMORY_TARGET_MB,
    });
    targets.push({
      name: `${run.format}: Outlay's isolate within the Workers limit (the import ends with V8's old space capped at ${r.heapCapMb} MB)`,
      result: done ? `ended (${run.status})` : `${run.status}: ${run.error ?? ""}`,
      limit: `cap ≤ ${MEMORY_TARGET_MB} MB`,
      met: done && r.heapCapMb <= MEMORY_TARGET_MB,
    });
    targets.push({
      name: `${run.format}: the spend API's total for the month equals the generator's exact sum`,
      result:
        run.spendTotalNano === run.expectedTotalNano
          ? "equal"
          : `${run.spendTotalNano} ≠ ${run.expectedTotalNano} nano-USD`,
      limit: "equal to the nano-USD",
      met: done && run.spendTotalNano === run.expectedTotalNano,
    });
  }
  targets.push({
    name: "year: the spend API's total equals the generator's exact sum",
    result:
      r.year.totalNano === r.year.expectedTotalNano ? "equal" : `${r.year.totalNano} ≠ ${r.year.expectedTotalNano}`,
    limit: "equal to the nano-USD",
    met: r.year.totalNano === r.year.expectedTotalNano,
  });
  for (const q of r.year.queries) {
    targets.push({
      name: q.name.startsWith("/cloud")
        ? `${q.name} (\`/cloud?${q.query}\`), p95`
        : `spend API, a year: ${q.name} (\`${q.query.replace(/^from=[^&]*&to=[^&]*&/, "")}\`), p95`,
      result: `${q.p95Ms.toFixed(1)} ms`,
      limit: `< ${SPEND_P95_TARGET_MS} ms`,
      met: q.p95Ms < SPEND_P95_TARGET_MS,
    });
  }
  return targets;
}
