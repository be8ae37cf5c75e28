// `npm run bench`: the gateway benchmark. Four arms against one mock upstream (A direct, B null
// Worker on workerd, C Outlay on workerd, D Portkey), JSON and SSE: latency and time to first
// token at c=1 with a sequential raw-socket client, throughput at c=64 with wrk, CPU per
// request from /proc. Prints a table, rewrites the "latest run" section of docs/benchmarks.md
// and writes bench-results/latest.json. Then the ledger part (ledger.ts) on the same Outlay arm:
// admission cost in strict and lease mode, lease throughput and overshoot; it rewrites the
// "ledger" block and writes bench-results/ledger.json. See docs/benchmarks.md for the method.
//   npm run bench                       both parts
//   npm run bench -- --ledger-only      the ledger part alone (arms A and C); BENCH_PART=ledger
//   npm run bench -- --gateway-only     the first part alone; BENCH_PART=gateway
//   npm run bench -- --dashboard-only   the dashboard pages at 10 million events (dashboard.ts); only
//                                       this way (not part of "all": it seeds 10 million events, ~12 min)
//   npm run bench -- --audit-only       the audit archive, webhooks and verifier (audit.ts); only this
//                                       way (not part of "all": its own Outlay and tenants, ~2½ min)
//   npm run bench -- --cloud-only       cloud-bill imports (1 GB CUR 2.0 CSV.gz and Parquet) and the spend
//                                       API over a year (cloud.ts); only this way (its own Outlay and bills)
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { gzipSync } from "node:zlib";
import {
  type Arm,
  ARM_NAMES,
  type ArmId,
  bundleOutlay,
  ROOT,
  startDirect,
  startNullWorker,
  startOutlay,
  startPortkey,
  upstreamOrigin,
  verifyArm,
} from "./arms.ts";
import { AUDIT_VARS, auditPart } from "./audit.ts";
import { CLOUD_VARS, cloudOnly } from "./cloud.ts";
import { CONFIG, MODES, type Mode, requestBody } from "./config.ts";
import { costPoint } from "./cost.ts";
import { streamsPoint } from "./streams.ts";
import { idleCpuRate } from "./cpu.ts";
import { dashboardPart, publishDashboard, withWebChanges } from "./dashboard.ts";
import { measureLedger, RULES } from "./ledger.ts";
import { renderLedger, writeLedgerDocs } from "./ledger-report.ts";
import type { LedgerResults } from "./ledger-results.ts";
import { machineFacts, sourceRevision } from "./machine.ts";
import { recordedRequests } from "./outlay-setup.ts";
import { log, throughputWithCpu, undisturbed } from "./points.ts";
import { argFlag, killAllSync, sleep, stopAll } from "./procs.ts";
import { renderLatest, writeDocs, writeJson } from "./report.ts";
import type { BenchResults, CpuResult, Load, ModeResults, PerArm } from "./results.ts";
import { measureSequential, type SequentialResult } from "./sequential.ts";
import { errorCount, type WrkResult, wrkVersion, writeScript } from "./wrk.ts";

const DOCS = join(ROOT, "docs/benchmarks.md");
const FALLBACK_DOC = "# Benchmarks\n\nProduced by `npm run bench` (test/bench/run.ts).\n";

type Part = "all" | "gateway" | "ledger" | "dashboard" | "audit" | "cloud";
const PARTS: readonly Part[] = ["all", "gateway", "ledger", "dashboard", "audit", "cloud"];

/** Which parts to run: `--ledger-only` / `--gateway-only` / `--dashboard-only` / `--audit-only` / `--cloud-only`, or BENCH_PART. */
function partToRun(argv: readonly string[]): Part {
  const flags = (["ledger", "gateway", "dashboard", "audit", "cloud"] as const).filter((p) =>
    argv.includes(`--${p}-only`),
  );
  const env = process.env.BENCH_PART ?? argFlag(argv, "part");
  if (flags.length > 1) throw new Error(`${flags.map((f) => `--${f}-only`).join(" and ")} exclude each other`);
  const part = flags[0] ?? env ?? "all";
  const known = PARTS.find((p) => p === part);
  if (!known) throw new Error(`BENCH_PART must be all, gateway, ledger, dashboard, audit or cloud, got "${part}"`);
  return known;
}

