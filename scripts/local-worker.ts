// The Worker on this machine through `wrangler dev` (local D1, Durable Objects, Queues, R2): used
// by `npm start` (scripts/trial.ts) and by the browser tests (test/browser/), so both run the
// same thing a newcomer runs.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");

export type LocalWorkerOptions = {
  port: number;
  /** local state directory (default: wrangler's .wrangler/state) */
  persistTo?: string;
  /** a .env-style file of secrets (default: wrangler reads .dev.vars) */
  envFile?: string;
  /** each line wrangler prints (offline noise removed) */
  log?: (line: string) => void;
};

function persistArgs(persistTo: string | undefined): string[] {
  return persistTo ? ["--persist-to", persistTo] : [];
}

/** Applies the D1 migrations to the local database. */
export function migrate(persistTo?: string): void {
  const result = spawnSync(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", ...persistArgs(persistTo)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    encoding: "utf8",
    env: { ...process.env, CI: "true" },
  });
  if (result.status !== 0) {
    throw new Error(`applying D1 migrations failed:\n${result.stdout}\n${result.stderr}`);
  }
}

export function startLocalWorker(options: LocalWorkerOptions): ChildProcess {
  const child = spawn(
    WRANGLER,
    [
      "dev",
      "--port",
      String(options.port),
      "--ip",
      "127.0.0.1",
      "--var",
      "ALLOW_LOOPBACK_UPSTREAMS:true",
      "--show-interactive-dev-session=false",
      ...persistArgs(options.persistTo),
      ...(options.envFile ? ["--env-file", options.envFile] : []),
    ],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
  );
  // Offline, wrangler cannot fetch the Request.cf placeholder data and says so with a DNS stack
  // trace; it falls back by itself, so those lines are left out.
  const offlineNoise = /Request\.cf|getaddrinfo|GetAddrInfoReqWrap/;
  const relay = (data: Buffer) => {
    for (const line of data.toString().split("\n")) {
      if (line.trim() && !offlineNoise.test(line)) options.log?.(line);
    }
  };
  child.stdout?.on("data", relay);
  child.stderr?.on("data", relay);
  return child;
}

/** Waits for /health; gives up early when `failed()` says the build broke (wrangler keeps running). */
export async function waitForHealth(
  baseUrl: string,
  child: ChildProcess,
  timeoutMs = 120_000,
  failed: () => boolean = () => false,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with ${child.exitCode}`);
    if (failed()) throw new Error("wrangler dev could not build the Worker");
    try {
      const res = await fetch(`${baseUrl}/health`, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`wrangler dev did not answer /health within ${timeoutMs / 1000} s`);
}
