// The audit part of the benchmark, `npm run bench -- --audit-only` (docs/benchmarks.md, "Audit";
// issue 13, section 5). On one Outlay process (the bundled Worker on workerd as arm C, with the
// audit driver beside it, worker-host.ts --audit-driver) and the local webhook receiver:
//   1. gateway JSON throughput at c=64 with and without a webhook endpoint subscribed to
//      call.admitted, alternated off/on/off/on (audit-gateway.ts); the runs without give the
//      gateway's call rate the archive is compared with;
//   2. archive throughput of one tenant (audit-measure.ts): events archived per second;
//   3. webhook deliveries per second to the receiver, each verified (audit-measure.ts);
//   4. the verifier CLI on a generated archive of 1,000,000 events (audit-verifier.ts), after Outlay
//      is stopped.
// Not part of `npm run bench` (all): it starts its own Outlay and tenants and adds about 2½ minutes
// on an idle machine. Results: bench-results/audit.json and the "audit" block of the docs.
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Arm, ROOT, upstreamOrigin } from "./arms.ts";
import { measureGateway } from "./audit-gateway.ts";
import { startAuditReceiver } from "./audit-hooks.ts";
import { measureArchive, measureWebhooks } from "./audit-measure.ts";
import { renderAudit, writeAuditDocs } from "./audit-report.ts";
import type { AuditResults } from "./audit-results.ts";
import { startAuditOutlay } from "./audit-setup.ts";
import { measureVerifier } from "./audit-verifier.ts";
import { CONFIG } from "./config.ts";
import { idleCpuRate } from "./cpu.ts";
import type { Machine } from "./results.ts";
import { log } from "./points.ts";
import { sleep, stop } from "./procs.ts";
import { writeJson } from "./report.ts";

function envCount(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${raw}"`);
  return value;
}

export const AUDIT_VARS = [
  "BENCH_DURATION",
  "BENCH_WARMUP",
  "BENCH_AUDIT_EVENTS",
  "BENCH_WEBHOOK_EVENTS",
  "BENCH_VERIFY_EVENTS",
];

const ARCHIVE_MAX_MS = 240_000;
const WEBHOOK_MAX_MS = 240_000;
const VERIFY_MAX_MS = 600_000;

export type AuditContext = {
  tmp: string;
  bundle: string;
  revision: string;
  command: string;
  machine: Machine;
  /** arm A, the mock upstream the gateway calls go to */
  direct: Arm;
  docs: string;
};

export async function auditPart(ctx: AuditContext): Promise<AuditResults> {
  const began = performance.now();
  const archiveEvents = envCount("BENCH_AUDIT_EVENTS", 100_000);
  const webhookEvents = envCount("BENCH_WEBHOOK_EVENTS", 5_000);
  const timeout = CONFIG.startupTimeoutMs;
  log("audit part: starting Outlay with the audit driver, and the webhook receiver");
  const outlay = await startAuditOutlay(upstreamOrigin(ctx.direct), ctx.bundle, timeout);
  const receiver = await startAuditReceiver(timeout);
  await sleep(1_500);
  const idleMsPerSecond = await idleCpuRate(outlay.proc.pid, CONFIG.idleSampleMs);
  const roots = [ctx.direct.proc.pid, outlay.proc.pid, receiver.proc.pid];

  const gateway = await measureGateway({ outlay, receiver, roots, tmp: ctx.tmp, idleMsPerSecond });
  const archive = await measureArchive(outlay, archiveEvents, ARCHIVE_MAX_MS);
  const webhooks = await measureWebhooks(outlay, receiver, webhookEvents, WEBHOOK_MAX_MS);
  await stop(receiver.proc);
  await stop(outlay.proc);
  const verifier = await measureVerifier(VERIFY_MAX_MS);
  log(
    `verifier: ${verifier.verdict} in ${(verifier.wallMs / 1000).toFixed(1)} s (${verifier.eventsPerSecond.toFixed(0)} events/s), peak RSS ${(verifier.maxRssKb / 1024).toFixed(0)} MB`,
  );

  const results: AuditResults = {
    date: new Date().toISOString(),
    command: ctx.command,
    revision: ctx.revision,
    machine: ctx.machine,
    config: {
      durationS: CONFIG.durationS,
      warmupS: CONFIG.warmupS,
      throughputConnections: CONFIG.throughputConnections,
      throughputThreads: CONFIG.throughputThreads,
      archiveEvents,
      webhookEvents,
      verifyEvents: verifier.events,
    },
    gatewayRate: {
      callsPerSecond: gateway.offRps,
      source: "this run: the mean of the two runs without webhooks (step 1)",
    },
    archive,
    webhooks,
    verifier,
    gateway,
    elapsedS: (performance.now() - began) / 1_000,
  };
  const markdown = renderAudit(results);
  process.stdout.write(`\n${markdown}\n`);
  writeAuditDocs(ctx.docs, markdown);
  const jsonPath = writeJson(join(ROOT, "bench-results"), results, "audit.json");
  log(`wrote the audit block of ${ctx.docs} and ${jsonPath}`);
  return results;
}
