// Child processes of the benchmark: each one starts in its own process group, so stopping it
// also stops what it started (workerd under a Miniflare host). Every child is tracked and
// stopped on exit, on error and on Ctrl+C; nothing else is ever signalled.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";

export function argFlag(argv: readonly string[], name: string): string | undefined {
  for (const [i, arg] of argv.entries()) {
    if (arg === `--${name}`) return argv[i + 1];
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A free loopback port (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error("no free port"))));
    });
  });
}

export type Tracked = {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Last output (stdout and stderr), for error messages. */
  tail: () => string;
  exited: Promise<number | null>;
};

const running = new Set<Tracked>();
const TAIL_CHARS = 4_000;

export function spawnTracked(
  name: string,
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; onLine?: (line: string) => void } = {},
): Tracked {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["pipe", "pipe", "pipe"],
    detached: true,
  });
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  let tail = "";
  let partial = "";
  const onData = (data: Buffer): void => {
    const text = data.toString("utf8");
    tail = (tail + text).slice(-TAIL_CHARS);
    if (!options.onLine) return;
    partial += text;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) options.onLine(line);
  };
  child.stdout?.on("data", onData);
  child.stderr?.on("data", onData);
  child.stdin?.on("error", () => undefined);
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const tracked: Tracked = { name, pid: child.pid, child, tail: () => tail, exited };
  running.add(tracked);
  void exited.then(() => running.delete(tracked));
  return tracked;
}

/** Waits for a stdout/stderr line matching `pattern`; rejects on exit or timeout. */
export function startAndWait(
  name: string,
  command: string,
  args: readonly string[],
  pattern: RegExp,
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
): Promise<{ proc: Tracked; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const proc = spawnTracked(name, command, args, {
      env,
      onLine: (line) => {
        const match = pattern.exec(line);
        if (match && !settled) {
          settled = true;
          clearTimeout(timer);
          resolve({ proc, match });
        }
      },
    });
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      reject(new Error(`${name} did not start within ${timeoutMs} ms. Output:\n${proc.tail()}`));
    }, timeoutMs);
    void proc.exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${String(code)} before it was ready. Output:\n${proc.tail()}`));
    });
  });
}

function signalGroup(proc: Tracked, signal: NodeJS.Signals): void {
  try {
    process.kill(-proc.pid, signal);
  } catch {
    // already gone
  }
}

export async function stop(proc: Tracked, graceMs = 3_000): Promise<void> {
  if (!running.has(proc)) return;
  signalGroup(proc, "SIGTERM");
  const timer = sleep(graceMs).then(() => "timeout" as const);
  if ((await Promise.race([proc.exited, timer])) === "timeout") signalGroup(proc, "SIGKILL");
  // The group may still hold grandchildren (workerd) after its leader exited.
  signalGroup(proc, "SIGKILL");
  running.delete(proc);
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((proc) => stop(proc)));
}

/** Last resort on process exit: synchronous SIGKILL of every group still tracked. */
export function killAllSync(): void {
  for (const proc of running) signalGroup(proc, "SIGKILL");
  running.clear();
}

/** Runs a command to completion (bounded by `timeoutMs`) and returns its stdout. */
export function runToEnd(
  name: string,
  command: string,
  args: readonly string[],
  timeoutMs: number,
  cwd?: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const proc = spawnTracked(name, command, args, {
      cwd,
      onLine: (line) => {
        out += `${line}\n`;
      },
    });
    const timer = setTimeout(() => {
      void stop(proc, 500);
      reject(new Error(`${name} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    void proc.exited.then((code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${name} exited with code ${String(code)}:\n${proc.tail()}`));
    });
  });
}

/** Runs a benchmark script's `main`: Ctrl+C or SIGTERM stops every tracked process first, exit
 * kills what is left, and a failure is reported under `name` with exit code 1. */
export function runScript(name: string, main: () => Promise<void>): void {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    process.once(signal, () => void stopAll().finally(() => process.exit(code)));
  }
  process.on("exit", killAllSync);
  main().catch(async (error: unknown) => {
    console.error(`[${name}] failed:`, error instanceof Error ? error.message : error);
    await stopAll();
    process.exitCode = 1;
  });
}
