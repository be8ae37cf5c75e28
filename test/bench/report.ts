// Renders the results as Markdown (printed, and written into docs/benchmarks.md between the
// "latest run" markers) and writes the raw results to bench-results/latest.json.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ARM_IDS, ARM_NAMES, type ArmId } from "./arms.ts";
import { MODES, type Mode } from "./config.ts";
import { type CostResult, PRICE_SOURCES } from "./cost.ts";
import type { StreamsResult } from "./streams.ts";
import { type BenchResults, type Load, type ModeResults, type PerArm, runTargets, targets, ttftOf } from "./results.ts";
import type { Percentiles } from "./sequential.ts";
import { errorCount } from "./wrk.ts";

export const START_MARK = "<!-- bench:latest:start -->";
export const END_MARK = "<!-- bench:latest:end -->";

const MODE_TITLES: Record<Mode, string> = {
  json: "Non-streaming (JSON)",
  sse: "Streaming (SSE, `stream: true`)",
};

function ms(v: number): string {
  return Number.isFinite(v) ? v.toFixed(3) : "n/a";
}

function ratio(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return "∞";
  return Number.isFinite(v) ? `${v.toFixed(2)}×` : "n/a";
}

function row(label: string, cells: PerArm<string>): string {
  return `| ${label} | ${ARM_IDS.map((id) => cells[id]).join(" | ")} |`;
}

function perArm(fn: (id: ArmId) => string): PerArm<string> {
  return { A: fn("A"), B: fn("B"), C: fn("C"), D: fn("D") };
}

function foreign(load: Load): string {
  const tries = load.attempts > 1 ? ` (${load.attempts} tries)` : "";
  return `${load.foreignCpuPct.toFixed(0)}%${tries}`;
}

function latencyOf(r: ModeResults): PerArm<Percentiles> {
  return { A: r.latency.A.latency, B: r.latency.B.latency, C: r.latency.C.latency, D: r.latency.D.latency };
}

function armTable(r: ModeResults): string[] {
  const lat = latencyOf(r);
  const thr = r.throughput;
  const cpu = r.cpu;
  const dash = (id: ArmId, text: string) => (id === "A" ? "—" : text);
  const lines = [
    `| | ${ARM_IDS.map((id) => ARM_NAMES[id]).join(" | ")} |`,
    `|---|${ARM_IDS.map(() => "---:").join("|")}|`,
    row(
      "p50 latency, c=1 (ms)",
      perArm((id) => ms(lat[id].p50Ms)),
    ),
    row(
      "p99 latency, c=1 (ms)",
      perArm((id) => ms(lat[id].p99Ms)),
    ),
    row(
      "added p50 over A (ms)",
      perArm((id) => dash(id, ms(lat[id].p50Ms - lat.A.p50Ms))),
    ),
    row(
      "added p99 over A (ms)",
      perArm((id) => dash(id, ms(lat[id].p99Ms - lat.A.p99Ms))),
    ),
    row(
      "p50 latency ÷ A / ÷ B",
      perArm((id) => `${ratio(lat[id].p50Ms / lat.A.p50Ms)} / ${ratio(lat[id].p50Ms / lat.B.p50Ms)}`),
    ),
    row(
      "requests measured at c=1",
      perArm((id) => String(r.latency[id].requests)),
    ),
  ];
  const t = ttftOf(r);
  if (t) {
    lines.push(
      row(
        "time to first token p50 / p99 (ms)",
        perArm((id) => `${ms(t[id].p50Ms)} / ${ms(t[id].p99Ms)}`),
      ),
      row(
        "added TTFT over A, p50 / p99 (ms)",
        perArm((id) => dash(id, `${ms(t[id].p50Ms - t.A.p50Ms)} / ${ms(t[id].p99Ms - t.A.p99Ms)}`)),
      ),
    );
  }
  const c16 = r.concurrent;
  if (c16) {
    lines.push(
      row(
        "p50 / p99 latency, c=16 (ms)",
        perArm((id) => `${ms(c16[id].latency.p50Ms)} / ${ms(c16[id].latency.p99Ms)}`),
      ),
      row(
        "added p50 / p99 over A, c=16 (ms)",
        perArm((id) =>
          dash(
            id,
            `${ms(c16[id].latency.p50Ms - c16.A.latency.p50Ms)} / ${ms(c16[id].latency.p99Ms - c16.A.latency.p99Ms)}`,
          ),
        ),
      ),
    );
  }
  lines.push(
    row(
      "throughput, c=64 (req/s)",
      perArm((id) => thr[id].rps.toFixed(0)),
    ),
    row(
      "throughput ÷ A / ÷ B",
      perArm((id) => `${ratio(thr[id].rps / thr.A.rps)} / ${ratio(thr[id].rps / thr.B.rps)}`),
    ),
    row(
      "CPU per request at c=64 (ms)",
      perArm((id) => ms(cpu[id].msPerRequest)),
    ),
    row(
      "CPU per request ÷ A / ÷ B",
      perArm(
        (id) =>
          `${ratio(cpu[id].msPerRequest / cpu.A.msPerRequest)} / ${ratio(cpu[id].msPerRequest / cpu.B.msPerRequest)}`,
      ),
    ),
    row(
      "failed requests (c=1, c=64)",
      perArm((id) => `${r.latency[id].failures}, ${errorCount(thr[id])}`),
    ),
    row(
      "other processes' CPU (c=1, c=64)",
      perArm((id) => `${foreign(r.latency[id])}, ${foreign(thr[id])}`),
    ),
  );
  return lines;
}

