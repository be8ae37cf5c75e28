// Child process of the benchmark: runs one Worker on workerd through Miniflare's programmatic API
// and exposes it on a plain loopback socket that reaches the Worker directly (unsafeDirectSockets:
// no Miniflare entry worker, no wrangler dev proxy). workerd is a child of this process, so the
// orchestrator can account its CPU by process tree.
//   node test/bench/worker-host.ts --arm null   --port N --upstream http://127.0.0.1:M
//   node test/bench/worker-host.ts --arm outlay --port N --bundle /tmp/dir/index.js
//       [--persist DIR]    D1, Durable Objects, queues and R2 kept in DIR (migrations skipped when
//                          DIR already holds them), e.g. a seeded database reused by a second host
//       [--audit-driver PORT]  also runs the audit part's event source (audit-driver.ts), a
//                          bench-only Worker bound to Outlay's TenantLedger, on this port
//       [--hook MODULE]    after READY, runs calls to MODULE's exported functions sent on stdin as
//                          `HOOK {"id", "fn", "args"}` lines with the D1 binding, answering
//                          `HOOK-RESULT {"id", "ok", "value" | "error"}` (dashboard-seed.ts)
// Prints one line `READY {"url": ...}` on stdout when the Worker answers, then runs until SIGTERM.
import { readdirSync, readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { convertV4MiniflareOptions, Log, LogLevel, Miniflare, type V4MiniflareOptions } from "miniflare";
import { AUDIT_DRIVER_WORKER } from "./audit-driver.ts";
import { argFlag } from "./procs.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

/** compatibility_date and compatibility_flags of wrangler.toml: both arms run with Outlay's. */
function compatibility(): { compatibilityDate: string; compatibilityFlags: string[] } {
  const toml = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "";
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  return { compatibilityDate: date, compatibilityFlags: [...flags.matchAll(/"([^"]+)"/g)].flatMap((m) => m[1] ?? []) };
}

/** B: forwards method, headers and body to the mock upstream and returns its response as is. */
const NULL_WORKER = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.UPSTREAM + url.pathname + url.search, {
      method: request.method,
      headers: request.headers,
      body: request.body,
    });
  },
};
`;

function randomBase64(bytes: number): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("base64");
}

function randomToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
}

function nullOptions(port: number, upstream: string): V4MiniflareOptions {
  return {
    name: "bench-null",
    modules: true,
    script: NULL_WORKER,
    ...compatibility(),
    bindings: { UPSTREAM: upstream },
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
    cf: false,
    log: new Log(LogLevel.WARN),
  };
}

/** The modules wrangler wrote beside the entry for wrangler.toml's [[rules]] (the dashboard's
 * stylesheet and scripts, imported as Text): every file of the bundle dir but the entry, its
 * source map and the README. */
function ruleModules(
  bundle: string,
): { type: "Text" | "Data" | "CompiledWasm"; path: string; contents: string | Uint8Array }[] {
  const dir = dirname(bundle);
  return readdirSync(dir)
    .filter((name) => join(dir, name) !== bundle && !name.endsWith(".map") && name !== "README.md")
    .map((name) => {
      const path = join(dir, name);
      if (name.endsWith(".wasm")) return { type: "CompiledWasm" as const, path, contents: readFileSync(path) };
      if (name.endsWith(".bin")) return { type: "Data" as const, path, contents: readFileSync(path) };
      return { type: "Text" as const, path, contents: readFileSync(path, "utf8") };
    });
}

function outlayOptions(
  port: number,
  bundle: string,
  operatorToken: string,
  inspectorPort: number | null,
  persist: string | null,
): V4MiniflareOptions {
  return {
    name: "outlay",
    modules: [{ type: "ESModule", path: bundle, contents: readFileSync(bundle, "utf8") }, ...ruleModules(bundle)],
    modulesRoot: dirname(bundle),
    ...compatibility(),
    bindings: {
      KEY_PEPPER: randomToken(),
      DATA_KEYS: `v1:${randomBase64(32)}`,
      SESSION_SECRET: randomToken(),
      OPERATOR_TOKEN: operatorToken,
      AUDIT_SIGNING_KEYS: `v1:${randomBase64(32)}`,
      ALLOW_LOOPBACK_UPSTREAMS: "true",
    },
    d1Databases: { DB: "outlay-bench" },
    durableObjects: {
      TENANT_LEDGER: { className: "TenantLedger", useSQLite: true },
      AUDIT_ARCHIVER: { className: "AuditArchiver", useSQLite: true },
    },
    // As wrangler.toml: the usage queue, the ledger's audit queue and the webhook deliveries, each
    // with its consumer.
    queueProducers: {
      USAGE_QUEUE: { queueName: "outlay-usage" },
      AUDIT_QUEUE: { queueName: "outlay-audit" },
      WEBHOOK_QUEUE: { queueName: "outlay-webhooks" },
    },
    queueConsumers: {
      "outlay-usage": { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 10, deadLetterQueue: "outlay-usage-dlq" },
      "outlay-audit": { maxBatchSize: 100, maxBatchTimeout: 1, maxRetries: 10, deadLetterQueue: "outlay-audit-dlq" },
      "outlay-webhooks": {
        maxBatchSize: 100,
        maxBatchTimeout: 1,
        maxRetries: 10,
        deadLetterQueue: "outlay-webhooks-dlq",
      },
    },
    r2Buckets: { AUDIT_ARCHIVE: "outlay-audit", CLOUD_BILLS: "outlay-cloud-bills" },
    // As wrangler.toml: cloud-bill imports run as a Workflow (the cloud part, cloud.ts).
    workflows: { CLOUD_IMPORT: { name: "outlay-cloud-import", className: "CloudImportWorkflow" } },
    unsafeDirectSockets: [{ host: "127.0.0.1", port }],
    // For CPU profiles (ledger-profile.ts): the V8 inspector of the Worker's isolate.
    ...(inspectorPort ? { inspectorPort, unsafeInspectorProxy: true } : {}),
    ...(persist ? { resourcePersistencePath: persist } : {}),
    cf: false,
    log: new Log(LogLevel.WARN),
  };
}

/** Outlay and, beside it in the same workerd, the audit driver bound to Outlay's TenantLedger. */
function withAuditDriver(options: V4MiniflareOptions, driverPort: number): V4MiniflareOptions {
  if ("workers" in options) throw new Error("--audit-driver: expected a single-Worker configuration");
  const { cf, log, inspectorPort, resourcePersistencePath, ...outlay } = options;
  const driver = {
    name: "bench-audit-driver",
    modules: true,
    script: AUDIT_DRIVER_WORKER,
    ...compatibility(),
    durableObjects: { TENANT_LEDGER: { className: "TenantLedger", scriptName: "outlay", useSQLite: true } },
    unsafeDirectSockets: [{ host: "127.0.0.1", port: driverPort }],
  };
  return { cf, log, inspectorPort, resourcePersistencePath, workers: [outlay, driver] };
}

/** Splits a migration file into statements: `;` at a line end, `--` comments dropped. */
export function sqlStatements(sql: string): string[] {
  const lines = sql.split("\n").filter((line) => !line.trim().startsWith("--"));
  return lines
    .join("\n")
    .split(/;\s*\n/)
    .map((s) => s.trim().replace(/;$/, ""))
    .filter((s) => s.length > 0);
}

async function applyMigrations(mf: Miniflare): Promise<number> {
  const dir = join(ROOT, "d1/migrations");
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  const db = await mf.getD1Database("DB");
  // A persisted database from an earlier host of the same run already has the schema.
  const existing = await db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tenants'").first();
  if (existing) return 0;
  let count = 0;
  for (const file of files) {
    const statements = sqlStatements(readFileSync(join(dir, file), "utf8"));
    await db.batch(statements.map((s) => db.prepare(s)));
    count += statements.length;
  }
  return count;
}

export type HookDb = Awaited<ReturnType<Miniflare["getD1Database"]>>;
/** A function of a --hook module: the Worker's D1 binding, the call's arguments, a progress log. */
export type HookFn = (db: HookDb, args: unknown, log: (line: string) => void) => Promise<unknown>;

/** Serves `HOOK {...}` lines from stdin one at a time (each call may run for minutes). */
function serveHooks(mf: Miniflare, module: string): void {
  let chain = Promise.resolve();
  const loaded = import(module) as Promise<Record<string, unknown>>;
  const answer = (body: unknown) => process.stdout.write(`HOOK-RESULT ${JSON.stringify(body)}\n`);
  const log = (line: string) => process.stdout.write(`HOOK-LOG ${line}\n`);
  createInterface({ input: process.stdin }).on("line", (line) => {
    if (!line.startsWith("HOOK ")) return;
    const call = JSON.parse(line.slice(5)) as { id: number; fn: string; args: unknown };
    chain = chain.then(async () => {
      try {
        const fn = (await loaded)[call.fn];
        if (typeof fn !== "function") throw new Error(`${module} exports no function ${call.fn}`);
        const value = await (fn as HookFn)(await mf.getD1Database("DB"), call.args, log);
        answer({ id: call.id, ok: true, value });
      } catch (error) {
        answer({ id: call.id, ok: false, error: error instanceof Error ? error.message : String(error) });
      }
    });
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const arm = argFlag(argv, "arm");
  const port = Number(argFlag(argv, "port"));
  if (!Number.isInteger(port) || port <= 0) throw new Error("--port is required");
  let options: V4MiniflareOptions;
  if (arm === "null") {
    const upstream = argFlag(argv, "upstream");
    if (!upstream) throw new Error("--upstream is required for --arm null");
    options = nullOptions(port, upstream);
  } else if (arm === "outlay") {
    const bundle = argFlag(argv, "bundle");
    const operatorToken = process.env.BENCH_OPERATOR_TOKEN;
    if (!bundle || !operatorToken) throw new Error("--bundle and BENCH_OPERATOR_TOKEN are required for --arm outlay");
    const inspect = Number(process.env.BENCH_INSPECTOR_PORT ?? "");
    const inspectorPort = Number.isInteger(inspect) && inspect > 0 ? inspect : null;
    options = outlayOptions(port, bundle, operatorToken, inspectorPort, argFlag(argv, "persist") ?? null);
    const driverPort = Number(argFlag(argv, "audit-driver") ?? "");
    if (driverPort > 0) options = withAuditDriver(options, driverPort);
  } else {
    throw new Error(`unknown --arm ${String(arm)}`);
  }

  const mf = new Miniflare(convertV4MiniflareOptions(options));
  let disposing = false;
  const stop = (): void => {
    if (disposing) return;
    disposing = true;
    const force = setTimeout(() => process.exit(0), 5_000);
    void mf.dispose().finally(() => {
      clearTimeout(force);
      process.exit(0);
    });
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // The orchestrator owns this process: when it goes away (stdin closes), so do we.
  process.stdin.on("end", stop);
  process.stdin.resume();

  await mf.ready;
  const url = await mf.unsafeGetDirectURL("workers" in options ? "outlay" : undefined);
  const driver = "workers" in options ? (await mf.unsafeGetDirectURL("bench-audit-driver")).origin : undefined;
  const migrations = arm === "outlay" ? await applyMigrations(mf) : 0;
  const hook = argFlag(argv, "hook");
  if (hook && arm === "outlay") serveHooks(mf, hook);
  process.stdout.write(`READY ${JSON.stringify({ url: url.origin, migrations, driver })}\n`);
}

main().catch((error: unknown) => {
  console.error("worker-host failed:", error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
