// Where webhook delivery spends the Worker isolate's time (a diagnostic beside the audit part of
// the bench, docs/benchmarks.md "Audit"): runs Outlay with the V8 inspector on and the audit
// driver beside it, gives one tenant an endpoint at the local receiver taking call.admitted,
// drives N events (each one delivery) and records a V8 CPU profile of Outlay's isolate (the
// consumers, the archiver, the ledger and D1's binding share it under Miniflare) until every
// delivery arrived; prints the CPU of Outlay's process tree per delivery, the functions with the
// most self time and the inclusive time of the delivery path's steps.
//   node test/bench/audit-profile.ts [--events 3000] [--json out.cpuprofile]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleOutlay, startDirect, upstreamOrigin } from "./arms.ts";
import { driveEvents } from "./audit-driver.ts";
import { hookUrl, registerHook, startAuditReceiver, waitForDeliveries } from "./audit-hooks.ts";
import { provisionAuditTenant, startAuditOutlay } from "./audit-setup.ts";
import { CONFIG } from "./config.ts";
import { treeCpuMs } from "./cpu.ts";
import { sourceRevision } from "./machine.ts";
import { log } from "./points.ts";
import { argFlag, freePort, runScript, stopAll } from "./procs.ts";

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] };
type Profile = { nodes: ProfileNode[]; startTime: number; endTime: number };
type Send = (method: string, params?: object) => Promise<unknown>;

/** The steps of delivery (workers/webhooks/) and of the audit consumer before it. */
const STEPS = [
  "consumeWebhooks",
  "deliverAll",
  "getWebhookMessages",
  "getWebhookEndpoint",
  "post",
  "checkWebhookUrl",
  "secretsOf",
  "webhookHeaders",
  "fetch",
  "recordWebhookAttempts",
  "consumeAudit",
  "writeAudit",
  "insertAuditEvents",
  "append",
  "fanOut",
  "enqueueNew",
];

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket (as ledger-profile.ts). */
async function inspector(port: number): Promise<Send> {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl?: string }[];
  const url = list.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}`);
  // Miniflare's inspector proxy wants an Origin on loopback (undici's `headers` init).
  const init = { headers: { origin: "http://127.0.0.1" } } as unknown as string[];
  const socket = new WebSocket(url, init);
  socket.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  const waiting = new Map<number, (value: unknown) => void>();
  socket.addEventListener("message", (event: MessageEvent) => {
    const data: unknown = event.data;
    const text = data instanceof ArrayBuffer ? new TextDecoder().decode(data) : String(data);
    const message = JSON.parse(text) as { id?: number; result?: unknown };
    if (message.id === undefined) return;
    waiting.get(message.id)?.(message.result);
    waiting.delete(message.id);
  });
  let next = 1;
  return (method, params = {}) =>
    new Promise((resolve) => {
      const id = next;
      next += 1;
      waiting.set(id, resolve);
      socket.send(JSON.stringify({ id, method, params }));
    });
}

function summarize(profile: Profile): { total: number; self: Map<string, number>; inclusive: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  const walk = (node: ProfileNode, active: ReadonlySet<string>): void => {
    const hits = node.hitCount ?? 0;
    const name = node.callFrame.functionName || "(anonymous)";
    const here = active.has(name) ? active : new Set([...active, name]);
    if (hits > 0) {
      total += hits;
      const key = `${name} ${node.callFrame.url.split("/").pop() ?? ""}:${node.callFrame.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + hits);
      for (const fn of here) inclusive.set(fn, (inclusive.get(fn) ?? 0) + hits);
    }
    for (const child of node.children ?? []) {
      const c = byId.get(child);
      if (c) walk(c, here);
    }
  };
  const root = profile.nodes[0];
  if (root) walk(root, new Set());
  return { total, self, inclusive };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const events = Number(argFlag(argv, "events") ?? "3000");
  if (!Number.isSafeInteger(events) || events < 1) throw new Error("--events must be a whole number ≥ 1");
  const tmp = mkdtempSync(join(tmpdir(), "outlay-audit-profile-"));
  try {
    const inspectorPort = await freePort();
    process.env.BENCH_INSPECTOR_PORT = String(inspectorPort);
    const bundle = await bundleOutlay(join(tmp, "bundle"));
    log(`bundled from ${sourceRevision()}`);
    const A = await startDirect(CONFIG.startupTimeoutMs);
    const outlay = await startAuditOutlay(upstreamOrigin(A), bundle, CONFIG.startupTimeoutMs);
    const receiver = await startAuditReceiver(CONFIG.startupTimeoutMs);
    const tenant = await provisionAuditTenant(outlay, "profile", {
      url: hookUrl(receiver, "profile"),
      types: ["call.admitted"],
    });
    await registerHook(receiver, "profile", tenant);
    const send = await inspector(inspectorPort);
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval: 200 });
    await send("Profiler.start");
    const cpu0 = treeCpuMs(outlay.proc.pid);
    await driveEvents(outlay.driver, { tenantId: tenant.tenantId, keyId: tenant.keyId, events, tag: "profile" });
    const { stats } = await waitForDeliveries(receiver, "profile", {
      root: outlay.proc.pid,
      expected: events,
      maxMs: 300_000,
    });
    const cpuMs = treeCpuMs(outlay.proc.pid) - cpu0;
    const { profile } = (await send("Profiler.stop")) as { profile: Profile };
    const json = argFlag(argv, "json");
    if (json) writeFileSync(json, JSON.stringify(profile));
    const { total, self, inclusive } = summarize(profile);
    const wallMs = (profile.endTime - profile.startTime) / 1_000;
    const per = (hits: number) => ((hits / Math.max(1, total)) * wallMs) / Math.max(1, stats.received);
    log(
      `${stats.received} deliveries (${stats.verified} verified); Outlay's process tree: ${(cpuMs / Math.max(1, stats.received)).toFixed(3)} ms CPU per delivery; ${total} samples over ${wallMs.toFixed(0)} ms (idle included)`,
    );
    const lines = ["", "self time, top 30 (ms of the isolate's thread per delivery; % of samples):"];
    for (const [name, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
      lines.push(`${per(hits).toFixed(4).padStart(8)}  ${((100 * hits) / total).toFixed(1).padStart(5)}%  ${name}`);
    }
    lines.push("", "inclusive time of the steps (synchronous parts only: an await starts a new stack):");
    for (const step of STEPS) {
      const hits = inclusive.get(step) ?? 0;
      lines.push(`${per(hits).toFixed(4).padStart(8)}  ${((100 * hits) / total).toFixed(1).padStart(5)}%  ${step}`);
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

runScript("audit-profile", main);
