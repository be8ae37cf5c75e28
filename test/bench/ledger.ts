// The ledger part of `npm run bench` (docs/benchmarks.md, "Ledger"). Three tenants on the same
// Outlay arm: C0 without rules, C-strict with a budget that never refuses, a policy and a rate
// limit (one TenantLedger.admit per call, then settle), C-lease with the same rules in lease mode
// (admitted from the isolate's lease, reported in batches). For each: latency at c=1 and
// throughput at c=64, counting the responses admitted from a lease (`x-outlay-admission:
// lease`). Then a budget driven to exhaustion at c=64 in each mode, to measure the overshoot.
import { formatUsd, parseDecimal } from "../../shared/money.ts";
import type { Arm, OutlayAdmin } from "./arms.ts";
import { closedLoop, type Seen } from "./closed-loop.ts";
import { CONFIG, MODES, type Mode, requestBody } from "./config.ts";
import {
  type VariantId,
  VARIANT_IDS,
  VARIANT_NAMES,
  type LedgerModeResults,
  type LedgerResults,
  type OvershootResult,
  type PerVariant,
  leaseShare,
  type Warmup,
} from "./ledger-results.ts";
import {
  type AdmissionMode,
  type BenchTenant,
  budgetBooks,
  provisionTenant,
  type TenantRules,
  usageTotals,
} from "./ledger-setup.ts";
import { log, throughputWithCpu, undisturbed } from "./points.ts";
import { sleep } from "./procs.ts";
import { type Mark, measureSequential, type Target } from "./sequential.ts";
import { errorCount, writeScript } from "./wrk.ts";

export const ADMISSION_MARK: Mark = { header: "x-outlay-admission", value: "lease" };
const REMAINING_HEADER = "x-outlay-budget-remaining-";
/** A monthly budget no bench run gets near. */
export const BIG_BUDGET_USD = "1000000";
/**
 * The overshoot budget fits this many calls at their worst-case hold (more at their actual cost):
 * at c=64 it lasts a few seconds, so the lease is renewed several times before the budget runs out.
 */
export const OVERSHOOT_CALLS = 1_000n;
/** The overshoot drive stops once every response for this long was a refusal (402). */
const REFUSED_FOR_MS = 2_000;
const OVERSHOOT_MAX_S = 60;
/** Wait after the drive for the last lease reports, settlements and usage events, then poll. */
const BOOK_WAIT_MS = 3_000;
const BOOK_POLL_MAX_MS = 15_000;

export const RULES: PerVariant<TenantRules> = {
  C0: { budgetUsd: null, policy: false, rateLimit: false, mode: "strict" },
  strict: { budgetUsd: BIG_BUDGET_USD, policy: true, rateLimit: true, mode: "strict" },
  lease: { budgetUsd: BIG_BUDGET_USD, policy: true, rateLimit: true, mode: "lease" },
};

export type LedgerContext = {
  outlay: Arm;
  /** Process trees of the bench (the arms), for the foreign-load check. */
  roots: readonly number[];
  tmp: string;
  idleMsPerSecond: number;
};

export type LedgerMeasured = Pick<LedgerResults, "modes" | "warmup" | "probe" | "overshoot">;

type Variant = { id: VariantId; tenant: BenchTenant; target: (mode: Mode) => Target; scripts: Map<Mode, string> };

function adminOf(outlay: Arm): OutlayAdmin {
  if (!outlay.admin) throw new Error("the Outlay arm has no admin access");
  return outlay.admin;
}

export function targetFor(outlay: Arm, tenant: BenchTenant, mode: Mode): Target {
  const headers = { "content-type": "application/json", authorization: `Bearer ${tenant.proxyKey}` };
  return { url: outlay.url, headers, body: requestBody(mode) };
}

