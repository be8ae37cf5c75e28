// Renders the audit part's results as Markdown: printed, and written into docs/benchmarks.md
// between the "audit" markers (inside its "Audit" section; appended with a heading when missing).
import { type AuditResults, auditTargets, type GatewayRun } from "./audit-results.ts";
import { writeBlock } from "./report.ts";

export const AUDIT_START_MARK = "<!-- bench:audit:start -->";
export const AUDIT_END_MARK = "<!-- bench:audit:end -->";

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en") : "n/a");
const s1 = (ms: number) => (ms / 1_000).toFixed(1);
const ms3 = (n: number) => (Number.isFinite(n) ? n.toFixed(3) : "n/a");

function runRow(run: GatewayRun, i: number): string {
  const d = run.deliveries;
  const delivered = d
    ? `${int(d.total)} (${int(d.verified)} verified, ${int(d.repeated)} repeated); ${int(d.duringRun)} while wrk ran, last ${s1(d.drainMs)} s after`
    : "—";
  const load = `${run.foreignCpuPct.toFixed(0)}%${run.attempts > 1 ? ` (${run.attempts} tries)` : ""}`;
  return `| ${i + 1} | ${run.streaming ? "with" : "without"} | ${int(run.rps)} | ${int(run.requests)} | ${run.errors} | ${ms3(run.cpuMsPerCall)} | ${delivered} | ${load} |`;
}

export function renderAudit(r: AuditResults): string {
  const mc = r.machine;
  const a = r.archive;
  const w = r.webhooks;
  const v = r.verifier;
  const g = r.gateway;
  const tenfold = 10 * r.gatewayRate.callsPerSecond;
  const lines = [
    "### Audit: latest run",
    "",
    `- Date: ${r.date} (audit part ${r.elapsedS.toFixed(0)} s)`,
    `- Command: \`${r.command}\`; Outlay bundled from ${r.revision}`,
    `- Machine: ${mc.nproc} CPUs, ${mc.cpuModel}, Linux ${mc.kernel}; Node ${mc.node}, workerd ${mc.workerd}, miniflare ${mc.miniflare}, ${mc.wrk}`,
    `- Gateway points: ${r.config.durationS} s measured after ${r.config.warmupS} s warm-up, \`wrk -t${r.config.throughputThreads} -c${r.config.throughputConnections}\`, JSON; the gateway's call rate below is ${int(r.gatewayRate.callsPerSecond)} calls/s (${r.gatewayRate.source}), so 10× is ${int(tenfold)} events/s`,
    "",
    "| figure | result |",
    "|---|---:|",
    `| archive, one tenant: events driven (handed to the ledger in ${s1(a.driveMs)} s) | ${int(a.events)} |`,
    `| archive: tree size before → after | ${int(a.startSize)} → ${int(a.endSize)} |`,
    `| archive: events/s end to end (drive start → final tree size, ${s1(a.endToEndMs)} s) | ${int(a.endToEndPerSecond)} |`,
    `| archive: events/s after the drive (${int(a.drainFromSize)} → ${int(a.endSize)} in ${s1(a.drainMs)} s) | ${int(a.drainPerSecond)} |`,
    `| archive: Outlay CPU per event archived (ms; ledger, queue, consumer, archiver) | ${ms3(a.cpuMsPerEvent)} |`,
    `| webhooks: call.admitted events driven → deliveries received | ${int(w.events)} → ${int(w.received)} |`,
    `| webhooks: verified by standardwebhooks / repeated webhook-id / answered ≠ 200 | ${int(w.verified)} / ${int(w.repeated)} / ${int(w.refused)} |`,
    `| webhooks: deliveries/s (drive start → last delivery, ${s1(w.spanMs)} s) | ${int(w.perSecond)} |`,
    `| webhooks: deliveries/s between the 10th and 90th percentile of arrivals | ${int(w.steadyPerSecond)} |`,
    `| webhooks: Outlay CPU per delivery (ms; archiving the event included) | ${ms3(w.cpuMsPerDelivery)} |`,
    `| verifier: events in segments (gzip MB; NDJSON MB) | ${int(v.events)} in ${v.segments} (${(v.gzBytes / 1e6).toFixed(1)}; ${(v.rawBytes / 1e6).toFixed(1)}) |`,
    `| verifier: wall time of \`node scripts/audit-verify.ts\` (s) | ${s1(v.wallMs)} |`,
    `| verifier: events/s | ${int(v.eventsPerSecond)} |`,
    `| verifier: peak RSS (MB, ${v.rssSource}) | ${(v.maxRssKb / 1024).toFixed(0)} |`,
    `| verifier: its verdict | \`${v.verdict}\`${v.verified ? "" : " — **not the generated log**"} |`,
    `| gateway JSON calls/s without / with a webhook on call.admitted (means) | ${int(g.offRps)} / ${int(g.onRps)} |`,
    `| gateway: with ÷ without | ${g.ratio.toFixed(3)} |`,
    "",
    "| run | webhook on call.admitted | calls/s | calls | failed | Outlay CPU per call (ms) | deliveries of the measured run | others' CPU |",
    "|---:|---|---:|---:|---:|---:|---|---:|",
    ...g.runs.map(runRow),
    "",
    "| Target | Result | Limit | Met |",
    "|---|---:|---|---|",
    ...auditTargets(r).map((t) => `| ${t.name} | ${t.result} | ${t.limit} | ${t.met ? "met" : "**not met**"} |`),
    "",
  ];
  if (a.timedOut) lines.push("The archive measure stopped at its time limit: its figures are lower bounds.", "");
  if (w.timedOut) lines.push("The webhook measure stopped at its time limit before every delivery arrived.", "");
  return lines.join("\n");
}

export function writeAuditDocs(docsPath: string, markdown: string): void {
  writeBlock(docsPath, { start: AUDIT_START_MARK, end: AUDIT_END_MARK }, markdown, (text, block) => {
    return `${text.trimEnd()}\n\n## Audit\n\n${block}\n`;
  });
}