function comparison(results: BenchResults): string[] {
  const m = results.modes;
  const cell = (fn: (r: ModeResults) => string) => MODES.map((mode) => fn(m[mode])).join(" | ");
  const diff = (r: ModeResults, p: "p50Ms" | "p99Ms") => ms(latencyOf(r).C[p] - latencyOf(r).B[p]);
  const ttftDiff = (r: ModeResults) => {
    const t = ttftOf(r);
    return t ? `${ms(t.C.p50Ms - t.B.p50Ms)} / ${ms(t.C.p99Ms - t.B.p99Ms)}` : "—";
  };
  return [
    "| Outlay against B and D | JSON | SSE |",
    "|---|---:|---:|",
    `| C − B, p50 at c=1 (ms) | ${cell((r) => diff(r, "p50Ms"))} |`,
    `| C − B, p99 at c=1 (ms) | ${cell((r) => diff(r, "p99Ms"))} |`,
    `| TTFT C − B, p50 / p99 (ms) | ${cell(ttftDiff)} |`,
    `| throughput C ÷ B at c=64 | ${cell((r) => ratio(r.throughput.C.rps / r.throughput.B.rps))} |`,
    `| throughput C ÷ D at c=64 | ${cell((r) => ratio(r.throughput.C.rps / r.throughput.D.rps))} |`,
    `| CPU per request C − B (ms) | ${cell((r) => ms(r.cpu.C.msPerRequest - r.cpu.B.msPerRequest))} |`,
    `| CPU per request D ÷ C | ${cell((r) => ratio(r.cpu.D.msPerRequest / r.cpu.C.msPerRequest))} |`,
  ];
}

function streamsSection(r: StreamsResult): string[] {
  const mb = (b: number | null) => (b === null ? "no answer" : `${(b / 1024 ** 2).toFixed(1)} MB`);
  const p = (x: Percentiles) => `${ms(x.p50Ms)} / ${ms(x.p99Ms)} / ${ms(x.maxMs)}`;
  return [
    "### Concurrent streams",
    "",
    `${r.streams} SSE calls opened over ${r.rampMs} ms through a fresh Outlay and held open together (the mock waits ${r.heldDelayMs} ms before each of its 19 events), then probe streams one at a time while all are open.`,
    "",
    "| | p50 / p99 / max (ms) |",
    "|---|---:|",
    `| held streams: time to first token, less the mock's ${r.heldDelayMs} ms | ${p(r.heldAddedTtft)} |`,
    `| probe streams while all are open: time to first token (${r.probes} probes) | ${p(r.probeTtft)} |`,
    "",
    `Held streams read to their end: ${r.completed} of ${r.streams}; failures (held and probes): ${r.failures}. Isolate V8 heap after a forced collection: ${mb(r.heapIdleBytes)} idle, ${mb(r.heapOpenBytes)} with all ${r.streams} open.`,
  ];
}

