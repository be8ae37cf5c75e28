// The dashboard benchmark's results: their shape (bench-results/dashboard.json), the Markdown
// printed and written into docs/benchmarks.md between the "dashboard" markers (the latest run)
// and the "dashboard-plans" markers (the pages' query plans, in the method section).
import type { PageResult } from "./dashboard-measure.ts";
import { MANY_ROWS, planText, type QueryPlan } from "./dashboard-plans.ts";
import type { SumRow } from "./dashboard-inspect.ts";
import { stats } from "./dashboard-client.ts";
import type { Machine } from "./results.ts";
import { writeBlock } from "./report.ts";

export const DASHBOARD_START_MARK = "<!-- bench:dashboard:start -->";
export const DASHBOARD_END_MARK = "<!-- bench:dashboard:end -->";
export const PLANS_START_MARK = "<!-- bench:dashboard-plans:start -->";
export const PLANS_END_MARK = "<!-- bench:dashboard-plans:end -->";

export type Sums = { events: SumRow[]; rollups: SumRow[]; daily: SumRow[] };

export type DataFacts = {
  events: number;
  generated: number;
  refusals: number;
  refusalsByStatus: Record<string, number>;
  days: number;
  keys: number;
  rollupRows: Record<string, number>;
  dailyRows: Record<string, number>;
  keysUsed: number;
  lastUsedWrong: number;
  refusedAudit: number;
  /** SQLite's own size of the D1 database after seeding (page count × page size) */
  dbBytes: number;
  /** the database's files on disk (with the WAL) when the pages were measured */
  dbFileBytes: number;
  seedS: number;
  eventS: number;
  rollupS: number;
  checkS: number;
  sums: Sums;
  sumsMatch: boolean;
};

export type DashboardResults = {
  date: string;
  command: string;
  revision: string;
  machine: Machine;
  config: Record<string, number>;
  data: DataFacts;
  baseline: string;
  pages: PageResult[];
  plans: QueryPlan[];
  elapsedS: number;
};

const n = (v: number) => v.toLocaleString("en");
const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "n/a");
const kb = (v: number) => (v / 1024).toFixed(1);
const x = (v: number) => (Number.isFinite(v) ? `${v.toFixed(2)}×` : "n/a");

