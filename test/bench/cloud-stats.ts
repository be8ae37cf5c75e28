// Percentiles of request times, for the cloud part (cloud-import.ts, cloud-spend.ts).

export type Latency = { requests: number; p50Ms: number; p95Ms: number; p99Ms: number; maxMs: number; meanMs: number };

/** The nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export function latencyOf(ms: readonly number[]): Latency {
  const sorted = [...ms].sort((a, b) => a - b);
  return {
    requests: sorted.length,
    p50Ms: percentile(sorted, 50),
    p95Ms: percentile(sorted, 95),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? Number.NaN,
    meanMs: sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length),
  };
}
