// Outlay on workerd for the dashboard benchmark: worker-host.ts with its state persisted in a
// directory (so a second host can open the seeded database) and dashboard-seed.ts as its hook
// module, called over the host's stdin. Lines the Worker logs with OUTLAY_SQL (the tracing
// build of dashboard-plans.ts) go to `onSql`.
import { join } from "node:path";
import { ROOT } from "./arms.ts";
import { freePort, spawnTracked, stop, type Tracked } from "./procs.ts";

export type Host = {
  proc: Tracked;
  origin: string;
  /** Calls a function of dashboard-seed.ts inside the host; rejects with its error. */
  hook: <T>(fn: string, args: unknown) => Promise<T>;
  /** Receives the SQL statements the tracing build logs (replaced by each caller). */
  onSql: ((line: string) => void) | null;
  stop: () => Promise<void>;
};

const SEED_MODULE = join(ROOT, "test/bench/dashboard-seed.ts");

export async function startHost(opts: {
  bundle: string;
  stateDir: string;
  operatorToken: string;
  timeoutMs: number;
  log: (line: string) => void;
}): Promise<Host> {
  const port = await freePort();
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let ready: ((origin: string) => void) | null = null;
  const host: Partial<Host> & { onSql: Host["onSql"] } = { onSql: null };
  const onLine = (line: string): void => {
    if (line.startsWith("READY ")) {
      const parsed = JSON.parse(line.slice(6)) as { url?: string };
      ready?.(parsed.url ?? `http://127.0.0.1:${port}`);
    } else if (line.startsWith("HOOK-RESULT ")) {
      const answer = JSON.parse(line.slice(12)) as { id: number; ok: boolean; value?: unknown; error?: string };
      const waiter = pending.get(answer.id);
      pending.delete(answer.id);
      if (answer.ok) waiter?.resolve(answer.value);
      else waiter?.reject(new Error(answer.error ?? "hook failed"));
    } else if (line.startsWith("HOOK-LOG ")) {
      opts.log(line.slice(9));
    } else if (line.includes("OUTLAY_SQL ")) {
      host.onSql?.(line.slice(line.indexOf("OUTLAY_SQL ") + 11));
    }
  };
  const args = ["--arm", "outlay", "--bundle", opts.bundle, "--port", String(port)];
  const proc = spawnTracked(
    "outlay-dashboard",
    process.execPath,
    [join(ROOT, "test/bench/worker-host.ts"), ...args, "--persist", opts.stateDir, "--hook", SEED_MODULE],
    { env: { ...process.env, BENCH_OPERATOR_TOKEN: opts.operatorToken }, onLine },
  );
  const origin = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Outlay did not start in ${opts.timeoutMs} ms:\n${proc.tail()}`)),
      opts.timeoutMs,
    );
    ready = (o) => {
      clearTimeout(timer);
      resolve(o);
    };
    void proc.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`Outlay exited with code ${String(code)} before it was ready:\n${proc.tail()}`));
    });
  });
  void proc.exited.then((code) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`Outlay exited (${String(code)}):\n${proc.tail()}`));
    pending.clear();
  });
  host.proc = proc;
  host.origin = origin;
  host.hook = <T>(fn: string, hookArgs: unknown) =>
    new Promise<T>((resolve, reject) => {
      const id = nextId;
      nextId += 1;
      pending.set(id, { resolve: (v) => resolve(v as T), reject });
      proc.child.stdin?.write(`HOOK ${JSON.stringify({ id, fn, args: hookArgs })}\n`);
    });
  host.stop = () => stop(proc, 10_000);
  return host as Host;
}