const DASHBOARD_VARS = [
  "BENCH_EVENTS",
  "BENCH_REFUSALS",
  "BENCH_SEED_CHUNK",
  "BENCH_DASHBOARD_REQUESTS",
  "BENCH_DASHBOARD_WARMUP",
  "BENCH_DASHBOARD_PAGE_SECONDS",
  "BENCH_DASHBOARD_PAGES",
];

function commandOf(part: Part): string {
  const names =
    part === "dashboard"
      ? DASHBOARD_VARS
      : part === "audit"
        ? AUDIT_VARS
        : part === "cloud"
          ? CLOUD_VARS
          : ["BENCH_DURATION", "BENCH_WARMUP"];
  const vars = names.map((name) => (process.env[name] ? `${name}=${process.env[name]}` : "")).filter((v) => v !== "");
  const flag = part === "all" ? "" : ` -- --${part}-only`;
  return `${vars.length > 0 ? `${vars.join(" ")} ` : ""}npm run bench${flag}`;
}

async function perArm<T>(arms: PerArm<Arm>, fn: (arm: Arm) => Promise<T>): Promise<PerArm<T>> {
  const A = await fn(arms.A);
  const B = await fn(arms.B);
  const C = await fn(arms.C);
  const D = await fn(arms.D);
  return { A, B, C, D };
}

type Runner = { arms: PerArm<Arm>; scripts: Map<string, string>; idle: PerArm<number>; sentToC: number };

function script(run: Runner, id: ArmId, mode: Mode): string {
  const path = run.scripts.get(`${id}-${mode}`);
  if (!path) throw new Error(`no wrk script for ${id} ${mode}`);
  return path;
}

function roots(run: Runner): number[] {
  return [run.arms.A, run.arms.B, run.arms.C, run.arms.D].map((arm) => arm.proc.pid);
}

async function latencyPoint(run: Runner, arm: Arm, mode: Mode): Promise<SequentialResult & Load> {
  const label = `${ARM_NAMES[arm.id]} ${mode} c=1`;
  const result = await undisturbed(roots(run), label, async () => {
    const once = await measureSequential(
      { url: arm.url, headers: arm.headers, body: requestBody(mode) },
      { warmupS: CONFIG.warmupS, durationS: CONFIG.durationS, stream: mode === "sse" },
    );
    if (arm.id === "C") run.sentToC += once.requests + once.warmupRequests;
    return once;
  });
  const l = result.latency;
  const t = result.ttft ? `, TTFT p50 ${result.ttft.p50Ms.toFixed(3)} ms, p99 ${result.ttft.p99Ms.toFixed(3)} ms` : "";
  log(`${label}: p50 ${l.p50Ms.toFixed(3)} ms, p99 ${l.p99Ms.toFixed(3)} ms (${result.requests} requests)${t}`);
  return result;
}

/** JSON at c=16: CONFIG.concurrentConnections closed loops, latency over all their requests. */
async function concurrentPoint(run: Runner, arm: Arm): Promise<SequentialResult & Load> {
  const connections = CONFIG.concurrentConnections;
  const label = `${ARM_NAMES[arm.id]} json c=${connections}`;
  const result = await undisturbed(roots(run), label, async () => {
    const once = await measureSequential(
      { url: arm.url, headers: arm.headers, body: requestBody("json") },
      { warmupS: CONFIG.warmupS, durationS: CONFIG.durationS, stream: false, connections },
    );
    if (arm.id === "C") run.sentToC += once.requests + once.warmupRequests;
    return once;
  });
  const l = result.latency;
  log(`${label}: p50 ${l.p50Ms.toFixed(3)} ms, p99 ${l.p99Ms.toFixed(3)} ms (${result.requests} requests)`);
  return result;
}

