// Shapes of the raw results (written to bench-results/latest.json) and the figures derived
// from them: added latency over A, C − B, ratios, and the targets.
import type { ArmId } from "./arms.ts";
import type { Mode } from "./config.ts";
import type { CostResult } from "./cost.ts";
import type { StreamsResult } from "./streams.ts";
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
  /** Concurrency CONFIG.concurrentConnections (16), one closed loop per connection; JSON only. */
  concurrent?: PerArm<SequentialResult & Load>;
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
  /** Outlay's bundle and each arm's first and second JSON request after it started (ms). */
  coldStart?: { bundleBytes: number; bundleGzipBytes: number; firstMs: PerArm<number>; secondMs: PerArm<number> };
  /** The platform-cost point (cost.ts), JSON at c=16 on a counting build. */
  cost?: CostResult;
  /** The same for a strict-mode tenant with a budget, a policy and a rate limit (RULES.strict). */
  costStrict?: CostResult;
  /** The concurrent-streams point (streams.ts): SSE streams held open at once, TTFT and heap. */
  streams?: StreamsResult;
  /** JSON throughput at c=64 of the ledger part's rule-bearing tenants (same run; `npm run bench` only). */
  rules?: { strictRps: number; leaseRps: number };
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

/** Targets of the whole run rather than of one mode: rule-bearing tenants against B, and cost. */
export function runTargets(results: BenchResults): Target[] {
  const out: Target[] = [];
  const bRps = results.modes.json.throughput.B.rps;
  const rules = results.rules;
  if (rules) {
    const rows: Array<[string, number, number]> = [
      ["throughput at c=64, C-strict / B (key budget, policy, rate limit; strict mode)", rules.strictRps / bRps, 0.6],
      ["throughput at c=64, C-lease / B (the same rules, lease mode)", rules.leaseRps / bRps, 0.85],
    ];
    for (const [name, value, limit] of rows) {
      out.push({ name, mode: "json", value, limit: `≥ ${limit}`, met: value >= limit, detail: value.toFixed(2) });
    }
  }
  const streams = results.streams;
  if (streams) {
    const held = streams.heldAddedTtft.p99Ms;
    const probe = streams.probeTtft.p99Ms;
    const worst = streams.failures > 0 ? Number.POSITIVE_INFINITY : Math.max(held, probe);
    out.push({
      name: `${streams.streams} concurrent streams without a stall: TTFT p99 of the held streams / of probes while all are open`,
      mode: "sse",
      value: worst,
      limit: "< 50 ms, no failure",
      met: worst < 50,
      detail: `${held.toFixed(1)} / ${probe.toFixed(1)} ms, ${streams.failures} failed`,
    });
    const heap = streams.heapOpenBytes;
    out.push({
      name: `isolate memory (V8 heap after a collection) with ${streams.streams} streams open`,
      mode: "sse",
      value: heap ?? Number.NaN,
      limit: "< 128 MB",
      met: heap !== null && heap < 128 * 1024 ** 2,
      detail: heap === null ? "no answer" : `${(heap / 1024 ** 2).toFixed(1)} MB`,
    });
  }
  const costRow = (name: string, cost: CostResult) => {
    const usd = cost.totalUsdPerMillion;
    out.push({ name, mode: "json", value: usd, limit: "≤ $2", met: usd <= 2, detail: `$${usd.toFixed(2)}` });
  };
  const cost = results.cost;
  if (cost) {
    costRow("platform cost per million calls (published prices, counts measured)", cost);
    const bytes = cost.perCall.d1Bytes;
    out.push({
      name: "bytes stored in D1 per call",
      mode: "json",
      value: bytes,
      limit: "≤ 150 B",
      met: bytes <= 150,
      detail: `${bytes.toFixed(0)} B (${(cost.callsPerDatabase / 1e6).toFixed(1)} M calls per 10 GB database)`,
    });
  }
  if (results.costStrict) {
    costRow(
      "platform cost per million calls, strict mode with a budget, a policy and a rate limit",
      results.costStrict,
    );
  }
  return out;
}

/** Issue 15's targets that this part measures (docs/benchmarks.md "Targets"). */
export function targets(mode: Mode, r: ModeResults): Target[] {
  const lat: PerArm<Percentiles> = {
    A: r.latency.A.latency,
    B: r.latency.B.latency,
    C: r.latency.C.latency,
    D: r.latency.D.latency,
  };
  const ttft = ttftOf(r);
  const out: Target[] = [];
  const fmt = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : "∞");
  const atMost = (name: string, value: number, limit: number, unit = " ms"): void => {
    out.push({ name, mode, value, limit: `≤ ${limit}${unit}`, met: value <= limit, detail: `${fmt(value)}${unit}` });
  };
  const atLeast = (name: string, value: number, limit: number): void => {
    out.push({ name, mode, value, limit: `≥ ${limit}`, met: value >= limit, detail: fmt(value, 2) });
  };
  atLeast(
    "throughput at c=64, C / B (no rules)",
    r.throughput.C.rps / r.throughput.B.rps,
    mode === "json" ? 0.85 : 0.8,
  );
  atMost("added p50 at c=1, C − B", lat.C.p50Ms - lat.B.p50Ms, mode === "json" ? 0.3 : 0.5);
  if (mode === "json") atMost("added p99 at c=1, C − B", lat.C.p99Ms - lat.B.p99Ms, 1);
  if (ttft) atMost("added time to first token p50 at c=1, C − B", ttft.C.p50Ms - ttft.B.p50Ms, 0.3);
  atMost("CPU per call, C − B", r.cpu.C.msPerRequest - r.cpu.B.msPerRequest, mode === "json" ? 0.25 : 0.4);
  if (r.concurrent) {
    const c = r.concurrent;
    atMost("added p99 at c=16, C − A", c.C.latency.p99Ms - c.A.latency.p99Ms, 2);
  }
  const vsD: Array<[string, number]> = [
    ["throughput C / D", r.throughput.C.rps / r.throughput.D.rps],
    ["CPU per call D / C", r.cpu.D.msPerRequest / r.cpu.C.msPerRequest],
    ["added p50 (D − A) / (C − A)", addedRatio(lat.D.p50Ms - lat.A.p50Ms, lat.C.p50Ms - lat.A.p50Ms)],
    ["added p99 (D − A) / (C − A)", addedRatio(lat.D.p99Ms - lat.A.p99Ms, lat.C.p99Ms - lat.A.p99Ms)],
  ];
  if (ttft) {
    vsD.push([
      "added TTFT p50 (D − A) / (C − A)",
      addedRatio(ttft.D.p50Ms - ttft.A.p50Ms, ttft.C.p50Ms - ttft.A.p50Ms),
    ]);
  }
  for (const [name, value] of vsD) atLeast(`ahead of Portkey: ${name}`, value, 1.5);
  return out;
}
