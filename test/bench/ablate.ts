// What each part of Outlay's hot path costs, by ablation: bundles patched copies of the Worker
// (in a temp dir; the project is never modified), each with one part taken out, and measures
// them against the null Worker B on the same mock upstream. A diagnostic, not a benchmark of
// a shippable build: the variants skip work Outlay must do (accounting, auth checks).
//   node test/bench/ablate.ts [--seconds 6] [--only base,no-usage,...]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Arm,
  bundleOutlay,
  ROOT,
  startDirect,
  startNullWorker,
  startOutlay,
  upstreamOrigin,
  verifyArm,
} from "./arms.ts";
import { requestBody } from "./config.ts";
import { settle, treeCpuMs } from "./cpu.ts";
import { applicable, NO_USAGE, type Patch, patchedCopy } from "./patch.ts";
import { argFlag, runScript, stop, stopAll } from "./procs.ts";
import { measureSequential } from "./sequential.ts";
import { runWrk, writeScript } from "./wrk.ts";

const CACHE_ADMIT: Patch = {
  name: "CACHE_ADMIT",
  versions: [
    [
      {
        file: "workers/gateway/admit.ts",
        find: "await ledger.admit(request)",
        replace: "await cachedAdmit(ledger, request)",
      },
      {
        file: "workers/gateway/admit.ts",
        find: "export async function admitCall(",
        replace: `const admitCache = new Map<string, Promise<AdmitResult>>();
function cachedAdmit(ledger: Ledger, request: AdmitRequest): Promise<AdmitResult> {
  const key = [request.keyId, request.keyHash, request.provider, request.call?.model ?? ""].join("/");
  let found = admitCache.get(key);
  if (!found) {
    found = ledger.admit(request);
    admitCache.set(key, found);
  }
  return found;
}
export async function admitCall(`,
      },
    ],
    [
      {
        file: "workers/gateway/admit.ts",
        find: "const result = await ledger.admit(request);",
        replace: "const result = await cachedAdmit(ledger, request);",
      },
      {
        file: "workers/gateway/admit.ts",
        find: "export async function admitCall(",
        replace: `const admitCache = new Map<string, Promise<AdmitResult>>();
function cachedAdmit(ledger: Ledger, request: AdmitRequest): Promise<AdmitResult> {
  const key = [request.keyId, request.keyHash, request.provider, request.call?.model ?? ""].join("/");
  let found = admitCache.get(key);
  if (!found) {
    found = ledger.admit(request);
    admitCache.set(key, found);
  }
  return found;
}
export async function admitCall(`,
      },
    ],
    [
      {
        file: "workers/gateway/proxy.ts",
        find: "async function admit(",
        replace: `const admitCache = new Map<string, Promise<AdmitResult>>();
function admit(env: Env, tenantId: string, keyId: string, hash: string, provider: string): Promise<AdmitResult> {
  const key = [tenantId, keyId, hash, provider].join("/");
  let found = admitCache.get(key);
  if (!found) {
    found = admitUncached(env, tenantId, keyId, hash, provider);
    admitCache.set(key, found);
  }
  return found;
}
async function admitUncached(`,
      },
    ],
  ],
};
const CACHE_CREDENTIAL: Patch = {
  name: "CACHE_CREDENTIAL",
  versions: [
    [
      {
        file: "workers/gateway/credential.ts",
        find: "export async function credentialFor(",
        replace: `const credentialCache = new Map<string, Promise<string | AppError>>();
export function credentialFor(env: Env, tenantId: string, provider: string, admitted: Admitted, passthrough: string | null) {
  const key = [tenantId, provider, passthrough ?? ""].join("/");
  let found = credentialCache.get(key);
  if (!found) {
    found = credentialForUncached(env, tenantId, provider, admitted, passthrough);
    credentialCache.set(key, found);
  }
  return found;
}
async function credentialForUncached(`,
      },
    ],
    [
      {
        file: "workers/gateway/proxy.ts",
        find: "async function credentialFor(",
        replace: `const credentialCache = new Map<string, Promise<string | AppError>>();
function credentialFor(env: Env, tenantId: string, provider: string, admitted: Admitted, passthrough: string | null) {
  const key = [tenantId, provider, passthrough ?? ""].join("/");
  let found = credentialCache.get(key);
  if (!found) {
    found = credentialForUncached(env, tenantId, provider, admitted, passthrough);
    credentialCache.set(key, found);
  }
  return found;
}
async function credentialForUncached(`,
      },
    ],
  ],
};
const NO_METER: Patch = {
  name: "NO_METER",
  versions: [
    [
      {
        file: "workers/gateway/proxy.ts",
        find: "  const body = meteredBody(upstream.body, {",
        replace: `  finish("complete");
  if (headers !== null) return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers });
  const body = meteredBody(upstream.body, {`,
      },
    ],
    // 6a041c6: relay.ts reads JSON whole and meters it; SSE goes through meteredBody.
    [
      {
        file: "workers/gateway/relay.ts",
        find: "    let bytes: ArrayBuffer;",
        replace: `    record(upstream.status, { outcome: "ok", usage: null, usageSource: "none", firstByteAt: Date.now() });
    if (headers !== null) return new Response(upstream.body, init);
    let bytes: ArrayBuffer;`,
      },
      {
        file: "workers/gateway/relay.ts",
        find: "  const body = meteredBody(upstream.body, {",
        replace: `  finish("complete");
  if (headers !== null) return new Response(upstream.body, init);
  const body = meteredBody(upstream.body, {`,
      },
    ],
  ],
};
const METERED = "  const body = meteredBody(upstream.body, {";
/** relay.ts answering an SSE call by `statements` (which return the Response), nothing metered. */
function sseBody(name: string, statements: string): Patch {
  const replace = `  finish("complete");\n  if (headers !== null) {\n${statements}\n  }\n${METERED}`;
  return { name, versions: [[{ file: "workers/gateway/relay.ts", find: METERED, replace }]] };
}
/** The SSE body through a JavaScript TransformStream that forwards each chunk. */
const TRANSFORM_PASS = sseBody(
  "TRANSFORM_PASS",
  `    const forward = new TransformStream<Uint8Array, Uint8Array>({ transform: (chunk, c) => c.enqueue(chunk) });
    return new Response(upstream.body.pipeThrough(forward), init);`,
);
/** The SSE body teed: the client's branch native, the other read to its end in JavaScript. */
const TEE_READ = sseBody(
  "TEE_READ",
  `    const [toClient, toMeter] = upstream.body.tee();
    const reader = toMeter.getReader();
    void (async () => {
      for (;;) if ((await reader.read()).done) return;
    })();
    return new Response(toClient, init);`,
);
/** The SSE body copied chunk by chunk by JavaScript into a native IdentityTransformStream. */
const IDENTITY_PUMP = sseBody(
  "IDENTITY_PUMP",
  `    const pipe = new IdentityTransformStream();
    const reader = upstream.body.getReader();
    const writer = pipe.writable.getWriter();
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return writer.close();
        await writer.write(value);
      }
    })();
    return new Response(pipe.readable, init);`,
);
/** The metering stream's copy with nothing read from the chunks: `indent` is the feed line's. */
const unread = (indent: string) => [
  {
    file: "workers/gateway/metered-stream.ts",
    find: "const framed = strip || credit !== null;",
    replace: "const framed = false;",
  },
  {
    file: "workers/gateway/metered-stream.ts",
    find: `${indent}parser.feed(decoder.decode(result.value, { stream: true }));\n`,
    replace: "",
  },
];
/** The metering stream's copy (the pull loop before c952d9e, the pump since), chunks not read. */
const PULL_PASS: Patch = { name: "PULL_PASS", versions: [unread(" ".repeat(12)), unread(" ".repeat(8))] };
/** The metering stream reads events (decodes, frames, strips) but the meter parses none. */
const NO_EVENT_PARSE: Patch = {
  name: "NO_EVENT_PARSE",
  versions: [
    [
      {
        file: "workers/gateway/metered-stream.ts",
        find: "      if (!meter.onEvent(message.event, message.data) && strip) dropped.push(message.data);",
        replace: '      if (message.data === "\\u0000" && strip) dropped.push(message.data);',
      },
    ],
  ],
};
const CACHE_HASH: Patch = {
  name: "CACHE_HASH",
  versions: [
    [
      {
        file: "shared/crypto.ts",
        find: "export async function keyHash(pepper: string, value: string): Promise<string> {",
        replace: `const hashCache = new Map<string, Promise<string>>();
export function keyHash(pepper: string, value: string): Promise<string> {
  let found = hashCache.get(value);
  if (!found) {
    found = keyHashUncached(pepper, value);
    hashCache.set(value, found);
  }
  return found;
}
async function keyHashUncached(pepper: string, value: string): Promise<string> {`,
      },
    ],
  ],
};

