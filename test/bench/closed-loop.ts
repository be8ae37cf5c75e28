// A closed-loop load client in Node for what wrk cannot do: `connections` keep-alive raw-socket
// connections (sequential.ts's exchange), each sending the next request when the previous
// response has fully arrived, with every response seen: its status and whether it carries a
// marked header. Runs until `stop` says so (it sees each response in arrival order) or `maxS`.
import { performance } from "node:perf_hooks";
import type { Socket } from "node:net";
import { type Exchange, exchange, type Mark, markPattern, open, rawRequest, type Target } from "./sequential.ts";

export type Seen = { status: number; marked: boolean; atMs: number };

export type LoopResult = {
  responses: number;
  byStatus: Record<string, number>;
  marked: number;
  /** Responses that arrived before the first marked one (all of them when none was marked). */
  beforeFirstMark: number;
  /** When the first marked response arrived, in ms from the start (null when none was). */
  firstMarkMs: number | null;
  durationS: number;
  failures: number;
};

const MAX_FAILURES = 20;

export async function closedLoop(
  target: Target,
  opts: { connections: number; mark: Mark; maxS: number; stop: (seen: Seen) => boolean },
): Promise<LoopResult> {
  const url = new URL(target.url);
  const request = rawRequest(target);
  const marker = markPattern(opts.mark);
  const began = performance.now();
  const deadline = began + opts.maxS * 1_000;
  const result: LoopResult = {
    responses: 0,
    byStatus: {},
    marked: 0,
    beforeFirstMark: 0,
    firstMarkMs: null,
    durationS: 0,
    failures: 0,
  };
  let stopped = false;

  const record = (response: Exchange): void => {
    const atMs = performance.now() - began;
    const marked = marker.test(response.head);
    result.responses += 1;
    result.byStatus[response.status] = (result.byStatus[response.status] ?? 0) + 1;
    if (marked) {
      result.marked += 1;
      result.firstMarkMs ??= atMs;
    } else if (result.firstMarkMs === null) {
      result.beforeFirstMark += 1;
    }
    if (opts.stop({ status: response.status, marked, atMs })) stopped = true;
  };

  const connection = async (): Promise<void> => {
    let socket: Socket | null = null;
    try {
      while (!stopped && performance.now() < deadline) {
        try {
          socket ??= await open(url);
          record(await exchange(socket, request));
        } catch (error) {
          socket?.destroy();
          socket = null;
          result.failures += 1;
          if (result.failures > MAX_FAILURES) {
            stopped = true;
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

  const outcomes = await Promise.allSettled(Array.from({ length: opts.connections }, connection));
  result.durationS = (performance.now() - began) / 1_000;
  const failed = outcomes.find((o) => o.status === "rejected");
  if (failed && failed.status === "rejected") throw failed.reason;
  return result;
}
