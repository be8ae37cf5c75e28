// Renders the cloud part's results as Markdown: printed, and written into docs/benchmarks.md
// between the "cloud" markers (inside its "Cloud bills" section; appended with a heading when missing).
import { type CloudResults, cloudTargets } from "./cloud-results.ts";
import { writeBlock } from "./report.ts";

export const CLOUD_START_MARK = "<!-- bench:cloud:start -->";
export const CLOUD_END_MARK = "<!-- bench:cloud:end -->";

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en") : "n/a");
const s1 = (ms: number) => (Number.isFinite(ms) ? (ms / 1_000).toFixed(1) : "n/a");
const mb = (bytes: number) => (bytes / 1e6).toFixed(0);
const mib = (kb: number) => (kb / 1024).toFixed(0);
const ms1 = (n: number) => n.toFixed(1);

function nanoUsd(text: string): string {
  const n = BigInt(text);
  const sign = n < 0n ? "-" : "";
  const abs = n < 0n ? -n : n;
  return `${sign}$${(abs / 1_000_000_000n).toLocaleString("en")}.${(abs % 1_000_000_000n).toString().padStart(9, "0")}`;
}

/** The spend API's query without the year's from/to; a page's path and query. */
export function requestText(q: { name: string; query: string }): string {
  return q.name.startsWith("/cloud") ? `/cloud?${q.query}` : q.query.replace(/^from=[^&]*&to=[^&]*&/, "");
}

export function renderCloud(r: CloudResults, published: boolean): string {
  const mc = r.machine;
  const b = r.bill;
  const y = r.year;
  const lines = [
    "### Cloud bills: latest run",
    "",
    `- Date: ${r.date} (cloud part ${r.elapsedS.toFixed(0)} s)${published ? "" : " — **a smoke run (sizes changed): not published**"}`,
    `- Command: \`${r.command}\`; Outlay bundled from ${r.revision}`,
    `- Machine: ${mc.nproc} CPUs, ${mc.cpuModel}, Linux ${mc.kernel}; Node ${mc.node}, workerd ${mc.workerd}, miniflare ${mc.miniflare}`,
    `- The bill: CUR 2.0, ${b.month}, 10 accounts, ${int(b.resources)} resources × every hour + the month's tax, credit and refund lines = ${int(b.rows)} rows; CSV ${mb(b.csvBytes)} MB, CSV.gz ${mb(b.csvGzBytes)} MB, Parquet twin ${mb(b.parquetBytes)} MB (SNAPPY, ${int(b.rowGroupSize)} rows per row group); exact total ${nanoUsd(b.totalNano)}`,
    `- Every isolate of Outlay's workerd ran with V8's old space capped at ${r.heapCapMb} MB (\`MINIFLARE_WORKERD_V8_FLAGS=--max-old-space-size=${r.heapCapMb}\`)`,
    `- Each import on a fresh Outlay; idle before the first: workerd RSS ${mib(r.idle.workerdKb)} MB, host tree (Node + workerd) ${mib(r.idle.treeKb)} MB`,
    "",
    "| import | upload (parts, s) | complete call (s) | completion → done (s) | import's own run (s) | rows read | rows/s | rows stored | peak workerd RSS (MB) | peak host tree RSS (MB) | peak isolate heap: used / live (MB; samples) | GET import meanwhile p50 / max (ms) | Outlay CPU (s) | others' CPU | total |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...r.imports.map((i) => {
      const m = i.memory;
      const mbOf = (bytes: number | null) => (bytes === null ? "n/a" : (bytes / 2 ** 20).toFixed(0));
      const heap = `${mbOf(m.peakHeapBytes)} / ${mbOf(m.peakLiveHeapBytes)} (${m.heapSamples})`;
      const total = i.spendTotalNano === i.expectedTotalNano ? "equal" : "**differs**";
      return `| ${i.format} (${mb(i.fileBytes)} MB) | ${i.parts}, ${s1(i.uploadMs)} | ${s1(i.completeMs)} | ${s1(i.importMs)} | ${s1(i.runMs)} | ${int(i.rowsRead)} | ${int(i.rowsPerSecond)} | ${int(i.rowsStored)} | ${mib(i.memory.peakWorkerdKb)} | ${mib(i.memory.peakTreeKb)} | ${heap} | ${ms1(i.poll.p50Ms)} / ${ms1(i.poll.maxMs)} | ${s1(i.cpuMs)} | ${i.foreignCpuPct.toFixed(0)}% | ${total} |`;
    }),
    "",
    `Spend over a year: ${y.months[0]} to ${y.months.at(-1)}, ${int(y.resourcesPerMonth)} resources a month, ${int(y.rows)} bill rows imported in ${s1(y.importMs)} s as 12 CSV.gz bodies → ${int(y.storedRows)} stored daily rows; total ${y.totalNano === y.expectedTotalNano ? "equal to the generator's" : "**differs from the generator's**"} (${nanoUsd(y.totalNano)}). Each query ${int(y.queries[0]?.requests ?? 0)} times, one at a time, after 20 discarded:`,
    "",
    "| request (spend API: from/to the year) | rows (page: table rows) | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) |",
    "|---|---:|---:|---:|---:|---:|",
    ...y.queries.map(
      (q) =>
        `| ${q.name}: \`${requestText(q)}\` | ${int(q.rows)}${q.truncated ? " (truncated)" : ""} | ${ms1(q.p50Ms)} | ${ms1(q.p95Ms)} | ${ms1(q.p99Ms)} | ${ms1(q.maxMs)} |`,
    ),
    "",
    "| Target | Result | Limit | Met |",
    "|---|---:|---|---|",
    ...cloudTargets(r).map((t) => `| ${t.name} | ${t.result} | ${t.limit} | ${t.met ? "met" : "**not met**"} |`),
    "",
  ];
  return lines.join("\n");
}

export function writeCloudDocs(docsPath: string, markdown: string): void {
  writeBlock(docsPath, { start: CLOUD_START_MARK, end: CLOUD_END_MARK }, markdown, (text, block) => {
    return `${text.trimEnd()}\n\n## Cloud bills\n\n${block}\n`;
  });
}
