// The cloud-bill part of the benchmark, `npm run bench -- --cloud-only` (docs/benchmarks.md,
// "Cloud bills"; issue 14 §5). One Outlay process (the bundled Worker on workerd through
// Miniflare, worker-host.ts, with its Workflow, its CLOUD_BILLS bucket and D1 kept on disk in the
// run's temp dir, and the V8 inspector on for the isolate's heap), two organisations made through
// Outlay's own routes:
//   1. a generated month of CUR 2.0 (BENCH_CLOUD_BYTES of CSV.gz, 1 GB by default) imported as
//      CSV.gz, then its Parquet twin (cloud-import.ts): rows per second, peak memory, totals;
//   2. twelve generated months of the same organisation imported, then the spend page's queries
//      timed, one at a time (cloud-spend.ts).
// Not part of `npm run bench` (all). Generated bills are cached (cloud-generate.ts) so a second run
// skips generating. Results: bench-results/cloud.json and the "cloud" block of the docs.
import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { newId } from "../../shared/ids.ts";
import { bundleOutlay, ROOT } from "./arms.ts";
import { generateBill, resourcesFor } from "./cloud-generate.ts";
import { type CloudApi, crashedRun, measureImport } from "./cloud-import.ts";
import { heapProbe, type RssNow, rssNow } from "./cloud-memory.ts";
import { renderCloud, writeCloudDocs } from "./cloud-report.ts";
import type { CloudResults } from "./cloud-results.ts";
import { measureSpend } from "./cloud-spend.ts";
import { CONFIG } from "./config.ts";
import { machineFacts, sourceRevision } from "./machine.ts";
import { signIn } from "./dashboard-setup.ts";
import { apiCall, stringField } from "./outlay-setup.ts";
import { log } from "./points.ts";
import { freePort, sleep, startAndWait, stop, type Tracked } from "./procs.ts";
import { writeJson } from "./report.ts";
import type { Machine } from "./results.ts";
import { wrkVersion } from "./wrk.ts";

export const CLOUD_VARS = [
  "BENCH_CLOUD_BYTES",
  "BENCH_CLOUD_ROW_GROUP",
  "BENCH_CLOUD_YEAR_RESOURCES",
  "BENCH_CLOUD_SPEND_REQUESTS",
  "BENCH_CLOUD_CACHE",
  "BENCH_CLOUD_SOURCE",
  "BENCH_CLOUD_HEAP_MB",
];

const DEFAULT_BYTES = 1_000_000_000;
/** Set, any of these makes a smoke run (not written into the docs). */
const SIZE_VARS = [
  "BENCH_CLOUD_BYTES",
  "BENCH_CLOUD_ROW_GROUP",
  "BENCH_CLOUD_YEAR_RESOURCES",
  "BENCH_CLOUD_SPEND_REQUESTS",
  "BENCH_CLOUD_HEAP_MB",
];
/** The big bill's month, and the last month of the year (both generated; any past month would do). */
const BILL_MONTH = "2026-10";
const SEED = 1;
const IMPORT_MAX_MS = 40 * 60_000;