/** What one call costs the platform: the counts per call and the price of a million calls. */
function costSection(cost: CostResult, title: string, tenant: string): string[] {
  const p = cost.perCall;
  const n = (v: number, digits = 3) => v.toFixed(digits);
  return [
    `### ${title}`,
    "",
    `${cost.calls} JSON calls at c=16 to ${tenant}, on a build whose bindings count every billable operation (test/bench/count-entry.ts); counts taken after the queues, consumers and alarms went quiet, divided by the calls the Worker received.`,
    "",
    "| per call | count |",
    "|---|---:|",
    `| Worker invocations (the call, plus queue consumer invocations) | ${n(p.workerInvocations)} |`,
    `| Durable Object requests; alarms | ${n(p.doRequests)}; ${n(p.doAlarms)} |`,
    `| Durable Object SQLite rows written; read | ${n(p.doSqlRowsWritten, 2)}; ${n(p.doSqlRowsRead, 2)} |`,
    `| queue messages; operations (write, read, delete per 64 KB) | ${n(p.queueMessages)}; ${n(p.queueOps)} |`,
    `| D1 statements; rows written (D1's \`rows_written\`); rows read | ${n(p.d1Statements, 2)}; ${n(p.d1RowsWritten, 2)}; ${n(p.d1RowsRead, 2)} |`,
    `| D1 bytes stored (growth of D1's \`size_after\`) | ${n(p.d1Bytes, 0)} |`,
    `| R2 class A; class B operations | ${n(p.r2ClassA, 4)}; ${n(p.r2ClassB, 4)} |`,
    `| CPU ms (C's CPU per call at c=64, JSON) | ${n(p.cpuMs)} |`,
    "",
    "| item | USD per million calls |",
    "|---|---:|",
    ...Object.entries(cost.usdPerMillion).map(([item, usd]) => `| ${item} | ${usd.toFixed(3)} |`),
    `| **total** | **${cost.totalUsdPerMillion.toFixed(2)}** |`,
    "",
    `Prices: Workers Paid, beyond the plan's inclusions (${PRICE_SOURCES.join(", ")}). One D1 database (10 GB) holds ${(cost.callsPerDatabase / 1e6).toFixed(1)} million calls at this size per call.`,
    "",
    "Where the rows written go (per call, each statement's own count, its indexes included; 0.005 and more):",
    "",
    "| store | statement | rows per call |",
    "|---|---|---:|",
    ...cost.rowsBySql.map((r) => `| ${r.store} | \`${r.sql.replaceAll("|", "\\|")}\` | ${r.perCall.toFixed(3)} |`),
  ];
}

