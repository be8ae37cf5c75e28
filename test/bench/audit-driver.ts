// The audit part's event source (docs/benchmarks.md, "Audit"): a bench-only Worker that
// worker-host.ts runs beside Outlay (`--audit-driver`), in the same workerd, bound to Outlay's
// TenantLedger class. POST /drive makes call.admitted-shaped audit drafts and hands them to the
// tenant's ledger in batches of 100 through `recordAudit` — the RPC Outlay's access events use —
// so each event gets its seq from the ledger and leaves through its outbox, AUDIT_QUEUE, the
// audit consumer (D1), the AuditArchiver (R2) and the webhook fan-out, exactly as Outlay's own
// events do. Nothing of Outlay is changed or bypassed; the driver only adds events.
/** The driver Worker's source (plain JS: Miniflare runs it as is). */
export const AUDIT_DRIVER_WORKER = `
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (request.method !== "POST" || url.pathname !== "/drive") return new Response("not found", { status: 404 });
    const { tenantId, keyId, events, batch, inFlight, tag } = await request.json();
    const ledger = env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenantId));
    const started = Date.now();
    let next = 0;
    let calls = 0;
    const lane = async () => {
      while (next < events) {
        const from = next;
        const n = Math.min(batch, events - from);
        next += n;
        const at = Date.now();
        const drafts = [];
        for (let i = 0; i < n; i++) {
          drafts.push({
            at,
            type: "call.admitted",
            actor: { kind: "key", id: keyId },
            requestId: "req_" + tag + "_" + String(from + i).padStart(9, "0"),
            subject: null,
            data: { provider: "openai", model: "gpt-4o-mini", heldNanoUsd: "2880000", tokens: 37, budgets: [] },
          });
        }
        await ledger.recordAudit({ tenantId, drafts });
        calls += 1;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    return Response.json({ events, calls, ms: Date.now() - started });
  },
};
`;

export type DriveOptions = { tenantId: string; keyId: string; events: number; tag: string };
export type Drive = { events: number; calls: number; ms: number };

/** Events per recordAudit call (the access events' batch, ACCESS_BATCH_MAX) and calls in flight. */
export const DRIVE_BATCH = 100;
export const DRIVE_IN_FLIGHT = 4;

/** Hands `events` drafts to the tenant's ledger as fast as it takes them; resolves when it took all. */
export async function driveEvents(driverUrl: string, options: DriveOptions): Promise<Drive> {
  const res = await fetch(`${driverUrl}/drive`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ...options, batch: DRIVE_BATCH, inFlight: DRIVE_IN_FLIGHT }),
    signal: AbortSignal.timeout(600_000),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`audit driver: ${res.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as Drive;
}
