// Where a tenant's calls spend the Worker isolate's CPU (a diagnostic beside the ledger part of
// the bench): runs Outlay with the V8 inspector on, drives one tenant (C0, C-strict or C-lease of
// ledger.ts) with wrk at c=64, records a V8 CPU profile of the isolate meanwhile (the gateway,
// the TenantLedger and the queue consumers share it under Miniflare) and prints the functions
// with the most self time and the inclusive time of the hot path's main steps.
//   BENCH_DURATION=8 node test/bench/ledger-profile.ts [--tenant lease] [--mode sse] [--json out.cpuprofile]
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bundleOutlay, startDirect, startOutlay, upstreamOrigin } from "./arms.ts";
import { CONFIG, MODES, type Mode } from "./config.ts";
import { ADMISSION_MARK, expectOk, RULES, targetFor } from "./ledger.ts";
import { leaseShare, VARIANT_IDS, type VariantId } from "./ledger-results.ts";
import { provisionTenant } from "./ledger-setup.ts";
import { sourceRevision } from "./machine.ts";
import { log } from "./points.ts";
import { argFlag, freePort, runScript, sleep, stopAll } from "./procs.ts";
import { runWrk, writeScript } from "./wrk.ts";

type CallFrame = { functionName: string; url: string; lineNumber: number };
type ProfileNode = { id: number; callFrame: CallFrame; hitCount?: number; children?: number[] };
type Profile = { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[] };

/** Functions whose inclusive time is reported (the hot path's steps and the background work). */
const STEPS = [
  "proxyCall",
  "admitCall",
  "admitFromLease",
  "decide",
  "priceCall",
  "windowKey",
  "afterCall",
  "renew",
  "finishCall",
  "settleFromLease",
  "relay",
  "buildEvent",
  "credentialFor",
  "keyHash",
  "readBody",
  "admit",
  "settle",
  "lease",
  "renewLease",
  "flush",
  "consumeUsage",
  "settleAndWrite",
  "writeUsageRows",
  "missingRows",
  "consumeAudit",
  "sendEvent",
  "sendEvents",
  "fetch",
  "meteredBody",
  "pull",
  "onEvent",
  "feed",
];

/** A minimal Chrome DevTools Protocol client over the inspector's WebSocket. */
async function inspector(port: number): Promise<(method: string, params?: object) => Promise<unknown>> {
  const list = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as { webSocketDebuggerUrl?: string }[];
  const url = list.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${port}: ${JSON.stringify(list)}`);
  // Miniflare's inspector proxy wants an Origin on loopback (Node's WebSocket takes undici's
  // `headers` init, which the DOM typings do not list).
  const init = { headers: { origin: "http://127.0.0.1" } } as unknown as string[];
  const socket = new WebSocket(url, init);
  socket.binaryType = "arraybuffer";
  await new Promise((resolve, reject) => {
    socket.addEventListener("open", resolve, { once: true });
    socket.addEventListener("error", reject, { once: true });
  });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  socket.addEventListener("message", (event: MessageEvent) => {
    const data: unknown = event.data;
    const text = data instanceof ArrayBuffer ? new TextDecoder().decode(data) : String(data);
    const message = JSON.parse(text) as { id?: number; result?: unknown };
    if (message.id === undefined) return;
    waiting.get(message.id)?.resolve(message.result);
    waiting.delete(message.id);
  });
  socket.addEventListener("close", (event: CloseEvent) => {
    for (const pending of waiting.values()) pending.reject(new Error(`inspector closed (${event.code})`));
    waiting.clear();
  });
  let next = 1;
  return (method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = next;
      next += 1;
      waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method, params }));
    });
}

function label(frame: CallFrame): string {
  const file = frame.url.split("/").pop() ?? "";
  return `${frame.functionName || "(anonymous)"} ${file}:${frame.lineNumber + 1}`;
}

/** Self and inclusive sample counts per function (each sample counted once per function). */
function summarize(profile: Profile): { total: number; self: Map<string, number>; inclusive: Map<string, number> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let total = 0;
  const walk = (node: ProfileNode, active: ReadonlySet<string>): void => {
    const hits = node.hitCount ?? 0;
    const name = node.callFrame.functionName;
    const here = active.has(name) ? active : new Set([...active, name]);
    if (hits > 0) {
      total += hits;
      const key = label(node.callFrame);
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
  const tenantId = (argFlag(argv, "tenant") ?? "lease") as VariantId;
  if (!VARIANT_IDS.includes(tenantId)) throw new Error(`--tenant must be one of ${VARIANT_IDS.join(", ")}`);
  const mode = (argFlag(argv, "mode") ?? "json") as Mode;
  if (!MODES.includes(mode)) throw new Error(`--mode must be one of ${MODES.join(", ")}`);
  const tmp = mkdtempSync(join(tmpdir(), "outlay-ledger-profile-"));
  try {
    const inspectorPort = await freePort();
    process.env.BENCH_INSPECTOR_PORT = String(inspectorPort);
    const bundle = await bundleOutlay(join(tmp, "bundle"));
    log(`bundled from ${sourceRevision()}`);
    const A = await startDirect(CONFIG.startupTimeoutMs);
    const C = await startOutlay(upstreamOrigin(A), bundle, CONFIG.startupTimeoutMs);
    if (!C.admin) throw new Error("no admin access to Outlay");
    const tenant = await provisionTenant(C.admin, `profile ${tenantId}`, RULES[tenantId]);
    const target = targetFor(C, tenant, mode);
    await expectOk(tenantId, target);
    const script = writeScript(tmp, "profile", target, ADMISSION_MARK);
    const opts = { connections: CONFIG.throughputConnections, threads: CONFIG.throughputThreads };
    await runWrk(script, C.url, { ...opts, durationS: 2 });
    const send = await inspector(inspectorPort);
    await send("Profiler.enable");
    await send("Profiler.setSamplingInterval", { interval: 200 });
    await expectOk(tenantId, target);
    await sleep(200);
    await send("Profiler.start");
    const wrk = await runWrk(script, C.url, { ...opts, durationS: CONFIG.durationS });
    await sleep(2_000);
    const { profile } = (await send("Profiler.stop")) as { profile: Profile };
    const json = argFlag(argv, "json");
    if (json) writeFileSync(json, JSON.stringify(profile));
    const { total, self, inclusive } = summarize(profile);
    const wallMs = (profile.endTime - profile.startTime) / 1_000;
    const perCall = (hits: number) => ((hits / Math.max(1, total)) * wallMs) / Math.max(1, wrk.requests);
    log(
      `${tenantId}: ${wrk.rps.toFixed(0)} calls/s, ${leaseShare(wrk).toFixed(2)}% leased; ${total} samples over ${wallMs.toFixed(0)} ms (idle included)`,
    );
    const lines = ["", "self time, top 30 (ms per call; % of samples):"];
    for (const [name, hits] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
      lines.push(`${perCall(hits).toFixed(4).padStart(8)}  ${((100 * hits) / total).toFixed(1).padStart(5)}%  ${name}`);
    }
    lines.push("", "inclusive time of the hot path's steps (ms per call; % of samples):");
    for (const step of STEPS) {
      const hits = inclusive.get(step) ?? 0;
      if (hits > 0) {
        lines.push(
          `${perCall(hits).toFixed(4).padStart(8)}  ${((100 * hits) / total).toFixed(1).padStart(5)}%  ${step}`,
        );
      }
    }
    process.stdout.write(`${lines.join("\n")}\n`);
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

runScript("ledger-profile", main);