export function renderLatest(results: BenchResults): string {
  const mc = results.machine;
  const lines: string[] = [
    "## Latest run",
    "",
    `- Date: ${results.date} (whole run ${results.elapsedS.toFixed(0)} s)`,
    `- Command: \`${results.command}\`; Outlay bundled from ${results.revision}`,
    `- Machine: ${mc.nproc} CPUs, ${mc.cpuModel}, Linux ${mc.kernel}`,
    `- Software: Node ${mc.node}, workerd ${mc.workerd}, miniflare ${mc.miniflare}, wrangler ${mc.wrangler}, ${mc.wrk}, @portkey-ai/gateway ${mc.portkey}`,
    `- Points: ${results.config.durationS} s measured after ${results.config.warmupS} s warm-up each; c=1 (latency, TTFT) with the sequential raw-socket client, c=64 (throughput, CPU) with \`wrk -t${results.config.throughputThreads} -c64\``,
    "",
  ];
  for (const mode of MODES) {
    lines.push(`### ${MODE_TITLES[mode]}`, "", ...armTable(results.modes[mode]), "");
  }
  lines.push("### Outlay against the null proxy and Portkey", "", ...comparison(results), "");
  lines.push("### Targets", "", "| Target | Mode | Result | Limit | Met |", "|---|---|---:|---|---|");
  const all = [...MODES.flatMap((mode) => targets(mode, results.modes[mode])), ...runTargets(results)];
  for (const t of all) {
    lines.push(`| ${t.name} | ${t.mode.toUpperCase()} | ${t.detail} | ${t.limit} | ${t.met ? "met" : "**not met**"} |`);
  }
  if (!results.rules) {
    lines.push("", "The strict- and lease-mode rows come from the ledger part: `npm run bench` runs both.");
  }
  if (results.streams) lines.push("", ...streamsSection(results.streams));
  if (results.cost) {
    lines.push("", ...costSection(results.cost, "Platform cost per million calls", "the tenant without rules"));
  }
  if (results.costStrict) {
    lines.push(
      "",
      ...costSection(
        results.costStrict,
        "Platform cost per million calls, strict mode with rules",
        "a strict-mode tenant with a budget, a policy and a rate limit (the ledger part's C-strict; CPU priced at the rules-free C's)",
      ),
    );
  }
  const cold = results.coldStart;
  if (cold) {
    lines.push(
      "",
      "### Cold start",
      "",
      `Outlay's bundle (\`wrangler deploy --dry-run\`, index.js): ${(cold.bundleBytes / 1e6).toFixed(2)} MB, ${(cold.bundleGzipBytes / 1e3).toFixed(0)} KB gzipped.`,
      "",
      `| | ${ARM_IDS.map((id) => ARM_NAMES[id]).join(" | ")} |`,
      `|---|${ARM_IDS.map(() => "---:").join("|")}|`,
      row(
        "first JSON request after start (ms)",
        perArm((id) => ms(cold.firstMs[id])),
      ),
      row(
        "second JSON request (ms)",
        perArm((id) => ms(cold.secondMs[id])),
      ),
    );
  }
  const ev = results.outlayEvents;
  lines.push(
    "",
    `Usage events written to D1 by the queue consumer during the run: ${ev.recorded} (requests to C completed and counted by the clients: ${ev.completedRequests}; requests still in flight when wrk stops are served and recorded but not counted by wrk).`,
    "",
  );
  return lines.join("\n");
}

/**
 * Replaces what is between two markers in a Markdown file by `content`; when the markers are
 * missing, `whenMissing` makes the file's new text from its old text and the marked block.
 */
export function writeBlock(
  docsPath: string,
  marks: { start: string; end: string },
  content: string,
  whenMissing: (text: string, block: string) => string,
): void {
  const block = `${marks.start}\n${content}\n${marks.end}`;
  let text = existsSync(docsPath) ? readFileSync(docsPath, "utf8") : "";
  const start = text.indexOf(marks.start);
  const end = text.indexOf(marks.end);
  if (start >= 0 && end > start) {
    text = `${text.slice(0, start)}${block}${text.slice(end + marks.end.length)}`;
  } else {
    text = whenMissing(text, block);
  }
  writeFileSync(docsPath, text);
}

export function writeDocs(docsPath: string, latest: string, methodTemplate: string): void {
  writeBlock(docsPath, { start: START_MARK, end: END_MARK }, latest, (_, block) => {
    return `${methodTemplate.trimEnd()}\n\n${block}\n`;
  });
}

export function writeJson(dir: string, results: unknown, name = "latest.json"): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, `${JSON.stringify(results, null, 2)}\n`);
  return path;
}
