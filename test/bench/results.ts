// Shapes of the raw results (written to bench-results/latest.json) and the figures derived
// from them: added latency over A, C − B, ratios, and the targets.
import type { ArmId } from "./arms.ts";
import type { Mode } from "./config.ts";
import type { Percentiles, SequentialResult } from "./sequential.ts";
import type { WrkResult } from "./wrk.ts";

export type PerArm<T> = Record<ArmId, T>;

export type CpuResult = {
  /** CPU ms of the arm's process tree from before the run until it went quiet, minus idle. */
  cpuMs: number;
  requests: number;
  msPerRequest: number;
  idleMsPerSecond: number;
  wallMs: number;
};

/** CPU used by processes outside the benchmark during a point (% of one CPU), and tries taken. */
export type Load = { foreignCpuPct: number; attempts: number };

export type ModeResults = {
  /** Concurrency 1 (sequential client); `ttft` is set in streaming mode. */
  latency: PerArm<SequentialResult & Load>;
  /** Concurrency 64 (wrk). */
  throughput: PerArm<WrkResult & Load>;
  cpu: PerArm<CpuResult>;
};

export type Machine = {
  nproc: number;
  cpuModel: string;
  node: string;
  workerd: string;
  wrk: string;
  miniflare: string;
  wrangler: string;
  portkey: string;
  kernel: string;
};

export type BenchResults = {
  date: string;
  command: string;
  /** Commit of the Worker sources when they were bundled. */
  revision: string;
  machine: Machine;
  config: Record<string, number>;
  modes: Record<Mode, ModeResults>;
  outlayEvents: { recorded: number; completedRequests: number };
  elapsedS: number;
};

export type Target = { name: string; mode: Mode; value: number; limit: string; met: boolean; detail: string };

function addedRatio(d: number, c: number): number {
  // How many times C's added cost fits in D's; C at or below zero counts as infinitely better.
  return c <= 0 ? Number.POSITIVE_INFINITY : d / c;
}

/** TTFT percentiles per arm, or null in JSON mode. */
export function ttftOf(r: ModeResults): PerArm<Percentiles> | null {
  const { A, B, C, D } = r.latency;
  if (!A.ttft || !B.ttft || !C.ttft || !D.ttft) return null;
  return { A: A.ttft, B: B.ttft, C: C.ttft, D: D.ttft };
}

export function targets(mode: Mode, r: ModeResults): Target[] {
  const lat: PerArm<Percentiles> = {
    A: r.latency.A.latency,
    B: r.latency.B.latency,
    C: r.latency.C.latency,
    D: r.latency.D.latency,
  };
  const ttft = ttftOf(r);
  const out: Target[] = [];
  const p50CB = lat.C.p50Ms - lat.B.p50Ms;
  const p99CB = lat.C.p99Ms - lat.B.p99Ms;
  const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : "∞");
  out.push({
    name: "Outlay over null proxy, p50 at c=1 (C − B)",
    mode,
    value: p50CB,
    limit: "≤ 0.3 ms",
    met: p50CB <= 0.3,
    detail: `${fmt(p50CB)} ms`,
  });
  out.push({
    name: "Outlay over null proxy, p99 at c=1 (C − B)",
    mode,
    value: p99CB,
    limit: "≤ 1 ms",
    met: p99CB <= 1,
    detail: `${fmt(p99CB)} ms`,
  });
  const cb = r.throughput.C.rps / r.throughput.B.rps;
  out.push({
    name: "Throughput at c=64, C / B",
    mode,
    value: cb,
    limit: "≥ 0.85",
    met: cb >= 0.85,
    detail: fmt(cb, 2),
  });
  if (ttft) {
    const t = ttft.C.p50Ms - ttft.B.p50Ms;
    out.push({
      name: "Added time to first token over B, p50 (C − B)",
      mode,
      value: t,
      limit: "≤ 0.5 ms",
      met: t <= 0.5,
      detail: `${fmt(t)} ms`,
    });
  }
  const vsD: Array<[string, number]> = [
    ["added p50 latency (D − A) / (C − A)", addedRatio(lat.D.p50Ms - lat.A.p50Ms, lat.C.p50Ms - lat.A.p50Ms)],
    ["added p99 latency (D − A) / (C − A)", addedRatio(lat.D.p99Ms - lat.A.p99Ms, lat.C.p99Ms - lat.A.p99Ms)],
    ["throughput C / D", r.throughput.C.rps / r.throughput.D.rps],
    ["CPU per request D / C", r.cpu.D.msPerRequest / r.cpu.C.msPerRequest],
  ];
  if (ttft) {
    const t = ttft;
    vsD.push(["added TTFT p50 (D − A) / (C − A)", addedRatio(t.D.p50Ms - t.A.p50Ms, t.C.p50Ms - t.A.p50Ms)]);
  }
  for (const [name, value] of vsD) {
    out.push({
      name: `3x better than Portkey: ${name}`,
      mode,
      value,
      limit: "≥ 3",
      met: value >= 3,
      detail: fmt(value, 2),
    });
  }
  return out;
}
