// The four arms, each in its own process tree, all against the same mock upstream:
//   A  the demo upstream directly (node demo/upstream/server.ts)
//   B  a null pass-through Worker on workerd (worker-host.ts --arm null)
//   C  Outlay's bundled Worker on workerd with D1, the TenantLedger DO, the usage and audit queues, R2
//   D  the Portkey gateway (@portkey-ai/gateway's start-server, with portkey-preload.ts)
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Mode, requestBody, UPSTREAM_KEY } from "./config.ts";
import { provisionOutlay } from "./outlay-setup.ts";
import { freePort, runToEnd, startAndWait, type Tracked } from "./procs.ts";

export type ArmId = "A" | "B" | "C" | "D";
export const ARM_IDS: readonly ArmId[] = ["A", "B", "C", "D"];
export const ARM_NAMES: Record<ArmId, string> = {
  A: "A direct",
  B: "B null Worker",
  C: "C Outlay",
  D: "D Portkey",
};

export type Arm = {
  id: ArmId;
  /** Full chat completions URL. */
  url: string;
  headers: Record<string, string>;
  /** Root of the arm's process tree (for CPU accounting). */
  proc: Tracked;
  /** Outlay only: the Worker origin, an admin token of the bench tenant, the operator token (to
   * create more tenants) and the mock upstream's origin. */
  admin?: OutlayAdmin;
};

export type OutlayAdmin = { base: string; token: string; operatorToken: string; upstream: string };

export const ROOT = new URL("../../", import.meta.url).pathname;
const NODE = process.execPath;
export const PORTKEY_SERVER = join(ROOT, "node_modules/@portkey-ai/gateway/build/start-server.js");
const CHAT = "/openai/v1/chat/completions";
const JSON_HEADERS = { "content-type": "application/json" };

/** Bundles the Worker as `wrangler deploy` would (no account needed); returns the entry module. */
export async function bundleOutlay(outdir: string, projectDir = ROOT, entryName = "index.js"): Promise<string> {
  const wrangler = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
  process.env.WRANGLER_SEND_METRICS = "false";
  await runToEnd("wrangler", NODE, [wrangler, "deploy", "--dry-run", "--outdir", outdir], 180_000, projectDir);
  const entry = join(outdir, entryName);
  if (!existsSync(entry)) throw new Error(`wrangler produced no ${entry}`);
  return entry;
}

export async function startDirect(timeoutMs: number): Promise<Arm> {
  const port = await freePort();
  const { proc, match } = await startAndWait(
    "upstream",
    NODE,
    [join(ROOT, "demo/upstream/server.ts"), "--port", String(port)],
    /listening on (http:\/\/\S+)/,
    timeoutMs,
  );
  const origin = match[1] ?? `http://127.0.0.1:${port}`;
  return {
    id: "A",
    url: `${origin}${CHAT}`,
    headers: { ...JSON_HEADERS, authorization: `Bearer ${UPSTREAM_KEY}` },
    proc,
  };
}

export function upstreamOrigin(a: Arm): string {
  return new URL(a.url).origin;
}

async function startWorkerHost(
  name: string,
  args: string[],
  timeoutMs: number,
  env?: NodeJS.ProcessEnv,
): Promise<{ proc: Tracked; origin: string }> {
  const port = await freePort();
  const { proc, match } = await startAndWait(
    name,
    NODE,
    [join(ROOT, "test/bench/worker-host.ts"), ...args, "--port", String(port)],
    /^READY (\{.*\})$/,
    timeoutMs,
    env,
  );
  const ready = JSON.parse(match[1] ?? "{}") as { url?: string };
  return { proc, origin: ready.url ?? `http://127.0.0.1:${port}` };
}

export async function startNullWorker(upstream: string, timeoutMs: number): Promise<Arm> {
  const { proc, origin } = await startWorkerHost("null-worker", ["--arm", "null", "--upstream", upstream], timeoutMs);
  return {
    id: "B",
    url: `${origin}${CHAT}`,
    headers: { ...JSON_HEADERS, authorization: `Bearer ${UPSTREAM_KEY}` },
    proc,
  };
}

export async function startOutlay(upstream: string, bundle: string, timeoutMs: number): Promise<Arm> {
  const operatorToken = `bench-operator-${crypto.randomUUID()}`;
  const args = ["--arm", "outlay", "--bundle", bundle];
  const { proc, origin } = await startWorkerHost("outlay", args, timeoutMs, {
    ...process.env,
    BENCH_OPERATOR_TOKEN: operatorToken,
  });
  const tenant = await provisionOutlay(origin, operatorToken, upstream);
  return {
    id: "C",
    url: `${origin}${CHAT}`,
    headers: { ...JSON_HEADERS, authorization: `Bearer ${tenant.proxyKey}` },
    proc,
    admin: { base: origin, token: tenant.adminToken, operatorToken, upstream },
  };
}

export async function startPortkey(upstream: string, timeoutMs: number): Promise<Arm> {
  if (!existsSync(PORTKEY_SERVER)) throw new Error(`Portkey is not installed (${PORTKEY_SERVER}); run npm ci`);
  const port = await freePort();
  const { proc } = await startAndWait(
    "portkey",
    NODE,
    ["--import", join(ROOT, "test/bench/portkey-preload.ts"), PORTKEY_SERVER, `--port=${port}`, "--headless"],
    /Ready for connections/,
    timeoutMs,
    { ...process.env, NODE_ENV: "production" },
  );
  return {
    id: "D",
    url: `http://127.0.0.1:${port}/v1/chat/completions`,
    headers: {
      ...JSON_HEADERS,
      authorization: `Bearer ${UPSTREAM_KEY}`,
      "x-portkey-provider": "openai",
      "x-portkey-custom-host": `${upstream}/openai/v1`,
    },
    proc,
  };
}

/** One request in each mode: 200 and a well-formed completion, or an error naming the arm. */
export async function verifyArm(arm: Arm, mode: Mode): Promise<void> {
  const res = await fetch(arm.url, {
    method: "POST",
    headers: arm.headers,
    body: requestBody(mode),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const fail = (why: string): never => {
    throw new Error(`${ARM_NAMES[arm.id]} (${mode}): ${why}. Status ${res.status}, body: ${text.slice(0, 300)}`);
  };
  if (res.status !== 200) fail("expected status 200");
  if (mode === "json") {
    const body = JSON.parse(text) as { object?: unknown; choices?: Array<{ message?: { content?: unknown } }> };
    const content = body.choices?.[0]?.message?.content;
    if (body.object !== "chat.completion" || typeof content !== "string" || content === "") fail("no completion");
    return;
  }
  if (!(res.headers.get("content-type") ?? "").includes("text/event-stream")) fail("not an event stream");
  const events = text.split("\n").filter((line) => line.startsWith("data: "));
  const deltas = events.filter((line) => line.includes('"delta":{"content"')).length;
  if (deltas < 1 || events.at(-1) !== "data: [DONE]") fail(`expected content deltas and [DONE], got ${deltas}`);
}