async function throughputOnce(run: Runner, arm: Arm, mode: Mode): Promise<{ wrk: WrkResult; cpu: CpuResult }> {
  const measured = await throughputWithCpu(script(run, arm.id, mode), arm.url, {
    root: arm.proc.pid,
    idleMsPerSecond: run.idle[arm.id],
  });
  if (arm.id === "C") run.sentToC += measured.warmupRequests + measured.wrk.requests;
  return { wrk: measured.wrk, cpu: measured.cpu };
}

async function throughputPoint(run: Runner, arm: Arm, mode: Mode): Promise<{ wrk: WrkResult & Load; cpu: CpuResult }> {
  const label = `${ARM_NAMES[arm.id]} ${mode} c=${CONFIG.throughputConnections}`;
  const { wrk, cpu, foreignCpuPct, attempts } = await undisturbed(roots(run), label, () =>
    throughputOnce(run, arm, mode),
  );
  const errors = errorCount(wrk) > 0 ? ` (${errorCount(wrk)} errors: ${JSON.stringify(wrk.errors)})` : "";
  log(`${label}: ${wrk.rps.toFixed(0)} req/s, CPU ${cpu.msPerRequest.toFixed(3)} ms/req${errors}`);
  return { wrk: { ...wrk, foreignCpuPct, attempts }, cpu };
}

async function measureMode(run: Runner, mode: Mode): Promise<ModeResults> {
  const latency = await perArm(run.arms, (arm) => latencyPoint(run, arm, mode));
  const concurrent = mode === "json" ? await perArm(run.arms, (arm) => concurrentPoint(run, arm)) : undefined;
  const both = await perArm(run.arms, (arm) => throughputPoint(run, arm, mode));
  return {
    latency,
    ...(concurrent ? { concurrent } : {}),
    throughput: { A: both.A.wrk, B: both.B.wrk, C: both.C.wrk, D: both.D.wrk },
    cpu: { A: both.A.cpu, B: both.B.cpu, C: both.C.cpu, D: both.D.cpu },
  };
}

type Context = { tmp: string; wrk: string; revision: string; command: string; bundle: string };

/** The bundle wrangler made (what a deployment uploads), raw and gzipped. */
function bundleSize(bundle: string): { bundleBytes: number; bundleGzipBytes: number } {
  const bytes = readFileSync(bundle);
  return { bundleBytes: bytes.byteLength, bundleGzipBytes: gzipSync(bytes).byteLength };
}

/** The time of one verified request to the arm, in ms. */
async function timedVerify(arm: Arm, mode: Mode): Promise<number> {
  const began = performance.now();
  await verifyArm(arm, mode);
  return performance.now() - began;
}

function configOf(): Record<string, number> {
  return {
    durationS: CONFIG.durationS,
    warmupS: CONFIG.warmupS,
    throughputThreads: CONFIG.throughputThreads,
    foreignLoadMaxPct: CONFIG.foreignLoadMaxPct,
    maxAttempts: CONFIG.maxAttempts,
  };
}

/** Writes the "Latest run" block and bench-results/latest.json. */
function publishGateway(results: BenchResults): void {
  const latest = renderLatest(results);
  process.stdout.write(`\n${latest}\n`);
  writeDocs(DOCS, latest, FALLBACK_DOC);
  const jsonPath = writeJson(join(ROOT, "bench-results"), results);
  log(`wrote ${DOCS} and ${jsonPath}`);
}