function envCount(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a whole number ≥ 1, got "${raw}"`);
  return value;
}

export type CloudContext = {
  tmp: string;
  bundle: string;
  revision: string;
  command: string;
  machine: Machine;
  docs: string;
};

type CloudOutlay = { proc: Tracked; base: string; operatorToken: string; inspectorPort: number };

/**
 * A fresh Outlay with its own state dir, so each measured import starts from the same idle process;
 * every isolate of its workerd with V8's old space capped at `heapCapMb` (the Workers limit is
 * 128 MB per isolate): an import that needs more dies instead of passing unnoticed.
 */
async function startCloudOutlay(ctx: CloudContext, name: string, heapCapMb: number): Promise<CloudOutlay> {
  const operatorToken = `bench-operator-${crypto.randomUUID()}`;
  const [port, inspectorPort] = [await freePort(), await freePort()];
  const persist = join(ctx.tmp, `cloud-state-${name}`);
  mkdirSync(persist, { recursive: true });
  const args = ["--arm", "outlay", "--bundle", ctx.bundle, "--port", String(port), "--persist", persist];
  const { proc, match } = await startAndWait(
    "outlay",
    process.execPath,
    [join(ROOT, "test/bench/worker-host.ts"), ...args],
    /^READY (\{.*\})$/,
    CONFIG.startupTimeoutMs,
    {
      ...process.env,
      BENCH_OPERATOR_TOKEN: operatorToken,
      BENCH_INSPECTOR_PORT: String(inspectorPort),
      MINIFLARE_WORKERD_V8_FLAGS: `--max-old-space-size=${heapCapMb}`,
    },
  );
  const ready = JSON.parse(match[1] ?? "{}") as { url?: string };
  if (!ready.url) throw new Error(`worker-host: no Worker URL in ${match[0]}`);
  return { proc, base: ready.url, operatorToken, inspectorPort };
}

async function organisation(
  base: string,
  operatorToken: string,
  name: string,
): Promise<CloudApi & { tenantId: string }> {
  const tenantId = newId();
  await apiCall(`${base}/internal/v1/tenants/${tenantId}`, "PUT", operatorToken, { name });
  const token = stringField(
    await apiCall(`${base}/internal/v1/tenants/${tenantId}/admin-tokens`, "POST", operatorToken, { name: "bench" }),
    "token",
  );
  return { base, token, tenantId };
}

/** An owner who signs in to the dashboard (for the /cloud page); the session cookie. */
async function ownerSession(base: string, operatorToken: string, tenantId: string): Promise<string> {
  const user = { email: `owner-${tenantId}@bench.example`, password: `bench-${newId()}-${newId()}` };
  await apiCall(`${base}/internal/v1/tenants/${tenantId}/members`, "PUT", operatorToken, {
    ...user,
    name: "Bench Owner",
    role: "owner",
  });
  return signIn(base, user);
}

function monthRange(month: string): { from: string; to: string } {
  const [y, m] = month.split("-").map(Number) as [number, number];
  return { from: `${month}-01`, to: new Date(Date.UTC(y, m, 0)).toISOString().slice(0, 10) };
}

/**
 * The committed tree (HEAD) written out beside the run, with the project's node_modules linked:
 * what is measured is a commit, not whatever other people have half-edited in the working tree.
 */
function committedTree(tmp: string): { dir: string; revision: string } {
  const dir = join(tmp, "src");
  mkdirSync(dir, { recursive: true });
  execFileSync("sh", ["-c", `git archive --format=tar HEAD | tar -x -C "${dir}"`], { cwd: ROOT, timeout: 60_000 });
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  return { dir, revision: `${commit} (the committed tree)` };
}

/** `npm run bench -- --cloud-only`: bundles Outlay (HEAD, or the working tree with BENCH_CLOUD_SOURCE=worktree) and runs the part. */
export async function cloudOnly(tmp: string, command: string, docs: string): Promise<CloudResults> {
  const worktree = process.env.BENCH_CLOUD_SOURCE === "worktree";
  const { dir, revision } = worktree ? { dir: ROOT, revision: sourceRevision() } : committedTree(tmp);
  log(`bundling the Worker at ${revision} (wrangler deploy --dry-run)`);
  const bundle = await bundleOutlay(join(tmp, "bundle"), dir);
  const machine = machineFacts(wrkVersion() ?? "wrk not used");
  return cloudPart({ tmp, bundle, revision, command, machine, docs });
}

export async function cloudPart(ctx: CloudContext): Promise<CloudResults> {
  const began = performance.now();
  const targetBytes = envCount("BENCH_CLOUD_BYTES", DEFAULT_BYTES);
  const rowGroupSize = envCount("BENCH_CLOUD_ROW_GROUP", 100_000);
  const yearResources = envCount("BENCH_CLOUD_YEAR_RESOURCES", 400);
  const spendRequests = envCount("BENCH_CLOUD_SPEND_REQUESTS", 300);
  const heapCapMb = envCount("BENCH_CLOUD_HEAP_MB", 128);

  log(
    `cloud part: generating a month of CUR 2.0 of about ${(targetBytes / 1e6).toFixed(0)} MB gzip and its Parquet twin`,
  );
  const resources = resourcesFor(targetBytes, BILL_MONTH, SEED);
  const bill = await generateBill({ month: BILL_MONTH, resources, seed: SEED }, rowGroupSize, log);
  if (!bill.parquet) throw new Error("no Parquet twin generated");

  const range = monthRange(BILL_MONTH);
  const imports = [];
  let idle: RssNow | null = null;
  for (const [format, path, size] of [
    ["csv.gz", bill.csvGz, bill.csvGzBytes],
    ["parquet", bill.parquet, bill.parquetBytes],
  ] as const) {
    log(`${format}: starting a fresh Outlay (Workflow, R2 and D1 on disk, inspector on)`);
    const outlay = await startCloudOutlay(ctx, format, heapCapMb);
    const root = outlay.proc.pid;
    const heap = await heapProbe(outlay.inspectorPort).catch((error: unknown) => {
      log(`no heap figures: ${error instanceof Error ? error.message : String(error)}`);
      return null;
    });
    await sleep(1_500);
    idle ??= rssNow(root);
    const org = await organisation(outlay.base, outlay.operatorToken, `Cloud bench: one month, ${format}`);
    log(`${format}: uploading ${(size / 1e6).toFixed(0)} MB through the API`);
    const run = await measureImport({
      api: org,
      root,
      heap,
      path,
      size,
      name: `bench-${BILL_MONTH}.${format}`,
      format,
      ...range,
      expectedTotalNano: bill.totalNano,
      maxMs: IMPORT_MAX_MS,
    }).catch((error: unknown) => {
      const tail = outlay.proc.tail().split("\n").slice(-5).join(" | ");
      const message = `${error instanceof Error ? error.message : String(error)}; Outlay's last output: ${tail}`;
      log(`${format}: the import did not end: ${message}`);
      return crashedRun(format, size, message.slice(0, 500), bill.totalNano);
    });
    const heapMb = run.memory.peakHeapBytes === null ? "n/a" : (run.memory.peakHeapBytes / 2 ** 20).toFixed(0);
    log(
      `${format}: ${run.status}, ${run.rowsRead.toLocaleString("en")} rows in ${(run.importMs / 1000).toFixed(1)} s = ${run.rowsPerSecond.toFixed(0)} rows/s; peak workerd RSS ${(run.memory.peakWorkerdKb / 1024).toFixed(0)} MB, heap ${heapMb} MB; total ${run.spendTotalNano === run.expectedTotalNano ? "matches" : "DIFFERS"}`,
    );
    imports.push(run);
    heap?.close();
    await stop(outlay.proc);
  }

  log("year: starting a fresh Outlay");
  const outlay = await startCloudOutlay(ctx, "year", heapCapMb);
  const yearOrg = await organisation(outlay.base, outlay.operatorToken, "Cloud bench: one year");
  const cookie = await ownerSession(outlay.base, outlay.operatorToken, yearOrg.tenantId);
  const year = await measureSpend({
    api: yearOrg,
    cookie,
    lastMonth: BILL_MONTH,
    resources: yearResources,
    seed: SEED + 1,
    warmup: 20,
    requests: spendRequests,
    maxImportMs: IMPORT_MAX_MS,
  });
  await stop(outlay.proc);

  const results: CloudResults = {
    date: new Date().toISOString(),
    command: ctx.command,
    revision: ctx.revision,
    machine: ctx.machine,
    bill: {
      month: BILL_MONTH,
      resources,
      rows: bill.rows,
      csvBytes: bill.csvBytes,
      csvGzBytes: bill.csvGzBytes,
      parquetBytes: bill.parquetBytes,
      rowGroupSize: bill.rowGroupSize,
      totalNano: bill.totalNano,
    },
    idle: idle ?? { workerdKb: 0, treeKb: 0 },
    heapCapMb,
    imports,
    year,
    elapsedS: (performance.now() - began) / 1_000,
  };
  // Only a run of the default sizes is published.
  const changed = SIZE_VARS.filter((name) => (process.env[name] ?? "") !== "");
  const published = changed.length === 0;
  const markdown = renderCloud(results, published);
  process.stdout.write(`\n${markdown}\n`);
  if (published) {
    writeCloudDocs(ctx.docs, markdown);
    log(`wrote the cloud block of ${ctx.docs}`);
  } else {
    log(`${changed.join(", ")} set: a smoke run, docs/benchmarks.md left as it was`);
  }
  const jsonPath = writeJson(join(ROOT, "bench-results"), results, "cloud.json");
  log(`wrote ${jsonPath}`);
  return results;
}
