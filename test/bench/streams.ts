// The concurrent-streams point of the gateway part (docs/benchmarks.md, "Concurrent streams"):
// STREAMS SSE calls held open at once through a fresh Outlay (its own host, the V8 inspector on),
// each a slow stream from the mock upstream (`x-demo-delay-ms`, 19 events ~7.6 s long), opened
// over RAMP_MS. Measured: the time to first token of every held stream, of short probe streams
// sent one after another while all are open, and the isolate's V8 heap (after a forced
// collection) idle and with all of them open.
import { performance } from "node:perf_hooks";
import { startOutlay } from "./arms.ts";
import { heapProbe } from "./cloud-memory.ts";
import { CONFIG, requestBody } from "./config.ts";
import { log } from "./points.ts";
import { freePort, sleep, stop } from "./procs.ts";
import { exchange, open, type Percentiles, rawRequest, summarize, type Target } from "./sequential.ts";

export const STREAMS = 512;
const RAMP_MS = 2_000;
/** Between two events of a held stream: 19 events last ~7.6 s, within the client's 10 s timeout. */
const HELD_DELAY_MS = 400;
const PROBE_MS = 3_000;

export type StreamsResult = {
  streams: number;
  /** Held streams answered 200 and read to their end. */
  completed: number;
  failures: number;
  /** Time to first token of the held streams (each opened while the others were opening or open),
   * less the HELD_DELAY_MS the mock waits before every event, the first included. */
  heldAddedTtft: Percentiles;
  heldDelayMs: number;
  rampMs: number;
  /** Time to first token of probe streams sent one at a time while all the held streams were open. */
  probeTtft: Percentiles;
  probes: number;
  /** V8 heap in use after a forced collection: idle, and with every held stream open (null: no answer). */
  heapIdleBytes: number | null;
  heapOpenBytes: number | null;
};

async function oneStream(target: Target): Promise<{ ok: boolean; ttftMs: number }> {
  const socket = await open(new URL(target.url));
  try {
    const answer = await exchange(socket, rawRequest(target));
    return { ok: answer.status === 200 && answer.firstDataMs >= 0, ttftMs: answer.firstDataMs };
  } catch {
    return { ok: false, ttftMs: Number.NaN };
  } finally {
    socket.destroy();
  }
}

/** Starts a fresh Outlay with the inspector on, holds STREAMS streams open, measures, stops it. */
export async function streamsPoint(upstream: string, bundle: string): Promise<StreamsResult> {
  const inspectorPort = await freePort();
  process.env.BENCH_INSPECTOR_PORT = String(inspectorPort);
  const arm = await startOutlay(upstream, bundle, CONFIG.startupTimeoutMs).finally(() => {
    delete process.env.BENCH_INSPECTOR_PORT;
  });
  const heap = await heapProbe(inspectorPort);
  try {
    const fast: Target = { url: arm.url, headers: arm.headers, body: requestBody("sse") };
    const held: Target = { ...fast, headers: { ...arm.headers, "x-demo-delay-ms": String(HELD_DELAY_MS) } };
    for (let i = 0; i < 50; i += 1) await oneStream(fast);
    const heapIdleBytes = await heap.usedBytes(true);
    log(`streams: opening ${STREAMS} held streams over ${RAMP_MS} ms`);
    const began = performance.now();
    const holders: Promise<{ ok: boolean; ttftMs: number }>[] = [];
    for (let i = 0; i < STREAMS; i += 1) {
      const due = began + (i * RAMP_MS) / STREAMS;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      holders.push(oneStream(held));
    }
    // Every held stream has had time for its first event; all are still open (they last ~7.6 s).
    await sleep(Math.max(0, began + RAMP_MS + 300 - performance.now()));
    const probeTtft: number[] = [];
    let probeFailures = 0;
    const probeEnd = performance.now() + PROBE_MS;
    while (performance.now() < probeEnd) {
      const probe = await oneStream(fast);
      if (probe.ok) probeTtft.push(probe.ttftMs);
      else probeFailures += 1;
    }
    const heapOpenBytes = await heap.usedBytes(true);
    const openFor = performance.now() - began;
    const results = await Promise.all(holders);
    const ok = results.filter((r) => r.ok);
    const result: StreamsResult = {
      streams: STREAMS,
      completed: ok.length,
      failures: STREAMS - ok.length + probeFailures,
      heldAddedTtft: summarize(ok.map((r) => r.ttftMs - HELD_DELAY_MS)),
      heldDelayMs: HELD_DELAY_MS,
      rampMs: RAMP_MS,
      probeTtft: summarize(probeTtft),
      probes: probeTtft.length,
      heapIdleBytes,
      heapOpenBytes,
    };
    const mb = (b: number | null) => (b === null ? "n/a" : `${(b / 1e6).toFixed(1)} MB`);
    log(
      `streams: ${ok.length}/${STREAMS} completed; held TTFT p99 ${result.heldAddedTtft.p99Ms.toFixed(1)} ms over the upstream's, probe TTFT p99 ` +
        `${result.probeTtft.p99Ms.toFixed(1)} ms (${result.probes} probes); heap ${mb(heapIdleBytes)} idle, ` +
        `${mb(heapOpenBytes)} with all open (read ${(openFor / 1_000).toFixed(1)} s after the first opened)`,
    );
    return result;
  } finally {
    heap.close();
    await stop(arm.proc);
  }
}