const NO_D1_WRITE: Patch = {
  name: "NO_D1_WRITE",
  versions: [
    [
      {
        file: "workers/ingest/usage-consumer.ts",
        find: "  await writeUsageRows(db, rows);",
        replace: "  if (rows.length < 0) await writeUsageRows(db, rows);",
      },
    ],
    [
      {
        file: "workers/ingest/usage-consumer.ts",
        find: "  await writeUsage(env.DB, tenantId, events);",
        replace: "  if (events.length < 0) await writeUsage(env.DB, tenantId, events);",
      },
    ],
    [
      {
        file: "workers/ingest/usage-consumer.ts",
        find: "      await writeUsage(env.DB, tenantId, group.events);",
        replace: "      if (group.events.length < 0) await writeUsage(env.DB, tenantId, group.events);",
      },
    ],
  ],
};

const NO_ADMITTED_AUDIT: Patch = {
  name: "NO_ADMITTED_AUDIT",
  versions: [
    [
      {
        file: "workers/ledger/admit-call.ts",
        find: '  const audited = parts.outbox.deferAudit({\n    at: now,\n    type: "call.admitted",',
        replace:
          '  const audited = now < 0 ? Promise.resolve() : parts.outbox.deferAudit({\n    at: now,\n    type: "call.admitted",',
      },
    ],
    [
      {
        file: "workers/ledger/admit-call.ts",
        find: '    parts.outbox.audit({\n      at: now,\n      type: "call.admitted",',
        replace: '    if (now < 0) parts.outbox.audit({\n      at: now,\n      type: "call.admitted",',
      },
    ],
  ],
};

