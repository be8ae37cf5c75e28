// Benchmark parameters. Durations can be shortened for a quick check with environment variables
// (BENCH_DURATION, BENCH_WARMUP); the published figures use the defaults.

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new Error(`${name} must be a number from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

export const CONFIG = {
  /** Seconds of each measured wrk point. */
  durationS: envNumber("BENCH_DURATION", 8, 1, 60),
  /** Seconds of the wrk warm-up before each point (discarded). */
  warmupS: envNumber("BENCH_WARMUP", 2, 0, 30),
  latencyConnections: 1,
  /** The c=16 point (JSON): one closed loop per connection, latency percentiles over all. */
  concurrentConnections: 16,
  throughputConnections: 64,
  throughputThreads: 2,
  /** A point is measured again (up to `maxAttempts` in all) when processes outside the
   * benchmark used more than this much CPU (% of one CPU) meanwhile. */
  foreignLoadMaxPct: 10,
  maxAttempts: 3,
  /** Upper bound of the wait for an arm's CPU to go quiet after a throughput run. */
  settleMaxMs: 15_000,
  /** Idle CPU is sampled for this long per arm and subtracted from CPU-per-request figures. */
  idleSampleMs: 2_000,
  startupTimeoutMs: 60_000,
} as const;

export type Mode = "json" | "sse";
export const MODES: readonly Mode[] = ["json", "sse"];

/** The provider credential the mock upstream receives from A, B and D (C uses its stored one). */
export const UPSTREAM_KEY = "demo-openai-credential-0000";

export function requestBody(mode: Mode): string {
  return JSON.stringify({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Say hello in one short sentence." }],
    max_tokens: 16,
    ...(mode === "sse" ? { stream: true } : {}),
  });
}