/** One call; its status and headers (the body read to the end). */
async function callOnce(target: Target): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(target.url, {
    method: "POST",
    headers: target.headers,
    body: target.body,
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

export async function expectOk(label: string, target: Target): Promise<void> {
  const { status, text } = await callOnce(target);
  if (status !== 200) throw new Error(`${label}: expected 200, got ${status}: ${text.slice(0, 300)}`);
}

/** Calls of a fresh lease-mode tenant until one is admitted from the isolate's lease. */
async function leaseWarmup(target: Target): Promise<Warmup> {
  const loop = await closedLoop(target, {
    connections: 1,
    mark: ADMISSION_MARK,
    maxS: 10,
    stop: (seen) => seen.marked || seen.status !== 200,
  });
  const bad = Object.keys(loop.byStatus).filter((s) => s !== "200");
  if (bad.length > 0) throw new Error(`lease warm-up: unexpected statuses ${JSON.stringify(loop.byStatus)}`);
  return { connections: 1, calls: loop.beforeFirstMark, ms: loop.firstMarkMs };
}

async function latencyPoint(ctx: LedgerContext, v: Variant, mode: Mode) {
  const label = `ledger ${VARIANT_NAMES[v.id]} ${mode} c=1`;
  const result = await undisturbed(ctx.roots, label, () =>
    measureSequential(v.target(mode), {
      warmupS: CONFIG.warmupS,
      durationS: CONFIG.durationS,
      stream: mode === "sse",
      mark: ADMISSION_MARK,
    }),
  );
  const l = result.latency;
  const t = result.ttft ? `, TTFT p50 ${result.ttft.p50Ms.toFixed(3)} ms` : "";
  const share = ((100 * result.marked) / Math.max(1, result.requests)).toFixed(1);
  log(
    `${label}: p50 ${l.p50Ms.toFixed(3)} ms, p99 ${l.p99Ms.toFixed(3)} ms (${result.requests} requests, ${share}% leased)${t}`,
  );
  return result;
}

async function throughputPoint(ctx: LedgerContext, v: Variant, mode: Mode) {
  const label = `ledger ${VARIANT_NAMES[v.id]} ${mode} c=${CONFIG.throughputConnections}`;
  const script = v.scripts.get(mode);
  if (!script) throw new Error(`no wrk script for ${label}`);
  const arm = { root: ctx.outlay.proc.pid, idleMsPerSecond: ctx.idleMsPerSecond };
  // The settle after the warm-up outlasts a lease (2 s): one call gets the isolate a fresh one,
  // so the measured run starts as it would under steady traffic (every variant gets the call).
  const rearm = async () => {
    await expectOk(label, v.target(mode));
    await sleep(200);
  };
  const { wrk, cpu, foreignCpuPct, attempts } = await undisturbed(ctx.roots, label, () =>
    throughputWithCpu(script, ctx.outlay.url, arm, rearm),
  );
  const errors = errorCount(wrk) > 0 ? ` (${errorCount(wrk)} errors: ${JSON.stringify(wrk.errors)})` : "";
  const share = leaseShare(wrk);
  log(
    `${label}: ${wrk.rps.toFixed(0)} req/s, CPU ${cpu.msPerRequest.toFixed(3)} ms/req, ${share.toFixed(2)}% leased${errors}`,
  );
  return { wrk: { ...wrk, foreignCpuPct, attempts }, cpu };
}

async function measureMode(ctx: LedgerContext, variants: PerVariant<Variant>, mode: Mode): Promise<LedgerModeResults> {
  const latency = {} as LedgerModeResults["latency"];
  const throughput = {} as LedgerModeResults["throughput"];
  const cpu = {} as LedgerModeResults["cpu"];
  for (const id of VARIANT_IDS) latency[id] = await latencyPoint(ctx, variants[id], mode);
  for (const id of VARIANT_IDS) {
    const point = await throughputPoint(ctx, variants[id], mode);
    throughput[id] = point.wrk;
    cpu[id] = point.cpu;
  }
  return { latency, throughput, cpu };
}

/** The worst-case hold of one bench call (from its remaining-budget header) and its actual cost. */
async function probeCost(ctx: LedgerContext): Promise<{ worstNano: bigint; actualNano: bigint }> {
  const admin = adminOf(ctx.outlay);
  const limit = "1000";
  const tenant = await provisionTenant(admin, "ledger probe", {
    budgetUsd: limit,
    policy: false,
    rateLimit: false,
    mode: "strict",
  });
  const { status, headers, text } = await callOnce(targetFor(ctx.outlay, tenant, "json"));
  const remaining = headers.get(`${REMAINING_HEADER}${tenant.budgetId ?? ""}`);
  if (status !== 200 || remaining === null) throw new Error(`probe call: ${status} ${text.slice(0, 300)}`);
  const worstNano = (parseDecimal(limit) ?? 0n) - (parseDecimal(remaining) ?? 0n);
  for (let waited = 0; waited < BOOK_POLL_MAX_MS; waited += 100) {
    const books = await budgetBooks(admin, tenant);
    if (books.heldUsd === formatUsd(0n) && books.spentUsd !== formatUsd(0n)) {
      return { worstNano, actualNano: parseDecimal(books.spentUsd) ?? 0n };
    }
    await sleep(100);
  }
  throw new Error("probe call: its hold was not settled");
}

/** Drives a fresh tenant with a small budget at c=64 until it refuses every call, then reads the books. */
async function overshoot(ctx: LedgerContext, mode: AdmissionMode, limitNano: bigint): Promise<OvershootResult> {
  const admin = adminOf(ctx.outlay);
  const limitUsd = formatUsd(limitNano);
  const tenant = await provisionTenant(admin, `overshoot ${mode}`, {
    budgetUsd: limitUsd,
    policy: false,
    rateLimit: false,
    mode,
  });
  let lastAdmittedMs = 0;
  let refusals = 0;
  const stop = (seen: Seen) => {
    if (seen.status === 402) refusals += 1;
    else lastAdmittedMs = seen.atMs;
    return refusals > 0 && seen.atMs - lastAdmittedMs >= REFUSED_FOR_MS;
  };
  const loop = await closedLoop(targetFor(ctx.outlay, tenant, "json"), {
    connections: CONFIG.throughputConnections,
    mark: ADMISSION_MARK,
    maxS: OVERSHOOT_MAX_S,
    stop,
  });
  const ended = Date.now();
  await sleep(BOOK_WAIT_MS);
  let books = await budgetBooks(admin, tenant);
  let usage = await usageTotals(admin, tenant);
  for (let waited = 0; waited < BOOK_POLL_MAX_MS && usage.requests < loop.responses; waited += 250) {
    await sleep(250);
    usage = await usageTotals(admin, tenant);
  }
  books = await budgetBooks(admin, tenant);
  const spent = parseDecimal(books.spentUsd) ?? 0n;
  const over = spent > limitNano ? spent - limitNano : 0n;
  const overshootPct = Number((over * 10_000_000n) / limitNano) / 100_000;
  const result = { mode, limitUsd, loop, books, usage, overshootPct, bookedAfterMs: Date.now() - ended };
  log(
    `ledger overshoot ${mode}: limit ${limitUsd}, spent ${books.spentUsd}, usage events ${usage.costUsd} ` +
      `(${usage.requests} events for ${loop.responses} responses ${JSON.stringify(loop.byStatus)}, ` +
      `${loop.marked} leased), overshoot ${overshootPct.toFixed(3)}%`,
  );
  return result;
}

export async function measureLedger(ctx: LedgerContext): Promise<LedgerMeasured> {
  const admin = adminOf(ctx.outlay);
  const variants = {} as PerVariant<Variant>;
  for (const id of VARIANT_IDS) {
    const tenant = await provisionTenant(admin, `ledger ${id}`, RULES[id]);
    const target = (mode: Mode) => targetFor(ctx.outlay, tenant, mode);
    variants[id] = { id, tenant, target, scripts: new Map() };
  }
  // The lease tenant's first calls, before anything else reaches it.
  const warmup = await leaseWarmup(variants.lease.target("json"));
  log(
    `ledger lease warm-up at c=1: ${warmup.calls} calls went to the ledger, first leased call after ${warmup.ms?.toFixed(1)} ms`,
  );
  for (const id of VARIANT_IDS) {
    const v = variants[id];
    for (const mode of MODES) {
      await expectOk(`ledger ${VARIANT_NAMES[id]} ${mode}`, v.target(mode));
      v.scripts.set(mode, writeScript(ctx.tmp, `ledger-${id}-${mode}`, v.target(mode), ADMISSION_MARK));
    }
  }
  log(`ledger tenants answer 200 (JSON and SSE): ${VARIANT_IDS.map((id) => VARIANT_NAMES[id]).join(", ")}`);
  const json = await measureMode(ctx, variants, "json");
  const sse = await measureMode(ctx, variants, "sse");

  const { worstNano, actualNano } = await probeCost(ctx);
  log(`ledger probe: worst-case hold ${formatUsd(worstNano)} USD, actual cost ${formatUsd(actualNano)} USD per call`);
  const limitNano = worstNano * OVERSHOOT_CALLS;
  const strict = await overshoot(ctx, "strict", limitNano);
  const lease = await overshoot(ctx, "lease", limitNano);
  return {
    modes: { json, sse },
    warmup,
    probe: {
      worstCaseUsd: formatUsd(worstNano),
      actualCostUsd: formatUsd(actualNano),
      budgetCalls: Number(OVERSHOOT_CALLS),
    },
    overshoot: { strict, lease },
  };
}
