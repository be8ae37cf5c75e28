// The audit part's side of the local webhook receiver (audit-receiver.ts, its own process): start
// it, point a hook name at an endpoint and its secret, read what arrived, wait for deliveries.
import { join } from "node:path";
import { ROOT } from "./arms.ts";
import type { HookStats } from "./audit-receiver.ts";
import type { AuditTenant } from "./audit-setup.ts";
import { settle } from "./cpu.ts";
import { sleep, startAndWait, type Tracked } from "./procs.ts";

export type Receiver = { proc: Tracked; url: string; stats: string };

export async function startAuditReceiver(timeoutMs: number): Promise<Receiver> {
  const { proc, match } = await startAndWait(
    "webhook-receiver",
    process.execPath,
    [join(ROOT, "test/bench/audit-receiver.ts")],
    /^READY (\{.*\})$/,
    timeoutMs,
  );
  const ready = JSON.parse(match[1] ?? "{}") as { url?: string; stats?: string };
  if (!ready.url || !ready.stats) throw new Error(`webhook receiver: unexpected ${match[0]}`);
  return { proc, url: ready.url, stats: ready.stats };
}

/** The URL an endpoint of hook `name` delivers to. */
export function hookUrl(receiver: Receiver, name: string): string {
  return `${receiver.url}/hooks/${name}`;
}

/** Makes the receiver verify hook `name` with the tenant's endpoint secret and count it under `name`. */
export async function registerHook(receiver: Receiver, name: string, tenant: AuditTenant): Promise<void> {
  if (!tenant.webhook) throw new Error(`${tenant.name} has no webhook endpoint`);
  const control = await fetch(`${receiver.url}/_control/${name}`, {
    method: "PUT",
    body: JSON.stringify({ secrets: [tenant.webhook.secret] }),
  });
  const mapped = await fetch(`${receiver.stats}/endpoint/${name}?id=${encodeURIComponent(tenant.webhook.id)}`, {
    method: "PUT",
  });
  if (control.status !== 204 || mapped.status !== 204) throw new Error(`receiver: hook ${name} not registered`);
}

/** What arrived for hook `name`; with `arrivalsFrom`, the arrival times from that delivery on. */
export async function hookStats(receiver: Receiver, name: string, arrivalsFrom?: number): Promise<HookStats> {
  const query = arrivalsFrom === undefined ? "" : `?arrivals_from=${arrivalsFrom}`;
  const res = await fetch(`${receiver.stats}/stats/${name}${query}`, { signal: AbortSignal.timeout(10_000) });
  if (res.status !== 200) throw new Error(`receiver stats: ${res.status}`);
  return (await res.json()) as HookStats;
}

/**
 * Polls until at least `expected` deliveries of hook `name` arrived and then none for `quietMs`
 * (a retry is due 5 s after a failed attempt, so a short pause is not the end), then until Outlay's
 * process tree is quiet; at most `maxMs`. Returns the counts (no arrival times) and whether it
 * gave up.
 */
export async function waitForDeliveries(
  receiver: Receiver,
  name: string,
  opts: { root: number; expected?: number; quietMs?: number; maxMs: number },
): Promise<{ stats: HookStats; timedOut: boolean }> {
  const began = Date.now();
  const quietMs = opts.quietMs ?? 2_000;
  let stats = await hookStats(receiver, name);
  let last = stats.received;
  let lastChange = Date.now();
  for (;;) {
    if (stats.received >= (opts.expected ?? 0) && Date.now() - lastChange >= quietMs) {
      await settle(opts.root, 5_000);
      return { stats: await hookStats(receiver, name), timedOut: false };
    }
    if (Date.now() - began > opts.maxMs) return { stats, timedOut: true };
    await sleep(250);
    stats = await hookStats(receiver, name);
    if (stats.received !== last) {
      last = stats.received;
      lastChange = Date.now();
    }
  }
}

/** Deliveries per second between the 10th and 90th percentile of arrival times. */
export function steadyRate(arrivals: readonly number[]): number {
  const n = arrivals.length;
  if (n < 10) return Number.NaN;
  const lo = Math.floor(n * 0.1);
  const hi = Math.floor(n * 0.9);
  const ms = (arrivals[hi] ?? 0) - (arrivals[lo] ?? 0);
  return ms > 0 ? ((hi - lo) * 1_000) / ms : Number.NaN;
}
