// `npm run bench`: the gateway benchmark. Four arms against one mock upstream (A direct, B null
// Worker on workerd, C Outlay on workerd, D Portkey), JSON and SSE: latency and time to first
// token at c=1 with a sequential raw-socket client, throughput at c=64 with wrk, CPU per
// request from /proc. Prints a table, rewrites the "latest run" section of docs/benchmarks.md
// and writes bench-results/latest.json. See docs/benchmarks.md for the method.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
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
import { CONFIG, MODES, type Mode, requestBody } from "./config.ts";
import { idleCpuRate, settle, treeCpuMs, watchForeignLoad } from "./cpu.ts";
import { machineFacts, sourceRevision } from "./machine.ts";
import { recordedRequests } from "./outlay-setup.ts";
import { killAllSync, sleep, stopAll } from "./procs.ts";
import { renderLatest, writeDocs, writeJson } from "./report.ts";
import type { BenchResults, CpuResult, Load, ModeResults, PerArm } from "./results.ts";
import { measureSequential, type SequentialResult } from "./sequential.ts";
import { errorCount, runWrk, type WrkResult, wrkVersion, writeScript } from "./wrk.ts";

const COMMAND = "npm run bench";
const DOCS = join(ROOT, "docs/benchmarks.md");
const FALLBACK_DOC = "# Benchmarks\n\nProduced by `npm run bench` (test/bench/run.ts).\n";