/** One line of the audit consumer's writeAudit taken out (workers/ingest/audit-consumer.ts). */
function auditConsumerWithout(name: string, line: string): Patch {
  return {
    name,
    versions: [
      [{ file: "workers/ingest/audit-consumer.ts", find: line, replace: `  if (events.length < 0) ${line.trim()}` }],
    ],
  };
}

const NO_AUDIT_D1 = auditConsumerWithout(
  "NO_AUDIT_D1",
  "  await insertAuditEvents(tenantDb(env.DB, tenantId), events);",
);
const NO_ARCHIVE: Patch = {
  name: "NO_ARCHIVE",
  versions: [
    [
      {
        file: "workers/ingest/audit-consumer.ts",
        find: "await archiverFor(env, tenantId).append({ tenantId, events })",
        replace: "({ accepted: events.length } as { accepted: number } | { refused: string })",
      },
    ],
  ],
};
const NO_FAN_OUT = auditConsumerWithout("NO_FAN_OUT", "  await fanOut(env, tenantId, events);");

const VARIANTS: Record<string, { what: string; patches: Patch[] }> = {
  base: { what: "Outlay as it is", patches: [] },
  "no-d1-write": {
    what: "usage events sent and consumed, but the consumer writes nothing to D1",
    patches: [NO_D1_WRITE],
  },
  "no-usage": { what: "no usage event (no queue.send, so no consumer or D1 write)", patches: [NO_USAGE] },
  "no-admitted-audit": {
    what: "no call.admitted audit event (no outbox row, AUDIT_QUEUE message, D1 row or archive entry per call)",
    patches: [NO_ADMITTED_AUDIT],
  },
  "no-audit-d1": { what: "the audit consumer writes no D1 row", patches: [NO_AUDIT_D1] },
  "no-archive": { what: "the audit consumer hands nothing to the archiver", patches: [NO_ARCHIVE] },
  "no-fan-out": { what: "the audit consumer does no webhook fan-out", patches: [NO_FAN_OUT] },
  "-usage-audit": {
    what: "cumulative: no usage event, no call.admitted audit event",
    patches: [NO_USAGE, NO_ADMITTED_AUDIT],
  },
  "no-ledger": { what: "TenantLedger.admit answered from an isolate cache (no DO round trip)", patches: [CACHE_ADMIT] },
  "no-decrypt": { what: "provider credential decrypted once per isolate", patches: [CACHE_CREDENTIAL] },
  "no-meter": { what: "upstream body returned as is (no metering stream)", patches: [NO_METER] },
  "transform-pass": {
    what: "SSE through a JavaScript TransformStream forwarding each chunk (nothing metered)",
    patches: [TRANSFORM_PASS],
  },
  "tee-read": { what: "SSE teed: the client's branch native, the other read in JavaScript", patches: [TEE_READ] },
  "identity-pump": {
    what: "SSE copied by JavaScript into a native IdentityTransformStream",
    patches: [IDENTITY_PUMP],
  },
  "pull-pass": { what: "SSE through the metering stream's pull loop, chunks not read", patches: [PULL_PASS] },
  "no-event-parse": {
    what: "the metering stream frames and strips, the meter parses no event",
    patches: [NO_EVENT_PARSE],
  },
  "no-hmac": { what: "key HMAC computed once per isolate", patches: [CACHE_HASH] },
  "-usage-ledger": { what: "cumulative: no usage event, no DO round trip", patches: [NO_USAGE, CACHE_ADMIT] },
  "-usage-ledger-meter": {
    what: "cumulative: no usage event, no DO round trip, no metering stream",
    patches: [NO_USAGE, CACHE_ADMIT, NO_METER],
  },
  "all-five": {
    what: "all five above together (what is left: routing, body parse, headers)",
    patches: [NO_USAGE, CACHE_ADMIT, CACHE_CREDENTIAL, NO_METER, CACHE_HASH],
  },
  "base-again": { what: "Outlay as it is, measured again", patches: [] },
};

