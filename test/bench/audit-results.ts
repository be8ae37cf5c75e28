// The audit part's results (bench-results/audit.json) and its targets (issue 13, section 5).
import type { Machine } from "./results.ts";
import type { VerifierResult } from "./audit-verifier.ts";

/** Milliseconds since the measurement began, and the archive's tree size then. */
export type CurvePoint = { ms: number; size: number };

export type ArchiveResult = {
  /** events handed to the ledger by the driver, and how long it took them */
  events: number;
  driveMs: number;
  /** tree size before the drive and at the end */
  startSize: number;
  endSize: number;
  /** from the drive's start to the poll that first saw the final tree size */
  endToEndMs: number;
  endToEndPerSecond: number;
  /** after the drive had ended (events waiting in the queue, the archive path alone on the thread) */
  drainFromSize: number;
  drainMs: number;
  drainPerSecond: number;
  /** CPU of Outlay's process tree from the drive's start to the end, per event archived */
  cpuMsPerEvent: number;
  pollMs: number;
  curve: CurvePoint[];
  timedOut: boolean;
};

export type WebhookResult = {
  events: number;
  driveMs: number;
  received: number;
  verified: number;
  /** deliveries whose webhook-id had arrived before */
  repeated: number;
  refused: number;
  minSeq: number | null;
  maxSeq: number | null;
  /** from the drive's start to the last delivery */
  spanMs: number;
  perSecond: number;
  /** between the 10th and the 90th percentile of arrivals */
  steadyPerSecond: number;
  cpuMsPerDelivery: number;
  timedOut: boolean;
};

export type GatewayRun = {
  streaming: boolean;
  requests: number;
  durationS: number;
  rps: number;
  errors: number;
  /** CPU of Outlay's process tree from the measured run's start until its queues and deliveries drained */
  cpuMsPerCall: number;
  foreignCpuPct: number;
  attempts: number;
  /** with streaming: deliveries of this run's calls, those that arrived while wrk ran, and how
   * long after wrk stopped the last one arrived */
  deliveries: { total: number; duringRun: number; drainMs: number; verified: number; repeated: number } | null;
};

export type GatewayResult = {
  runs: GatewayRun[];
  offRps: number;
  onRps: number;
  /** onRps ÷ offRps */
  ratio: number;
};

export type AuditResults = {
  date: string;
  command: string;
  revision: string;
  machine: Machine;
  config: Record<string, number>;
  /** the gateway's c=64 JSON calls/s the archive is compared with (10×), and where it comes from */
  gatewayRate: { callsPerSecond: number; source: string };
  archive: ArchiveResult;
  webhooks: WebhookResult;
  verifier: VerifierResult;
  gateway: GatewayResult;
  elapsedS: number;
};

export type AuditTarget = { name: string; result: string; limit: string; met: boolean };

/** Every driven event arrived once, verified by standardwebhooks. */
export function webhookCheck(w: WebhookResult): AuditTarget {
  return {
    name: "Check: every driven event delivered once and verified (webhook measure)",
    result: `${w.verified} of ${w.events} verified, ${w.received} received, ${w.repeated} repeated`,
    limit: "all, none repeated",
    met: w.verified === w.events && w.received === w.events && w.repeated === 0 && !w.timedOut,
  };
}

/** The with-webhook gateway runs: at least one delivery per call wrk counted, each verified, none repeated. */
export function gatewayDeliveryCheck(g: GatewayResult): AuditTarget {
  const runs = g.runs.filter((run) => run.deliveries !== null);
  const ok = runs.every((run) => {
    const d = run.deliveries;
    return d !== null && d.verified === d.total && d.repeated === 0 && d.total >= run.requests;
  });
  const shown = runs.map((run) => `${run.deliveries?.verified ?? 0}/${run.deliveries?.total ?? 0} for ${run.requests}`);
  return {
    name: "Check: the with-webhook gateway runs' calls delivered once and verified",
    result: `${shown.join("; ")} (verified/delivered for calls)`,
    limit: "all, none repeated",
    met: runs.length > 0 && ok,
  };
}

export function auditTargets(r: AuditResults): AuditTarget[] {
  const tenfold = 10 * r.gatewayRate.callsPerSecond;
  const lossPct = 100 * (1 - r.gateway.ratio);
  return [
    {
      name: "Archive keeps up with 10× the gateway's c=64 JSON call rate (archive path alone, events waiting)",
      result: `${r.archive.drainPerSecond.toFixed(0)} events/s`,
      limit: `≥ ${tenfold.toFixed(0)} events/s`,
      met: r.archive.drainPerSecond >= tenfold && !r.archive.timedOut,
    },
    {
      name: "… the same, end to end (the ledger making the events on the same thread)",
      result: `${r.archive.endToEndPerSecond.toFixed(0)} events/s`,
      limit: `≥ ${tenfold.toFixed(0)} events/s`,
      met: r.archive.endToEndPerSecond >= tenfold && !r.archive.timedOut,
    },
    {
      name: `Verifier on ${r.verifier.events.toLocaleString("en")} events: wall time`,
      result: `${(r.verifier.wallMs / 1000).toFixed(1)} s`,
      limit: "< 60 s",
      met: r.verifier.verified && r.verifier.wallMs < 60_000,
    },
    {
      name: `Verifier on ${r.verifier.events.toLocaleString("en")} events: peak memory (RSS)`,
      result: `${(r.verifier.maxRssKb / 1024).toFixed(0)} MB`,
      limit: "< 256 MB",
      met: r.verifier.verified && r.verifier.maxRssKb < 256 * 1024,
    },
    {
      name: "Gateway JSON throughput lost with a webhook endpoint subscribed to call.admitted",
      result: `${lossPct.toFixed(1)}%`,
      limit: "< 5%",
      met: lossPct < 5,
    },
    webhookCheck(r.webhooks),
    gatewayDeliveryCheck(r.gateway),
  ];
}