/** The four arms, JSON and SSE, and the platform-cost point: the "Latest run" block and bench-results/latest.json. */
async function gatewayPart(ctx: Context, arms: PerArm<Arm>, upstream: string): Promise<BenchResults> {
  const began = performance.now();
  const { A, B, C, D } = arms;
  const run: Runner = { arms, scripts: new Map(), idle: { A: 0, B: 0, C: 0, D: 0 }, sentToC: 0 };
  // Each arm's first request after it started (the cold one: first ledger, first D1 query…) and the next.
  const firstMs: PerArm<number> = { A: 0, B: 0, C: 0, D: 0 };
  const secondMs: PerArm<number> = { A: 0, B: 0, C: 0, D: 0 };
  for (const arm of [A, B, C, D]) {
    firstMs[arm.id] = await timedVerify(arm, "json");
    secondMs[arm.id] = await timedVerify(arm, "json");
    if (arm.id === "C") run.sentToC += 2;
    log(
      `${ARM_NAMES[arm.id]}: first request ${firstMs[arm.id].toFixed(1)} ms, second ${secondMs[arm.id].toFixed(1)} ms`,
    );
    for (const mode of MODES) {
      await verifyArm(arm, mode);
      if (arm.id === "C") run.sentToC += 1;
      run.scripts.set(
        `${arm.id}-${mode}`,
        writeScript(ctx.tmp, `${arm.id}-${mode}`, { ...arm, body: requestBody(mode) }),
      );
    }
    log(`${ARM_NAMES[arm.id]} answers 200 with a completion (JSON and SSE) at ${arm.url}`);
  }
  await sleep(1_500);
  const idle = await Promise.all([A, B, C, D].map((arm) => idleCpuRate(arm.proc.pid, CONFIG.idleSampleMs)));
  run.idle = { A: idle[0] ?? 0, B: idle[1] ?? 0, C: idle[2] ?? 0, D: idle[3] ?? 0 };
  log(`idle CPU (ms/s): ${JSON.stringify(run.idle)}`);

  const json = await measureMode(run, "json");
  const sse = await measureMode(run, "sse");
  const adminInfo = C.admin;
  const recorded = adminInfo ? await recordedRequests(adminInfo.base, adminInfo.token) : 0;
  const cost = await costPoint(ctx.tmp, upstream, json.cpu.C.msPerRequest);
  const costStrict = await costPoint(ctx.tmp, upstream, json.cpu.C.msPerRequest, RULES.strict);
  const streams = await streamsPoint(upstream, ctx.bundle);

  const results: BenchResults = {
    date: new Date().toISOString(),
    command: ctx.command,
    revision: ctx.revision,
    machine: machineFacts(ctx.wrk),
    config: configOf(),
    modes: { json, sse },
    outlayEvents: { recorded, completedRequests: run.sentToC },
    coldStart: { ...bundleSize(ctx.bundle), firstMs, secondMs },
    cost,
    costStrict,
    streams,
    elapsedS: (performance.now() - began) / 1_000,
  };
  publishGateway(results);
  return results;
}

/** Outlay's admission in strict and lease mode (ledger.ts): the "ledger" block and bench-results/ledger.json. */
async function ledgerPart(ctx: Context, outlay: Arm, all: readonly Arm[]): Promise<LedgerResults> {
  const began = performance.now();
  log("ledger part: admission cost, lease throughput and overshoot (Outlay tenants C0, C-strict, C-lease)");
  const idleMsPerSecond = await idleCpuRate(outlay.proc.pid, CONFIG.idleSampleMs);
  const measured = await measureLedger({
    outlay,
    roots: all.map((arm) => arm.proc.pid),
    tmp: ctx.tmp,
    idleMsPerSecond,
  });
  const results: LedgerResults = {
    date: new Date().toISOString(),
    command: ctx.command,
    revision: ctx.revision,
    machine: machineFacts(ctx.wrk),
    config: configOf(),
    ...measured,
    elapsedS: (performance.now() - began) / 1_000,
  };
  const markdown = renderLedger(results);
  process.stdout.write(`\n${markdown}\n`);
  writeLedgerDocs(DOCS, markdown);
  const jsonPath = writeJson(join(ROOT, "bench-results"), results, "ledger.json");
  log(`wrote the ledger block of ${DOCS} and ${jsonPath}`);
  return results;
}

