// Latency at concurrency 1 (or a few) and time to first token: a closed loop of identical requests
// over one keep-alive TCP connection (or one loop per connection), each written in one write (TCP_NODELAY), timed on the monotonic
// clock from the write to the end of the response, and for streams to the first response bytes
// that carry an SSE `data:` line. (wrk's latency histogram is not used: on this kind of VM it
// reports percentiles its own request count rules out; see docs/benchmarks.md.)
import { connect, type Socket } from "node:net";
import { performance } from "node:perf_hooks";

export type Percentiles = { p50Ms: number; p90Ms: number; p99Ms: number; meanMs: number; maxMs: number };

export type SequentialResult = {
  requests: number;
  /** Measured responses that carried the `mark` header with its value (0 without a mark). */
  marked: number;
  /** Requests answered during the warm-up (not measured). */
  warmupRequests: number;
  durationS: number;
  failures: number;
  latency: Percentiles;
  /** Streams only. */
  ttft: Percentiles | null;
};

export type Target = { url: string; headers: Record<string, string>; body: string };

const REQUEST_TIMEOUT_MS = 10_000;
const MAX_REQUESTS = 500_000;
const MAX_FAILURES = 10;
const CHUNKED_END = "\r\n0\r\n\r\n";

/** A response header and value to count, e.g. `x-outlay-admission: lease`. */
export type Mark = { header: string; value: string };

export function markPattern(mark: Mark): RegExp {
  const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`\r\n${escape(mark.header)}:[ \t]*${escape(mark.value)}[ \t]*(\r\n|$)`, "i");
}

export function open(url: URL): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname);
    socket.setNoDelay(true);
    socket.once("connect", () => resolve(socket));
    socket.once("error", reject);
  });
}

export function rawRequest(target: Target): string {
  const url = new URL(target.url);
  const headers = {
    ...target.headers,
    host: url.host,
    connection: "keep-alive",
    "content-length": String(Buffer.byteLength(target.body)),
  };
  const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
  return `POST ${url.pathname}${url.search} HTTP/1.1\r\n${lines.join("")}\r\n${target.body}`;
}

/** One response: its status, its head (status line and headers) and timings from the write. */
export type Exchange = { status: number; head: string; totalMs: number; firstDataMs: number };

/** One request on an open connection; resolves when the whole response has arrived. */
export function exchange(socket: Socket, request: string): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    let text = "";
    let head = "";
    let status = 0;
    let bodyAt = -1;
    let contentLength = -1;
    let firstDataMs = -1;
    const started = performance.now();
    const finish = (error: Error | null): void => {
      const totalMs = performance.now() - started;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", finish);
      socket.off("close", onClose);
      if (error) reject(error);
      else resolve({ status, head, totalMs, firstDataMs });
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString("latin1");
      if (bodyAt < 0) {
        const end = text.indexOf("\r\n\r\n");
        if (end < 0) return;
        bodyAt = end + 4;
        head = text.slice(0, end);
        status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        contentLength = length?.[1] ? Number(length[1]) : -1;
      }
      if (firstDataMs < 0 && text.includes("data:", bodyAt)) firstDataMs = performance.now() - started;
      const complete = contentLength >= 0 ? text.length - bodyAt >= contentLength : text.endsWith(CHUNKED_END);
      if (complete) finish(null);
    };
    const onClose = (): void => finish(new Error("connection closed"));
    const timer = setTimeout(() => finish(new Error("timeout")), REQUEST_TIMEOUT_MS);
    socket.on("data", onData);
    socket.on("error", finish);
    socket.on("close", onClose);
    socket.write(request);
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

export function summarize(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    meanMs: sorted.reduce((s, v) => s + v, 0) / Math.max(1, sorted.length),
    maxMs: sorted.at(-1) ?? Number.NaN,
  };
}

/**
 * Runs for `warmupS` (discarded), then for `durationS`, one request at a time; counts the
 * measured responses that carry `mark`, when given.
 */
export async function measureSequential(
  target: Target,
  opts: { warmupS: number; durationS: number; stream: boolean; mark?: Mark; connections?: number },
): Promise<SequentialResult> {
  const url = new URL(target.url);
  const request = rawRequest(target);
  const marker = opts.mark ? markPattern(opts.mark) : null;
  const totals: number[] = [];
  const firsts: number[] = [];
  let marked = 0;
  let failures = 0;
  let warmupRequests = 0;
  let sent = 0;
  const began = performance.now();
  const measureFrom = began + opts.warmupS * 1_000;
  const stopAt = measureFrom + opts.durationS * 1_000;
  let measuredFrom = Number.NaN;
  // One closed loop per connection (c=1 by default); all of them feed the same samples.
  const loop = async (): Promise<void> => {
    let socket: Socket | null = null;
    try {
      while (sent < MAX_REQUESTS && performance.now() < stopAt) {
        sent += 1;
        const measuring = performance.now() >= measureFrom;
        if (measuring && Number.isNaN(measuredFrom)) measuredFrom = performance.now();
        try {
          socket ??= await open(url);
          const sample = await exchange(socket, request);
          if (sample.status !== 200) throw new Error(`unexpected response: ${sample.head.split("\r\n")[0] ?? ""}`);
          if (opts.stream && sample.firstDataMs < 0) throw new Error("no SSE data in the response");
          if (!measuring) {
            warmupRequests += 1;
            continue;
          }
          totals.push(sample.totalMs);
          if (marker?.test(sample.head)) marked += 1;
          if (opts.stream) firsts.push(sample.firstDataMs);
        } catch (error) {
          failures += 1;
          socket?.destroy();
          socket = null;
          if (failures > MAX_FAILURES) {
            const why = error instanceof Error ? error.message : String(error);
            throw new Error(`more than ${MAX_FAILURES} failed requests to ${target.url} (last: ${why})`, {
              cause: error,
            });
          }
        }
      }
    } finally {
      socket?.destroy();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.connections ?? 1) }, loop));
  return {
    requests: totals.length,
    marked,
    warmupRequests,
    durationS: (performance.now() - measuredFrom) / 1_000,
    failures,
    latency: summarize(totals),
    ttft: opts.stream ? summarize(firsts) : null,
  };
}