function log(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
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

/**
 * Runs a point; when other processes on the machine used more than the allowed CPU meanwhile,
 * waits and runs it again (bounded), keeping the least disturbed attempt.
 */
async function undisturbed<T>(run: Runner, label: string, measure: () => Promise<T>): Promise<T & Load> {
  let best: (T & Load) | null = null;
  for (let attempt = 1; attempt <= CONFIG.maxAttempts; attempt += 1) {
    const foreign = watchForeignLoad(roots(run));
    const result = await measure();
    const foreignCpuPct = foreign();
    if (!best || foreignCpuPct < best.foreignCpuPct) best = { ...result, foreignCpuPct, attempts: attempt };
    if (foreignCpuPct <= CONFIG.foreignLoadMaxPct) break;
    log(`${label}: other processes used ${foreignCpuPct.toFixed(0)}% of a CPU meanwhile; measuring again`);
    await sleep(3_000);
  }
  if (!best) throw new Error(`${label}: no attempt`);
  return { ...best, attempts: Math.min(best.attempts, CONFIG.maxAttempts) };
}

async function latencyPoint(run: Runner, arm: Arm, mode: Mode): Promise<SequentialResult & Load> {
  const label = `${ARM_NAMES[arm.id]} ${mode} c=1`;
  const result = await undisturbed(run, label, async () => {
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

async function throughputOnce(run: Runner, arm: Arm, mode: Mode): Promise<{ wrk: WrkResult; cpu: CpuResult }> {
  const path = script(run, arm.id, mode);
  const opts = { connections: CONFIG.throughputConnections, threads: CONFIG.throughputThreads };
  if (CONFIG.warmupS > 0) {
    const warm = await runWrk(path, arm.url, { ...opts, durationS: CONFIG.warmupS });
    if (arm.id === "C") run.sentToC += warm.requests;
    await settle(arm.proc.pid, CONFIG.settleMaxMs);
  }
  const startedAt = performance.now();
  const before = treeCpuMs(arm.proc.pid);
  const wrk = await runWrk(path, arm.url, { ...opts, durationS: CONFIG.durationS });
  await settle(arm.proc.pid, CONFIG.settleMaxMs);
  const wallMs = performance.now() - startedAt;
  const idle = run.idle[arm.id];
  const cpuMs = Math.max(0, treeCpuMs(arm.proc.pid) - before - (idle * wallMs) / 1_000);
  if (arm.id === "C") run.sentToC += wrk.requests;
  const cpu = {
    cpuMs,
    requests: wrk.requests,
    msPerRequest: cpuMs / Math.max(1, wrk.requests),
    idleMsPerSecond: idle,
    wallMs,
  };
  return { wrk, cpu };
}

async function throughputPoint(run: Runner, arm: Arm, mode: Mode): Promise<{ wrk: WrkResult & Load; cpu: CpuResult }> {
  const label = `${ARM_NAMES[arm.id]} ${mode} c=${CONFIG.throughputConnections}`;
  const { wrk, cpu, foreignCpuPct, attempts } = await undisturbed(run, label, () => throughputOnce(run, arm, mode));
  const errors = errorCount(wrk) > 0 ? ` (${errorCount(wrk)} errors: ${JSON.stringify(wrk.errors)})` : "";
  log(`${label}: ${wrk.rps.toFixed(0)} req/s, CPU ${cpu.msPerRequest.toFixed(3)} ms/req${errors}`);
  return { wrk: { ...wrk, foreignCpuPct, attempts }, cpu };
}

async function measureMode(run: Runner, mode: Mode): Promise<ModeResults> {
  const latency = await perArm(run.arms, (arm) => latencyPoint(run, arm, mode));
  const both = await perArm(run.arms, (arm) => throughputPoint(run, arm, mode));
  return {
    latency,
    throughput: { A: both.A.wrk, B: both.B.wrk, C: both.C.wrk, D: both.D.wrk },
    cpu: { A: both.A.cpu, B: both.B.cpu, C: both.C.cpu, D: both.D.cpu },
  };
}

async function main(): Promise<void> {
  const wrk = wrkVersion();
  if (!wrk) {
    console.error(
      "wrk is not installed: install it (Debian/Ubuntu: `apt-get install -y wrk`) and run `npm run bench` again.",
    );
    process.exitCode = 1;
    return;
  }
  const began = performance.now();
  const tmp = mkdtempSync(join(tmpdir(), "outlay-bench-"));
  tmpDir = tmp;
  try {
    const revision = sourceRevision();
    log(`bundling the Worker at ${revision} (wrangler deploy --dry-run)`);
    const bundle = await bundleOutlay(join(tmp, "bundle"));
    log("starting the arms");
    const A = await startDirect(CONFIG.startupTimeoutMs);
    const upstream = upstreamOrigin(A);
    const [B, C, D] = await Promise.all([
      startNullWorker(upstream, CONFIG.startupTimeoutMs),
      startOutlay(upstream, bundle, CONFIG.startupTimeoutMs),
      startPortkey(upstream, CONFIG.startupTimeoutMs),
    ]);
    const arms: PerArm<Arm> = { A, B, C, D };
    const run: Runner = { arms, scripts: new Map(), idle: { A: 0, B: 0, C: 0, D: 0 }, sentToC: 0 };
    for (const arm of [A, B, C, D]) {
      for (const mode of MODES) {
        await verifyArm(arm, mode);
        if (arm.id === "C") run.sentToC += 1;
        run.scripts.set(
          `${arm.id}-${mode}`,
          writeScript(tmp, `${arm.id}-${mode}`, { ...arm, body: requestBody(mode) }),
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

    const results: BenchResults = {
      date: new Date().toISOString(),
      command: COMMAND,
      revision,
      machine: machineFacts(wrk),
      config: {
        durationS: CONFIG.durationS,
        warmupS: CONFIG.warmupS,
        throughputThreads: CONFIG.throughputThreads,
        foreignLoadMaxPct: CONFIG.foreignLoadMaxPct,
        maxAttempts: CONFIG.maxAttempts,
      },
      modes: { json, sse },
      outlayEvents: { recorded, completedRequests: run.sentToC },
      elapsedS: (performance.now() - began) / 1_000,
    };
    const latest = renderLatest(results);
    process.stdout.write(`\n${latest}\n`);
    writeDocs(DOCS, latest, FALLBACK_DOC);
    const jsonPath = writeJson(join(ROOT, "bench-results"), results);
    log(`wrote ${DOCS} and ${jsonPath}`);
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