/** The dashboard pages at BENCH_EVENTS events (dashboard.ts): the "dashboard" blocks and bench-results/dashboard.json. */
async function dashboardOnly(tmp: string, command: string): Promise<void> {
  const revision = withWebChanges(sourceRevision());
  log(`bundling the Worker at ${revision} (wrangler deploy --dry-run)`);
  const bundle = await bundleOutlay(join(tmp, "bundle"));
  const machine = machineFacts(wrkVersion() ?? "wrk not used");
  publishDashboard(await dashboardPart({ tmp, bundle, revision, command, machine }));
}

async function main(): Promise<void> {
  const part = partToRun(process.argv.slice(2));
  if (part === "dashboard" || part === "cloud") {
    const tmp = mkdtempSync(join(tmpdir(), "outlay-bench-"));
    tmpDir = tmp;
    try {
      await (part === "cloud" ? cloudOnly(tmp, commandOf(part), DOCS) : dashboardOnly(tmp, commandOf(part)));
    } finally {
      await stopAll();
      rmSync(tmp, { recursive: true, force: true });
    }
    return;
  }
  const wrk = wrkVersion();
  if (!wrk) {
    console.error(
      "wrk is not installed: install it (Debian/Ubuntu: `apt-get install -y wrk`) and run `npm run bench` again.",
    );
    process.exitCode = 1;
    return;
  }
  const tmp = mkdtempSync(join(tmpdir(), "outlay-bench-"));
  tmpDir = tmp;
  try {
    const revision = sourceRevision();
    log(`bundling the Worker at ${revision} (wrangler deploy --dry-run)`);
    const bundle = await bundleOutlay(join(tmp, "bundle"));
    const ctx: Context = { tmp, wrk, revision, command: commandOf(part), bundle };
    log(part === "ledger" ? "starting arms A and C" : part === "audit" ? "starting arm A" : "starting the arms");
    const A = await startDirect(CONFIG.startupTimeoutMs);
    if (part === "audit") {
      await auditPart({ ...ctx, bundle, machine: machineFacts(wrk), direct: A, docs: DOCS });
      return;
    }
    const upstream = upstreamOrigin(A);
    const timeout = CONFIG.startupTimeoutMs;
    if (part === "ledger") {
      const C = await startOutlay(upstream, bundle, timeout);
      await ledgerPart(ctx, C, [A, C]);
      return;
    }
    const [B, C, D] = await Promise.all([
      startNullWorker(upstream, timeout),
      startOutlay(upstream, bundle, timeout),
      startPortkey(upstream, timeout),
    ]);
    const gateway = await gatewayPart(ctx, { A, B, C, D }, upstream);
    if (part === "all") {
      const ledger = await ledgerPart(ctx, C, [A, B, C, D]);
      // The rule-bearing tenants against B of the same run, in the gateway part's target table.
      const throughput = ledger.modes.json.throughput;
      publishGateway({ ...gateway, rules: { strictRps: throughput.strict.rps, leaseRps: throughput.lease.rps } });
    }
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

let tmpDir: string | null = null;

function interrupted(signal: NodeJS.Signals): void {
  log(`${signal}: stopping the arms`);
  void stopAll().finally(() => {
    if (tmpDir) rmSync(tmpDir, { recursive: true, force: true });
    process.exit(signal === "SIGINT" ? 130 : 143);
  });
}

process.once("SIGINT", interrupted);
process.once("SIGTERM", interrupted);
process.once("SIGHUP", interrupted);
process.on("exit", killAllSync);

main().catch(async (error: unknown) => {
  console.error("[bench] failed:", error instanceof Error ? error.message : error);
  await stopAll();
  process.exitCode = 1;
});
