// The verifier figure of the audit part (docs/benchmarks.md, "Audit"): a generated archive of
// BENCH_VERIFY_EVENTS events (audit-archive-server.ts, its own process) and the real CLI,
// `node scripts/audit-verify.ts --base-url … --token …`, run as a child under `/usr/bin/time -v`
// (or, without it, with a preload that reports process.resourceUsage().maxRSS at exit): its wall
// time, events per second and peak resident memory, and whether it verified what was generated.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { ROOT } from "./arms.ts";
import { log } from "./points.ts";
import { spawnTracked, startAndWait, stop } from "./procs.ts";

export type VerifierResult = {
  events: number;
  segments: number;
  gzBytes: number;
  rawBytes: number;
  generateMs: number;
  /** the CLI's wall time, spawn to exit (Node's start included) */
  wallMs: number;
  eventsPerSecond: number;
  maxRssKb: number;
  /** how peak memory was read */
  rssSource: "/usr/bin/time -v" | "process.resourceUsage().maxRSS";
  /** the CLI's own verdict line (exit 0 or 1), and whether it names the generated tree size and root */
  verdict: string;
  verified: boolean;
};

const TIME = "/usr/bin/time";
const RSS_PRELOAD =
  "data:text/javascript,process.on('exit',()=>process.stderr.write('BENCH_MAXRSS_KB '+process.resourceUsage().maxRSS+'\\n'))";

/** Runs the CLI to its end: its exit code and output (stdout and stderr); a verdict of 1 is a result, not an error. */
async function runCli(
  command: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  let output = "";
  const proc = spawnTracked("audit-verify", command, args, { cwd: ROOT, onLine: (line) => (output += `${line}\n`) });
  const timer = setTimeout(() => void stop(proc, 500), timeoutMs);
  const code = await proc.exited;
  clearTimeout(timer);
  return { code, output };
}

export async function measureVerifier(timeoutMs: number): Promise<VerifierResult> {
  const token = `oat_bench_${Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url")}`;
  log("verifier: generating the archive (audit-archive-server.ts)");
  const { proc, match } = await startAndWait(
    "archive-server",
    process.execPath,
    [join(ROOT, "test/bench/audit-archive-server.ts")],
    /^READY (\{.*\})$/,
    timeoutMs,
    { ...process.env, BENCH_ARCHIVE_TOKEN: token },
  );
  try {
    const served = JSON.parse(match[1] ?? "{}") as {
      url: string;
      events: number;
      segments: number;
      gzBytes: number;
      rawBytes: number;
      rootHash: string;
      generateMs: number;
    };
    log(
      `verifier: ${served.events} events in ${served.segments} segments (${(served.gzBytes / 1e6).toFixed(1)} MB gzip) generated in ${(served.generateMs / 1000).toFixed(1)} s`,
    );
    const cli = [join(ROOT, "scripts/audit-verify.ts"), "--base-url", served.url, "--token", token];
    const useTime = existsSync(TIME);
    const [command, args] = useTime
      ? [TIME, ["-v", process.execPath, ...cli]]
      : [process.execPath, ["--import", RSS_PRELOAD, ...cli]];
    const began = performance.now();
    const { code, output } = await runCli(command, args, timeoutMs);
    const wallMs = performance.now() - began;
    if (code !== 0 && code !== 1) throw new Error(`audit-verify exited with ${String(code)}:\n${output.slice(-2_000)}`);
    const rss = useTime
      ? /Maximum resident set size \(kbytes\): (\d+)/.exec(output)?.[1]
      : /^BENCH_MAXRSS_KB (\d+)$/m.exec(output)?.[1];
    const verdict = output.split("\n").find((line) => /^(verified|FAILED)/.test(line)) ?? "no verdict printed";
    const verified = verdict.startsWith(`verified: tree size ${served.events}, root ${served.rootHash},`);
    return {
      events: served.events,
      segments: served.segments,
      gzBytes: served.gzBytes,
      rawBytes: served.rawBytes,
      generateMs: served.generateMs,
      wallMs,
      eventsPerSecond: served.events / (wallMs / 1000),
      maxRssKb: Number(rss ?? NaN),
      rssSource: useTime ? "/usr/bin/time -v" : "process.resourceUsage().maxRSS",
      verdict,
      verified,
    };
  } finally {
    await stop(proc);
  }
}
