// The platform-cost point of the gateway part (docs/benchmarks.md, "Platform cost per million
// calls"): Outlay bundled with count-entry.ts as its entry (in a temp copy; the project is never
// modified), so that every billable operation is counted where it happens. JSON calls at c=16 to
// the tenant without rules, or to a strict-mode tenant with rules; the counts taken once
// everything they caused (queues, consumers, alarms) has gone quiet, before and after; divided by
// the calls the Worker received, and priced at Cloudflare's published Workers Paid prices
// (PRICES). What the calls cause later is not in the window: a settled call's id is deleted from
// the ledger's `settled` table two hours after (SETTLED_KEEP_MS).
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bundleOutlay, ROOT, startOutlay } from "./arms.ts";
import { CONFIG, requestBody } from "./config.ts";
import type { Counts } from "./count-entry.ts";
import { patchedCopy } from "./patch.ts";
import { provisionTenant, type TenantRules } from "./ledger-setup.ts";
import { log } from "./points.ts";
import { sleep, stop } from "./procs.ts";
import { measureSequential } from "./sequential.ts";

/** USD per unit beyond the plan's inclusions, Workers Paid, as published on 2026-12-03. */
export const PRICES = {
  workerRequest: 0.3 / 1e6,
  workerCpuMs: 0.02 / 1e6,
  doRequest: 0.15 / 1e6,
  queueOp: 0.4 / 1e6,
  d1RowWritten: 1 / 1e6,
  d1RowRead: 0.001 / 1e6,
  d1GbMonth: 0.75,
  doSqlRowWritten: 1 / 1e6,
  doSqlRowRead: 0.001 / 1e6,
  r2ClassA: 4.5 / 1e6,
  r2ClassB: 0.36 / 1e6,
} as const;

export const PRICE_SOURCES = [
  "https://developers.cloudflare.com/workers/platform/pricing/",
  "https://developers.cloudflare.com/durable-objects/platform/pricing/",
  "https://developers.cloudflare.com/queues/platform/pricing/",
  "https://developers.cloudflare.com/d1/platform/pricing/",
  "https://developers.cloudflare.com/r2/pricing/",
];

/** One D1 database holds at most this much (D1's per-database limit on Workers Paid). */
export const D1_MAX_BYTES = 10 * 1024 ** 3;

/** Counts per call, and what they cost per million calls. */
export type CostResult = {
  calls: number;
  perCall: {
    workerInvocations: number;
    queueInvocations: number;
    doRequests: number;
    doAlarms: number;
    queueOps: number;
    queueMessages: number;
    d1RowsWritten: number;
    d1RowsRead: number;
    d1Statements: number;
    d1Bytes: number;
    doSqlRowsWritten: number;
    doSqlRowsRead: number;
    r2ClassA: number;
    r2ClassB: number;
    cpuMs: number;
  };
  /** USD per million calls, by item, and their total (D1 storage: the month after they were made). */
  usdPerMillion: Record<string, number>;
  totalUsdPerMillion: number;
  /** Calls one D1 database holds at this size per call. */
  callsPerDatabase: number;
  /** Rows written per call by statement, most first: D1's and the Durable Objects' SQLite. */
  rowsBySql: { store: "D1" | "DO"; sql: string; perCall: number }[];
  /** The raw counts before and after, for bench-results/latest.json. */
  before: Counts;
  after: Counts;
};

const COUNT_ENTRY = "test/bench/count-entry.ts";
const QUIET_POLL_MS = 1_000;
const QUIET_MAX_MS = 30_000;

/** A copy of the sources whose Worker entry is count-entry.ts (wrangler.toml's `main` swapped). */
function countingCopy(dir: string): string {
  patchedCopy(dir, []);
  cpSync(join(ROOT, COUNT_ENTRY), join(dir, COUNT_ENTRY));
  const toml = join(dir, "wrangler.toml");
  const text = readFileSync(toml, "utf8");
  const swapped = text.replace(/^main = "workers\/index\.ts"$/m, `main = "${COUNT_ENTRY}"`);
  if (swapped === text)
    throw new Error(`wrangler.toml: no \`main = "workers/index.ts"\` line to swap for ${COUNT_ENTRY}`);
  writeFileSync(toml, swapped);
  return dir;
}

async function countsOf(base: string): Promise<Counts> {
  const res = await fetch(`${base}/__bench/counts`, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`GET /__bench/counts: ${res.status}`);
  return (await res.json()) as Counts;
}

/** The counts once two reads a second apart agree (consumers, alarms and retries done). */
async function quietCounts(base: string): Promise<Counts> {
  const began = Date.now();
  let last = JSON.stringify(await countsOf(base));
  while (Date.now() - began < QUIET_MAX_MS) {
    await sleep(QUIET_POLL_MS);
    const now = await countsOf(base);
    const text = JSON.stringify(now);
    if (text === last) return now;
    last = text;
  }
  throw new Error(`the counts did not settle within ${QUIET_MAX_MS / 1_000} s`);
}

const sum = (record: Record<string, number>): number => Object.values(record).reduce((a, b) => a + b, 0);

function queueTotals(c: Counts): { messages: number; ops: number } {
  let messages = 0;
  let ops = 0;
  for (const q of Object.values(c.queues)) {
    messages += q.messages;
    ops += q.writeOps + q.readOps + q.deleteOps;
  }
  return { messages, ops };
}

