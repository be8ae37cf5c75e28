// How one point is measured, for both parts of the bench (run.ts, ledger.ts): again when other
// processes disturbed it, and a c=64 wrk run with the arm's CPU per request.
import { performance } from "node:perf_hooks";
import { CONFIG } from "./config.ts";
import { settle, treeCpuMs, watchForeignLoad } from "./cpu.ts";
import { sleep } from "./procs.ts";
import type { CpuResult, Load } from "./results.ts";
import { runWrk, type WrkResult } from "./wrk.ts";

export function log(message: string): void {
  process.stdout.write(`[bench] ${message}\n`);
}

/**
 * Runs a point; when other processes on the machine used more than the allowed CPU meanwhile,
 * waits and runs it again (bounded), keeping the least disturbed attempt. `roots` are the
 * process trees of the bench (not foreign).
 */
export async function undisturbed<T>(
  roots: readonly number[],
  label: string,
  measure: () => Promise<T>,
): Promise<T & Load> {
  let best: (T & Load) | null = null;
  for (let attempt = 1; attempt <= CONFIG.maxAttempts; attempt += 1) {
    const foreign = watchForeignLoad(roots);
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

export type ThroughputRun = { wrk: WrkResult; cpu: CpuResult; warmupRequests: number };

/**
 * wrk at c=64 for the warm-up (discarded), then measured, with the CPU the arm's process tree
 * used from the start of the measured run until it went quiet after it (queue consumers
 * included), minus its idle rate. `beforeMeasure` runs after the warm-up has settled.
 */
export async function throughputWithCpu(
  script: string,
  url: string,
  arm: { root: number; idleMsPerSecond: number },
  beforeMeasure?: () => Promise<void>,
): Promise<ThroughputRun> {
  const opts = { connections: CONFIG.throughputConnections, threads: CONFIG.throughputThreads };
  let warmupRequests = 0;
  if (CONFIG.warmupS > 0) {
    const warm = await runWrk(script, url, { ...opts, durationS: CONFIG.warmupS });
    warmupRequests = warm.requests;
    await settle(arm.root, CONFIG.settleMaxMs);
  }
  if (beforeMeasure) await beforeMeasure();
  const startedAt = performance.now();
  const before = treeCpuMs(arm.root);
  const wrk = await runWrk(script, url, { ...opts, durationS: CONFIG.durationS });
  await settle(arm.root, CONFIG.settleMaxMs);
  const wallMs = performance.now() - startedAt;
  const cpuMs = Math.max(0, treeCpuMs(arm.root) - before - (arm.idleMsPerSecond * wallMs) / 1_000);
  const cpu = {
    cpuMs,
    requests: wrk.requests,
    msPerRequest: cpuMs / Math.max(1, wrk.requests),
    idleMsPerSecond: arm.idleMsPerSecond,
    wallMs,
  };
  return { wrk, cpu, warmupRequests };
}
