// Two figures of the audit part (docs/benchmarks.md, "Audit"), each on its own fresh tenant:
// - archive throughput: the driver hands the tenant's ledger `events` call.admitted events as fast
//   as it takes them; GET /api/v1/audit/checkpoint is polled to see the tree size grow;
// - webhook deliveries: the same with an endpoint subscribed to call.admitted at the local
//   receiver, which verifies each delivery (standardwebhooks) and notes when it arrived.
import { performance } from "node:perf_hooks";
import { driveEvents } from "./audit-driver.ts";
import { hookStats, hookUrl, type Receiver, registerHook, steadyRate, waitForDeliveries } from "./audit-hooks.ts";
import type { ArchiveResult, CurvePoint, WebhookResult } from "./audit-results.ts";
import { type AuditOutlay, provisionAuditTenant, treeSize } from "./audit-setup.ts";
import { treeCpuMs } from "./cpu.ts";
import { log } from "./points.ts";
import { sleep } from "./procs.ts";

const POLL_MS = 200;
/** The archive seals runs of 1,000; what is left under that waits for AUDIT_SEAL_AFTER_MS (60 s). */
const SEAL_RUN = 1_000;
/** The tree is done growing once it covers the drive (less one unsealed run) and stood still this long. */
const STILL_MS = 2_000;

/** Polls the tree size until the drive's events are sealed but for a last short run. */
async function followArchive(
  outlay: AuditOutlay,
  token: string,
  began: number,
  drive: { done: number | null; events: number },
  maxMs: number,
): Promise<{ curve: CurvePoint[]; timedOut: boolean }> {
  const curve: CurvePoint[] = [];
  let grewAt = 0;
  let size = 0;
  for (;;) {
    const sent = performance.now() - began;
    const now = await treeSize(outlay.base, token);
    if (now !== size || curve.length === 0) {
      curve.push({ ms: sent, size: now });
      size = now;
      grewAt = performance.now();
    } else if (drive.done !== null && sent > drive.done) {
      curve.push({ ms: sent, size: now });
    }
    const covered = drive.done !== null && size >= drive.events - SEAL_RUN;
    if (covered && performance.now() - grewAt >= STILL_MS) return { curve, timedOut: false };
    if (performance.now() - began > maxMs) return { curve, timedOut: true };
    await sleep(POLL_MS);
  }
}

export async function measureArchive(outlay: AuditOutlay, events: number, maxMs: number): Promise<ArchiveResult> {
  const tenant = await provisionAuditTenant(outlay, "audit archive");
  const startSize = await treeSize(outlay.base, tenant.adminToken);
  const cpu0 = treeCpuMs(outlay.proc.pid);
  const began = performance.now();
  const drive = { done: null as number | null, events };
  const following = followArchive(outlay, tenant.adminToken, began, drive, maxMs);
  const driven = await driveEvents(outlay.driver, {
    tenantId: tenant.tenantId,
    keyId: tenant.keyId,
    events,
    tag: "archive",
  });
  drive.done = performance.now() - began;
  const { curve, timedOut } = await following;
  const cpuMs = treeCpuMs(outlay.proc.pid) - cpu0;

  // The final size, first seen; and the first poll sent after the drive had ended.
  const end = curve.reduce((a, b) => (b.size > a.size ? b : a), { ms: 0, size: startSize });
  const after = curve.find((p) => p.ms >= (drive.done ?? 0)) ?? end;
  const archived = end.size - startSize;
  const drainMs = end.ms - after.ms;
  const result: ArchiveResult = {
    events,
    driveMs: driven.ms,
    startSize,
    endSize: end.size,
    endToEndMs: end.ms,
    endToEndPerSecond: (archived * 1_000) / Math.max(1, end.ms),
    drainFromSize: after.size,
    drainMs,
    drainPerSecond: drainMs > 0 ? ((end.size - after.size) * 1_000) / drainMs : Number.NaN,
    cpuMsPerEvent: cpuMs / Math.max(1, archived),
    pollMs: POLL_MS,
    curve,
    timedOut,
  };
  log(
    `archive: ${events} events driven in ${(driven.ms / 1000).toFixed(1)} s; tree ${startSize} → ${end.size} in ${(end.ms / 1000).toFixed(1)} s ` +
      `(${result.endToEndPerSecond.toFixed(0)} events/s end to end; ${result.drainPerSecond.toFixed(0)} events/s after the drive, from ${after.size}); ` +
      `CPU ${result.cpuMsPerEvent.toFixed(3)} ms/event${timedOut ? "; TIMED OUT" : ""}`,
  );
  return result;
}

export async function measureWebhooks(
  outlay: AuditOutlay,
  receiver: Receiver,
  events: number,
  maxMs: number,
): Promise<WebhookResult> {
  const name = "deliveries";
  const tenant = await provisionAuditTenant(outlay, "audit webhooks", {
    url: hookUrl(receiver, name),
    types: ["call.admitted"],
  });
  await registerHook(receiver, name, tenant);
  const before = (await hookStats(receiver, name)).received;
  if (before !== 0) throw new Error(`receiver: ${before} deliveries before the drive`);
  const cpu0 = treeCpuMs(outlay.proc.pid);
  const began = Date.now();
  const driven = await driveEvents(outlay.driver, {
    tenantId: tenant.tenantId,
    keyId: tenant.keyId,
    events,
    tag: "hooks",
  });
  const { stats, timedOut } = await waitForDeliveries(receiver, name, {
    root: outlay.proc.pid,
    expected: events,
    maxMs,
  });
  const cpuMs = treeCpuMs(outlay.proc.pid) - cpu0;
  const { arrivals } = await hookStats(receiver, name, 0);
  const last = arrivals.at(-1) ?? began;
  const spanMs = last - began;
  const result: WebhookResult = {
    events,
    driveMs: driven.ms,
    received: stats.received,
    verified: stats.verified,
    repeated: stats.repeated,
    refused: stats.refused,
    minSeq: stats.minSeq,
    maxSeq: stats.maxSeq,
    spanMs,
    perSecond: (stats.received * 1_000) / Math.max(1, spanMs),
    steadyPerSecond: steadyRate(arrivals),
    cpuMsPerDelivery: cpuMs / Math.max(1, stats.received),
    timedOut,
  };
  log(
    `webhooks: ${stats.received} of ${events} delivered (${stats.verified} verified, ${stats.repeated} repeated) in ${(spanMs / 1000).toFixed(1)} s: ` +
      `${result.perSecond.toFixed(0)}/s (steady ${result.steadyPerSecond.toFixed(0)}/s), CPU ${result.cpuMsPerDelivery.toFixed(3)} ms/delivery${timedOut ? "; TIMED OUT" : ""}`,
  );
  return result;
}