/** Per call and per million calls from two snapshots and the CPU per call measured at c=64. */
export function costOf(before: Counts, after: Counts, cpuMsPerCall: number): CostResult {
  const calls = after.workerRequests - before.workerRequests;
  if (calls <= 0) throw new Error("no call reached the Worker during the cost point");
  const per = (a: number, b: number) => (a - b) / calls;
  const q0 = queueTotals(before);
  const q1 = queueTotals(after);
  const perCall = {
    workerInvocations: per(
      after.workerRequests + after.queueInvocations,
      before.workerRequests + before.queueInvocations,
    ),
    queueInvocations: per(after.queueInvocations, before.queueInvocations),
    doRequests: per(sum(after.doRequests), sum(before.doRequests)),
    doAlarms: per(after.doAlarms, before.doAlarms),
    queueOps: per(q1.ops, q0.ops),
    queueMessages: per(q1.messages, q0.messages),
    d1RowsWritten: per(after.d1.rowsWritten, before.d1.rowsWritten),
    d1RowsRead: per(after.d1.rowsRead, before.d1.rowsRead),
    d1Statements: per(after.d1.statements, before.d1.statements),
    d1Bytes: per(after.d1.sizeAfter, before.d1.sizeAfter),
    doSqlRowsWritten: per(after.doSqlRowsWritten, before.doSqlRowsWritten),
    doSqlRowsRead: per(after.doSqlRowsRead, before.doSqlRowsRead),
    r2ClassA: per(after.r2.classA, before.r2.classA),
    r2ClassB: per(after.r2.classB, before.r2.classB),
    cpuMs: cpuMsPerCall,
  };
  const M = 1e6;
  const usdPerMillion: Record<string, number> = {
    "Workers requests (calls and queue consumer invocations)": perCall.workerInvocations * M * PRICES.workerRequest,
    "Workers CPU (C's CPU per call at c=64)": perCall.cpuMs * M * PRICES.workerCpuMs,
    "Durable Object requests (and alarms)": (perCall.doRequests + perCall.doAlarms) * M * PRICES.doRequest,
    "Durable Object SQLite rows written / read":
      M * (perCall.doSqlRowsWritten * PRICES.doSqlRowWritten + perCall.doSqlRowsRead * PRICES.doSqlRowRead),
    "Queue operations (write, read, delete per 64 KB)": perCall.queueOps * M * PRICES.queueOp,
    "D1 rows written / read": M * (perCall.d1RowsWritten * PRICES.d1RowWritten + perCall.d1RowsRead * PRICES.d1RowRead),
    "D1 storage, one month": ((perCall.d1Bytes * M) / 1e9) * PRICES.d1GbMonth,
    "R2 operations (audit archive)": M * (perCall.r2ClassA * PRICES.r2ClassA + perCall.r2ClassB * PRICES.r2ClassB),
  };
  const bySql = (store: "D1" | "DO", a: Record<string, number>, b: Record<string, number>) =>
    Object.entries(a).map(([sql, rows]) => ({ store, sql, perCall: (rows - (b[sql] ?? 0)) / calls }));
  const rowsBySql = [
    ...bySql("D1", after.rowsBySql.d1, before.rowsBySql.d1),
    ...bySql("DO", after.rowsBySql.doSql, before.rowsBySql.doSql),
  ]
    .filter((r) => r.perCall >= 0.005)
    .sort((x, y) => y.perCall - x.perCall);
  return {
    calls,
    perCall,
    rowsBySql,
    usdPerMillion,
    totalUsdPerMillion: sum(usdPerMillion),
    callsPerDatabase: perCall.d1Bytes > 0 ? D1_MAX_BYTES / perCall.d1Bytes : Number.POSITIVE_INFINITY,
    before,
    after,
  };
}

/**
 * Bundles the counting build, starts it against `upstream`, sends CONFIG.durationS of JSON calls
 * at c=CONFIG.concurrentConnections after a warm-up, and prices what they cost.
 */
/**
 * The cost point: calls to the arm's own tenant (no rules), or, with `rules`, to a tenant of its
 * own provisioned with them (the ledger part's tenants: a budget, a policy, a rate limit).
 */
export async function costPoint(
  tmp: string,
  upstream: string,
  cpuMsPerCall: number,
  rules?: TenantRules,
): Promise<CostResult> {
  log("cost: bundling Outlay with the counting entry (test/bench/count-entry.ts)");
  const dir = (name: string) => join(tmp, rules ? `${name}-${rules.mode}` : name);
  const bundle = await bundleOutlay(dir("count-bundle"), countingCopy(dir("count-src")), "count-entry.js");
  const arm = await startOutlay(upstream, bundle, CONFIG.startupTimeoutMs);
  try {
    const base = arm.admin?.base;
    if (!base || !arm.admin) throw new Error("the counting Outlay has no base URL");
    const headers = rules
      ? {
          "content-type": "application/json",
          authorization: `Bearer ${(await provisionTenant(arm.admin, `cost ${rules.mode}`, rules)).proxyKey}`,
        }
      : arm.headers;
    const target = { url: arm.url, headers, body: requestBody("json") };
    const drive = (durationS: number) =>
      measureSequential(target, { warmupS: 0, durationS, stream: false, connections: CONFIG.concurrentConnections });
    await drive(CONFIG.warmupS);
    const before = await quietCounts(base);
    const driven = await drive(CONFIG.durationS);
    if (driven.failures > 0) throw new Error(`cost point: ${driven.failures} calls failed`);
    const after = await quietCounts(base);
    const cost = costOf(before, after, cpuMsPerCall);
    log(
      `cost: ${cost.calls} calls; $${cost.totalUsdPerMillion.toFixed(2)} per million calls; ` +
        `D1 ${cost.perCall.d1RowsWritten.toFixed(2)} rows written and ${cost.perCall.d1Bytes.toFixed(0)} B per call`,
    );
    return cost;
  } finally {
    await stop(arm.proc);
  }
}