function pageTable(r: DashboardResults): string[] {
  const base = r.pages.find((p) => p.id === r.baseline);
  if (!base) throw new Error(`no baseline page ${r.baseline}`);
  const b = base.latency;
  const lines = [
    "| page | requests | p50 (ms) | p95 (ms) | p99 (ms) | p50 / p95 / p99 ÷ baseline's | first request (ms) | size KB (gzip) | Worker CPU per request (ms) | others' CPU |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  const notes: string[] = [];
  for (const p of r.pages) {
    const l = p.latency;
    const mark = p.failure ? ` [${notes.length + 1}]` : p.stoppedEarly ? " (time budget reached)" : "";
    if (p.failure) notes.push(`[${notes.length + 1}] ${p.id}: ${p.failure}.`);
    lines.push(
      `| ${p.title} \`${p.path}\` | ${p.requests}${mark} | ${ms(l.p50Ms)} | ${ms(l.p95Ms)} | ${ms(l.p99Ms)} | ` +
        `${x(l.p50Ms / b.p50Ms)} / ${x(l.p95Ms / b.p95Ms)} / ${x(l.p99Ms / b.p99Ms)} | ${ms(p.check.ms)} | ` +
        `${kb(p.check.bytes)} (${kb(p.check.gzipBytes)}) | ${ms(p.hostCpuMsPerRequest)} | ${p.foreignCpuPct.toFixed(0)}% |`,
    );
  }
  return notes.length > 0 ? [...lines, "", ...notes] : lines;
}

export function sumsTable(sums: Sums): string[] {
  const lines = [
    "| sums | requests | cost (nano-USD) | input tokens | output tokens | unpriced requests | match |",
    "|---|---:|---:|---:|---:|---:|---|",
  ];
  const fields = ["requests", "cost", "input", "output", "unpriced"] as const;
  for (const e of sums.events) {
    lines.push(
      `| ${e.dim_name === "" ? "all events" : `events with dimension ${e.dim_name}`} | ${e.requests} | ${e.cost} | ${e.input} | ${e.output} | ${e.unpriced} | |`,
    );
    for (const [table, rows] of [
      ["hourly", sums.rollups],
      ["daily", sums.daily],
    ] as const) {
      const r = rows.find((row) => row.dim_name === e.dim_name);
      const same = r !== undefined && fields.every((k) => r[k] === e[k]);
      lines.push(
        `| ${table} rollups, dim_name = '${e.dim_name}' | ${r?.requests ?? "—"} | ${r?.cost ?? "—"} | ${r?.input ?? "—"} | ${r?.output ?? "—"} | ${r?.unpriced ?? "—"} | ${same ? "equal" : "**differ**"} |`,
      );
    }
  }
  return lines;
}

export function renderDashboard(r: DashboardResults): string {
  const d = r.data;
  const mc = r.machine;
  const rowsOf = (rows: Record<string, number>) => {
    const total = Object.values(rows).reduce((s, v) => s + v, 0);
    const per = Object.entries(rows).map(([name, count]) => `${name === "" ? "totals" : name} ${n(count)}`);
    return `${n(total)} (${per.join(", ")})`;
  };
  const timing = r.pages.filter((p) => Object.keys(p.serverTiming).length > 0);
  const statuses = Object.entries(d.refusalsByStatus)
    .map(([status, count]) => `${count} × ${status}`)
    .join(", ");
  const lines = [
    "### Dashboard: latest run",
    "",
    `- Date: ${r.date} (dashboard part ${r.elapsedS.toFixed(0)} s)`,
    `- Command: \`${r.command}\`; Outlay bundled from ${r.revision}`,
    `- Machine: ${mc.nproc} CPUs, ${mc.cpuModel}, Linux ${mc.kernel}; Node ${mc.node}, workerd ${mc.workerd}, miniflare ${mc.miniflare}`,
    `- Data: ${n(d.events)} usage events over ${d.days} days for one organisation with ${d.keys} keys (${n(d.generated)} generated in SQLite, ${n(d.refusals)} refused calls made through the gateway: ${statuses}); ${rowsOf(d.rollupRows)} hourly rollup rows and ${rowsOf(d.dailyRows)} daily; ${n(d.refusedAudit)} call.refused audit events`,
    `- Database: ${(d.dbBytes / 1e9).toFixed(2)} GB (SQLite pages after seeding; ${(d.dbFileBytes / 1e9).toFixed(2)} GB of files with the WAL while measuring). Seeding ${d.seedS.toFixed(0)} s (events ${d.eventS.toFixed(0)} s, rollups, the consumer's statements, ${d.rollupS.toFixed(0)} s); check ${d.checkS.toFixed(0)} s: ${d.sumsMatch ? "the hourly and daily rollups' sums equal the events' sums" : "**the rollups' sums differ from the events' sums**"}, and ${d.keysUsed - d.lastUsedWrong} of ${d.keysUsed} keys' last use is their latest event`,
    `- Points: ${r.config.requests} requests per page after ${r.config.warmup} warm-up, c=1, in ${r.config.rounds} rounds (pages take turns); a page stops early after ${r.config.pageBudgetS} s. Times are the client's wall time over loopback to workerd (write to last byte), not a server-side timer`,
    "",
    ...pageTable(r),
    "",
  ];
  if (timing.length > 0) {
    lines.push(
      "Server-Timing (p50 of each metric, ms): " +
        timing
          .map(
            (p) =>
              `${p.id}: ${Object.entries(p.serverTiming)
                .map(([k, v]) => `${k} ${ms(v)}`)
                .join(", ")}`,
          )
          .join("; "),
      "",
    );
  } else {
    lines.push("No page sent a Server-Timing header.", "");
  }
  const slow = r.plans.flatMap((p) => p.variants).filter((v) => v.rowsRead > MANY_ROWS);
  const slowText = slow.map((v) => `${v.pages.join(", ")}: ${n(v.rowsRead)} rows, ${ms(stats(v.runsMs).p50Ms)} ms`);
  lines.push(
    slow.length === 0
      ? `Every page query read at most ${n(MANY_ROWS)} rows (plans in "Method" above).`
      : `Queries that read more than ${n(MANY_ROWS)} rows (SQL time on D1): ${slowText.join("; ")}. Plans in "Method" above.`,
    "",
    ...sumsTable(d.sums),
    "",
  );
  return lines.join("\n");
}

export function renderPlans(r: DashboardResults): string {
  const lines = [
    `Query plans of the latest run (${r.date.slice(0, 10)}, ${n(r.data.events)} events): every distinct SELECT the pages made through the tenant-scoped accessor, with its SQL time on D1 (p50 of ${r.config.planRuns} runs, \`meta.duration\`), rows returned and rows read (\`meta.rows_read\`).`,
    "",
  ];
  for (const p of r.plans) {
    const plans = [...new Set(p.variants.map((v) => planText(v.plan).join("\n")))];
    lines.push("- ```sql", `  ${p.sql}`, "  ```", "");
    for (const v of p.variants) {
      const flag = v.rowsRead > MANY_ROWS ? ` — **reads more than ${n(MANY_ROWS)} rows**` : "";
      const own = plans.length > 1 ? ` (plan ${plans.indexOf(planText(v.plan).join("\n")) + 1})` : "";
      lines.push(
        `  - ${v.pages.join(", ")}: SQL ${ms(stats(v.runsMs).p50Ms)} ms, ${n(v.rows)} rows returned, ${n(v.rowsRead)} read${flag}${own}`,
      );
    }
    for (const [i, plan] of plans.entries()) {
      lines.push(
        "",
        `  ${plans.length > 1 ? `Plan ${i + 1}:` : "Plan:"}`,
        "",
        "  ```text",
        ...plan.split("\n").map((l) => `  ${l}`),
        "  ```",
      );
    }
    lines.push("");
  }
  return lines.join("\n");
}

export function writeDashboardDocs(docsPath: string, r: DashboardResults): void {
  writeBlock(docsPath, { start: PLANS_START_MARK, end: PLANS_END_MARK }, renderPlans(r), (text, block) => {
    return `${text.trimEnd()}\n\n## Dashboard\n\n${block}\n`;
  });
  writeBlock(docsPath, { start: DASHBOARD_START_MARK, end: DASHBOARD_END_MARK }, renderDashboard(r), (text, block) => {
    return `${text.trimEnd()}\n\n${block}\n`;
  });
}
