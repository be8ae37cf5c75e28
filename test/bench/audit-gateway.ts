// The gateway figure of the audit part (docs/benchmarks.md, "Audit"): Outlay's JSON throughput at
// c=64 (`wrk -t2 -c64`, the gateway part's settings) for a tenant with a webhook endpoint
// subscribed to call.admitted (every admitted call is one delivery to the local receiver) and for
// a tenant without one, on the same Outlay process, alternated off/on/off/on. Each point: wrk's
// warm-up, then a wait until its deliveries have arrived and the process tree is quiet; the
// measured run; the same wait. CPU per call counts Outlay's process tree (workerd included) from
// the measured run's start to the end of that wait, so delivering is in it; the receiver's is not.
import { performance } from "node:perf_hooks";
import { hookStats, hookUrl, type Receiver, registerHook, waitForDeliveries } from "./audit-hooks.ts";
import type { GatewayResult, GatewayRun } from "./audit-results.ts";
import { type AuditOutlay, type AuditTenant, provisionAuditTenant } from "./audit-setup.ts";
import { CONFIG, requestBody } from "./config.ts";
import { settle, treeCpuMs } from "./cpu.ts";
import { log, undisturbed } from "./points.ts";
import { errorCount, runWrk, writeScript } from "./wrk.ts";

const HOOK = "gateway";
/** A point's deliveries must have arrived within this long after wrk stops. */
const DRAIN_MAX_MS = 180_000;

export type GatewayContext = {
  outlay: AuditOutlay;
  receiver: Receiver;
  /** the bench's process trees, for the foreign-load check */
  roots: readonly number[];
  tmp: string;
  idleMsPerSecond: number;
};

type Arm = { streaming: boolean; tenant: AuditTenant; script: string };

const CHAT = "/openai/v1/chat/completions";

function target(outlay: AuditOutlay, tenant: AuditTenant) {
  const headers = { "content-type": "application/json", authorization: `Bearer ${tenant.proxyKey}` };
  return { url: `${outlay.base}${CHAT}`, headers, body: requestBody("json") };
}

async function expectCompletion(outlay: AuditOutlay, tenant: AuditTenant): Promise<void> {
  const t = target(outlay, tenant);
  const res = await fetch(t.url, { method: "POST", headers: t.headers, body: t.body });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${tenant.name}: expected 200, got ${res.status}: ${text.slice(0, 300)}`);
}

/** Until the calls so far are delivered (with streaming) or the process tree is quiet. */
async function drain(ctx: GatewayContext, arm: Arm, expected: number): Promise<void> {
  if (!arm.streaming) {
    await settle(ctx.outlay.proc.pid, CONFIG.settleMaxMs);
    return;
  }
  const waited = await waitForDeliveries(ctx.receiver, HOOK, {
    root: ctx.outlay.proc.pid,
    expected,
    maxMs: DRAIN_MAX_MS,
  });
  if (waited.timedOut) log(`gateway: deliveries still arriving after ${DRAIN_MAX_MS / 1000} s; measuring on`);
}

async function point(ctx: GatewayContext, arm: Arm): Promise<Omit<GatewayRun, "foreignCpuPct" | "attempts">> {
  const url = `${ctx.outlay.base}${CHAT}`;
  const opts = { connections: CONFIG.throughputConnections, threads: CONFIG.throughputThreads };
  const root = ctx.outlay.proc.pid;
  const before = arm.streaming ? (await hookStats(ctx.receiver, HOOK)).received : 0;
  let warmed = 0;
  if (CONFIG.warmupS > 0) warmed = (await runWrk(arm.script, url, { ...opts, durationS: CONFIG.warmupS })).requests;
  await drain(ctx, arm, before + warmed);
  const start = await hookStats(ctx.receiver, HOOK);
  const from = start.received;
  const cpu0 = treeCpuMs(root);
  const began = performance.now();
  const wrk = await runWrk(arm.script, url, { ...opts, durationS: CONFIG.durationS });
  const wrkEnd = Date.now();
  await drain(ctx, arm, from + wrk.requests);
  const wallMs = performance.now() - began;
  const cpuMs = Math.max(0, treeCpuMs(root) - cpu0 - (ctx.idleMsPerSecond * wallMs) / 1_000);
  let deliveries: GatewayRun["deliveries"] = null;
  if (arm.streaming) {
    const stats = await hookStats(ctx.receiver, HOOK, from);
    const last = stats.arrivals.at(-1) ?? wrkEnd;
    deliveries = {
      total: stats.received - from,
      duringRun: stats.arrivals.filter((at) => at <= wrkEnd).length,
      drainMs: Math.max(0, last - wrkEnd),
      verified: stats.verified - start.verified,
      repeated: stats.repeated - start.repeated,
    };
  }
  return {
    streaming: arm.streaming,
    requests: wrk.requests,
    durationS: wrk.durationS,
    rps: wrk.rps,
    errors: errorCount(wrk),
    cpuMsPerCall: cpuMs / Math.max(1, wrk.requests),
    deliveries,
  };
}

export async function measureGateway(ctx: GatewayContext): Promise<GatewayResult> {
  const off = await provisionAuditTenant(ctx.outlay, "gateway without webhooks");
  const on = await provisionAuditTenant(ctx.outlay, "gateway with webhooks", {
    url: hookUrl(ctx.receiver, HOOK),
    types: ["call.admitted"],
  });
  await registerHook(ctx.receiver, HOOK, on);
  const arms: Arm[] = [];
  for (const [streaming, tenant] of [
    [false, off],
    [true, on],
  ] as const) {
    await expectCompletion(ctx.outlay, tenant);
    const script = writeScript(ctx.tmp, `audit-gateway-${streaming ? "on" : "off"}`, target(ctx.outlay, tenant));
    arms.push({ streaming, tenant, script });
  }
  const runs: GatewayRun[] = [];
  for (const arm of [arms[0], arms[1], arms[0], arms[1]]) {
    if (!arm) continue;
    const label = `gateway JSON c=${CONFIG.throughputConnections}, ${arm.streaming ? "with" : "without"} webhooks`;
    const run = await undisturbed(ctx.roots, label, () => point(ctx, arm));
    const d = run.deliveries;
    const shown = d
      ? `; ${d.total} deliveries (${d.duringRun} while wrk ran, the last ${(d.drainMs / 1000).toFixed(1)} s after)`
      : "";
    log(`${label}: ${run.rps.toFixed(0)} calls/s, CPU ${run.cpuMsPerCall.toFixed(3)} ms/call${shown}`);
    runs.push(run);
  }
  const mean = (streaming: boolean) => {
    const chosen = runs.filter((r) => r.streaming === streaming);
    return chosen.reduce((sum, r) => sum + r.rps, 0) / Math.max(1, chosen.length);
  };
  const offRps = mean(false);
  const onRps = mean(true);
  return { runs, offRps, onRps, ratio: onRps / offRps };
}
