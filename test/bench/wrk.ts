// Runs wrk against one arm and reads its results. A Lua `done` hook prints the summary as JSON
// in microseconds, so nothing depends on parsing wrk's human-readable units.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runToEnd } from "./procs.ts";
import type { Mark } from "./sequential.ts";

export type WrkResult = {
  connections: number;
  threads: number;
  durationS: number;
  requests: number;
  rps: number;
  /** Latency in ms as wrk's histogram reports it; kept in the raw results only, because on
   * this kind of VM it contradicts wrk's own request count (see sequential.ts). */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  /** With a marked script: responses wrk read, those with status 200, those with the mark. */
  marks: { responses: number; ok: number; marked: number } | null;
};

export type WrkTarget = { url: string; headers: Record<string, string>; body: string };

/** wrk's version line, or null when wrk is not installed. */
export function wrkVersion(): string | null {
  const probe = spawnSync("wrk", ["-v"], { encoding: "utf8", timeout: 5_000 });
  if (probe.error) return null;
  const line = `${probe.stdout}${probe.stderr}`.split("\n").find((l) => l.startsWith("wrk"));
  return line?.replace(/\s*Copyright.*$/, "").trim() ?? "wrk (unknown version)";
}

function luaString(value: string): string {
  let level = 0;
  while (value.includes(`]${"=".repeat(level)}]`)) level += 1;
  const eq = "=".repeat(level);
  return `[${eq}[${value}]${eq}]`;
}

const DONE_HOOK = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {\\"requests\\":%d,\\"duration_us\\":%d,\\"p50\\":%d,\\"p90\\":%d,\\"p99\\":%d,\\"mean\\":%f,\\"max\\":%d," ..
    "\\"connect\\":%d,\\"read\\":%d,\\"write\\":%d,\\"status\\":%d,\\"timeout\\":%d}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
`;

/**
 * Counts every response, those with status 200 and those carrying a header with a value, per
 * thread (wrk gives each thread its own Lua state), and prints the sums after the summary. The
 * header is looked up by its name in lower case, as workerd sends the headers a Worker sets.
 */
function markHooks(mark: Mark): string {
  return `
local bench_threads = {}
setup = function(thread) table.insert(bench_threads, thread) end
init = function(args) bench_responses = 0; bench_ok = 0; bench_marked = 0 end
response = function(status, headers, body)
  bench_responses = bench_responses + 1
  if status == 200 then bench_ok = bench_ok + 1 end
  if headers[ ${luaString(mark.header.toLowerCase())} ] == ${luaString(mark.value)} then bench_marked = bench_marked + 1 end
end
local bench_done = done
done = function(summary, latency, requests)
  bench_done(summary, latency, requests)
  local r, o, m = 0, 0, 0
  for _, t in ipairs(bench_threads) do r = r + t:get("bench_responses"); o = o + t:get("bench_ok"); m = m + t:get("bench_marked") end
  io.write(string.format("BENCH_MARK {\\"responses\\":%d,\\"ok\\":%d,\\"marked\\":%d}\\n", r, o, m))
end
`;
}

/** Writes the request script for a target (counting responses with `mark`, when given); returns its path. */
export function writeScript(dir: string, name: string, target: WrkTarget, mark?: Mark): string {
  const lines = ['wrk.method = "POST"', `wrk.body = ${luaString(target.body)}`];
  for (const [header, value] of Object.entries(target.headers)) {
    lines.push(`wrk.headers[ ${luaString(header)} ] = ${luaString(value)}`);
  }
  const path = join(dir, `${name}.lua`);
  writeFileSync(path, `${lines.join("\n")}\n${DONE_HOOK}${mark ? markHooks(mark) : ""}`);
  return path;
}

type Raw = {
  requests: number;
  duration_us: number;
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
};

function parse(output: string): Raw {
  const line = output.split("\n").find((l) => l.startsWith("BENCH_JSON "));
  if (!line) throw new Error(`wrk printed no summary:\n${output}`);
  return JSON.parse(line.slice("BENCH_JSON ".length)) as Raw;
}

function parseMarks(output: string): WrkResult["marks"] {
  const line = output.split("\n").find((l) => l.startsWith("BENCH_MARK "));
  return line ? (JSON.parse(line.slice("BENCH_MARK ".length)) as WrkResult["marks"]) : null;
}

export async function runWrk(
  script: string,
  url: string,
  opts: { connections: number; threads: number; durationS: number },
): Promise<WrkResult> {
  const args = [
    `-t${opts.threads}`,
    `-c${opts.connections}`,
    `-d${opts.durationS}s`,
    "--timeout",
    "10s",
    "-s",
    script,
    url,
  ];
  const output = await runToEnd("wrk", "wrk", args, (opts.durationS + 30) * 1_000);
  const raw = parse(output);
  const seconds = raw.duration_us / 1e6;
  return {
    connections: opts.connections,
    threads: opts.threads,
    durationS: seconds,
    requests: raw.requests,
    rps: raw.requests / seconds,
    p50Ms: raw.p50 / 1_000,
    p90Ms: raw.p90 / 1_000,
    p99Ms: raw.p99 / 1_000,
    meanMs: raw.mean / 1_000,
    maxMs: raw.max / 1_000,
    errors: { connect: raw.connect, read: raw.read, write: raw.write, status: raw.status, timeout: raw.timeout },
    marks: parseMarks(output),
  };
}

export function errorCount(result: WrkResult): number {
  const e = result.errors;
  return e.connect + e.read + e.write + e.status + e.timeout;
}