type Row = {
  variant: string;
  jsonP50: number;
  jsonP99: number;
  ssep50: number;
  ttftP50: number;
  rps: number;
  cpuMs: number;
  sseRps: number;
  sseCpuMs: number;
};

async function measure(arm: Arm, tmp: string, seconds: number): Promise<Omit<Row, "variant">> {
  const json = await measureSequential(
    { url: arm.url, headers: arm.headers, body: requestBody("json") },
    { warmupS: 1, durationS: seconds, stream: false },
  );
  const sse = await measureSequential(
    { url: arm.url, headers: arm.headers, body: requestBody("sse") },
    { warmupS: 1, durationS: seconds, stream: true },
  );
  /** Requests per second and CPU per request at c=64, the tree's CPU read once it went quiet. */
  const load = async (mode: "json" | "sse") => {
    const script = writeScript(tmp, `ablate-${mode}-${arm.proc.pid}`, {
      url: arm.url,
      headers: arm.headers,
      body: requestBody(mode),
    });
    await runWrk(script, arm.url, { connections: 64, threads: 2, durationS: 1 });
    await settle(arm.proc.pid, 15_000);
    const before = treeCpuMs(arm.proc.pid);
    const wrk = await runWrk(script, arm.url, { connections: 64, threads: 2, durationS: seconds });
    await settle(arm.proc.pid, 15_000);
    return { rps: wrk.rps, cpuMs: (treeCpuMs(arm.proc.pid) - before) / Math.max(1, wrk.requests) };
  };
  const jsonLoad = await load("json");
  const sseLoad = await load("sse");
  return {
    jsonP50: json.latency.p50Ms,
    jsonP99: json.latency.p99Ms,
    ssep50: sse.latency.p50Ms,
    ttftP50: sse.ttft?.p50Ms ?? Number.NaN,
    rps: jsonLoad.rps,
    cpuMs: jsonLoad.cpuMs,
    sseRps: sseLoad.rps,
    sseCpuMs: sseLoad.cpuMs,
  };
}

function print(rows: Row[]): void {
  const head =
    "variant          JSON p50  JSON p99   SSE p50  TTFT p50   req/s c=64  CPU ms/req  SSE req/s  SSE CPU ms";
  const lines = rows.map((r) =>
    [
      r.variant.padEnd(15),
      r.jsonP50.toFixed(3).padStart(9),
      r.jsonP99.toFixed(3).padStart(9),
      r.ssep50.toFixed(3).padStart(9),
      r.ttftP50.toFixed(3).padStart(9),
      r.rps.toFixed(0).padStart(12),
      r.cpuMs.toFixed(3).padStart(11),
      r.sseRps.toFixed(0).padStart(10),
      r.sseCpuMs.toFixed(3).padStart(11),
    ].join(" "),
  );
  process.stdout.write(`\n${head}\n${lines.join("\n")}\n`);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const seconds = Number(argv.includes("--seconds") ? argFlag(argv, "seconds") : "6");
  const only = argFlag(argv, "only")?.split(",");
  const names = Object.keys(VARIANTS).filter((name) => !only || only.includes(name));
  for (const name of names) for (const patch of VARIANTS[name]?.patches ?? []) applicable(ROOT, patch);
  const tmp = mkdtempSync(join(tmpdir(), "outlay-ablate-"));
  try {
    const A = await startDirect(60_000);
    const upstream = upstreamOrigin(A);
    const B = await startNullWorker(upstream, 60_000);
    const rows: Row[] = [{ variant: "B null Worker", ...(await measure(B, tmp, seconds)) }];
    for (const name of names) {
      const variant = VARIANTS[name];
      if (!variant) continue;
      const src = patchedCopy(join(tmp, name), variant.patches);
      const bundle = await bundleOutlay(join(tmp, `${name}-bundle`), src);
      const C = await startOutlay(upstream, bundle, 60_000);
      await verifyArm(C, "json");
      await verifyArm(C, "sse");
      rows.push({ variant: name, ...(await measure(C, tmp, seconds)) });
      process.stdout.write(`[ablate] ${name}: ${variant.what}\n`);
      await stop(C.proc);
    }
    rows.push({ variant: "B again", ...(await measure(B, tmp, seconds)) });
    print(rows);
  } finally {
    await stopAll();
    rmSync(tmp, { recursive: true, force: true });
  }
}

runScript("ablate", main);
