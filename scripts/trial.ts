// `npm start`: the whole suite on this machine with no cloud account and no internet.
//   1. local secrets in .dev.vars (created once, never committed)
//   2. D1 migrations applied to the local database
//   3. the demo upstream (a stand-in for OpenAI, Anthropic and Gemini) on 127.0.0.1
//   4. `wrangler dev` (local D1, Durable Objects, Queues, R2)
//   5. the demo tenant and its demo user seeded through the Worker's own routes, idempotently
//   6. what a newcomer needs, printed and written to .outlay/trial.json
//   7. with `--webhooks`: a local receiver on 127.0.0.1:8790 registered as a webhook endpoint of
//      the demo tenant, printing each delivery it verified with `standardwebhooks`
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { demoCur2Csv } from "../demo/bills/cur2.ts";
import { startUpstream } from "../demo/upstream/server.ts";
import { startReceiver, type RunningReceiver } from "../demo/webhook-receiver/server.ts";
import { migrate, ROOT, startLocalWorker, waitForHealth } from "./local-worker.ts";

const PORT = Number(process.env.OUTLAY_PORT ?? 8787);
const UPSTREAM_PORT = Number(process.env.OUTLAY_UPSTREAM_PORT ?? 8788);
const RECEIVER_PORT = Number(process.env.OUTLAY_RECEIVER_PORT ?? 8790);
const BASE = `http://127.0.0.1:${PORT}`;
const TENANT_ID = "demodemodemo";
const TRIAL_FILE = join(ROOT, ".outlay", "trial.json");

type Trial = {
  baseUrl: string;
  tenantId: string;
  proxyKey: string;
  adminToken: string;
  upstreamUrl: string;
  /** signs in to the dashboard at baseUrl/login (owner of the demo organisation) */
  demoUser: { email: string; password: string };
};

const DEMO_EMAIL = "demo@example.com";

function ensureSecrets(): Record<string, string> {
  const file = join(ROOT, ".dev.vars");
  const vars: Record<string, string> = {};
  if (existsSync(file)) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (match?.[1]) vars[match[1]] = match[2] ?? "";
    }
  }
  const wanted: Record<string, () => string> = {
    KEY_PEPPER: () => randomBytes(32).toString("base64url"),
    DATA_KEYS: () => `v1:${randomBytes(32).toString("base64")}`,
    SESSION_SECRET: () => randomBytes(32).toString("base64url"),
    OPERATOR_TOKEN: () => randomBytes(32).toString("base64url"),
    AUDIT_SIGNING_KEYS: () => `v1:${randomBytes(32).toString("base64")}`,
  };
  let changed = false;
  for (const [name, make] of Object.entries(wanted)) {
    if (!vars[name]) {
      vars[name] = make();
      changed = true;
    }
  }
  if (changed) {
    const text = Object.entries(vars)
      .map(([k, v]) => `${k}=${v}`)
      .join("\n");
    writeFileSync(file, `# Local secrets for wrangler dev, made by npm start. Never commit.\n${text}\n`, {
      mode: 0o600,
    });
    console.log("• created local secrets in .dev.vars");
  }
  return vars;
}

async function call(path: string, token: string, method = "GET", body?: unknown): Promise<Response> {
  return fetch(`${BASE}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

async function expectOk(res: Response, what: string): Promise<unknown> {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? null : res.json();
}

async function seed(operatorToken: string, upstreamUrl: string): Promise<Trial> {
  const previous: Partial<Trial> = existsSync(TRIAL_FILE)
    ? (JSON.parse(readFileSync(TRIAL_FILE, "utf8")) as Partial<Trial>)
    : {};
  await expectOk(
    await call(`/internal/v1/tenants/${TENANT_ID}`, operatorToken, "PUT", { name: "Demo" }),
    "create demo tenant",
  );

  let adminToken = previous.adminToken ?? "";
  if (!adminToken || (await call("/api/v1/keys", adminToken)).status !== 200) {
    const made = (await expectOk(
      await call(`/internal/v1/tenants/${TENANT_ID}/admin-tokens`, operatorToken, "POST", { name: "trial" }),
      "create admin token",
    )) as { token: string };
    adminToken = made.token;
  }

  for (const [name, path] of [
    ["openai", "/openai/v1"],
    ["anthropic", "/anthropic/v1"],
    ["google", "/google"],
  ]) {
    await expectOk(
      await call(`/api/v1/providers/${name}`, adminToken, "PUT", {
        api_key: "demo-upstream-key-not-a-provider-key",
        base_url: `${upstreamUrl}${path}`,
      }),
      `configure ${name}`,
    );
  }

  const listed = (await expectOk(await call("/api/v1/keys", adminToken), "list keys")) as {
    keys: { id: string; name: string; revoked_at: string | null }[];
  };
  let proxyKey = previous.proxyKey ?? "";
  const previousId = proxyKey.split("_")[2];
  const stillValid = listed.keys.some((k) => k.id === previousId && k.revoked_at === null);
  if (!stillValid) {
    for (const key of listed.keys) {
      if (key.name === "Demo key" && key.revoked_at === null) {
        await expectOk(await call(`/api/v1/keys/${key.id}/revoke`, adminToken, "POST"), "revoke old demo key");
      }
    }
    const made = (await expectOk(
      await call("/api/v1/keys", adminToken, "POST", { name: "Demo key", dimensions: { team: "demo" } }),
      "create demo key",
    )) as { key: string };
    proxyKey = made.key;
  }
  // The demo user keeps its password across runs; each run sets it again (and lifts any lockout),
  // so the password in trial.json always signs in.
  const demoUser = {
    email: DEMO_EMAIL,
    password: previous.demoUser?.password ?? `trial-${randomBytes(12).toString("base64url")}`,
  };
  await expectOk(
    await call(`/internal/v1/tenants/${TENANT_ID}/members`, operatorToken, "PUT", {
      ...demoUser,
      name: "Demo User",
      role: "owner",
    }),
    "create demo user",
  );
  await demoActivity(proxyKey, adminToken);
  await demoCloudBill(adminToken);
  return { baseUrl: BASE, tenantId: TENANT_ID, proxyKey, adminToken, upstreamUrl, demoUser };
}

/** A few calls through the gateway and a monthly budget, so the dashboard's first view has
 * something to show. Only when the demo tenant has no usage yet: a rerun adds nothing. */
async function demoActivity(proxyKey: string, adminToken: string): Promise<void> {
  const usage = (await expectOk(await call("/api/v1/usage", adminToken), "read usage")) as { rows: unknown[] };
  if (usage.rows.length > 0) return;
  const json = { "content-type": "application/json" };
  const calls: [string, Record<string, string>, unknown][] = [
    [
      "/openai/v1/chat/completions",
      { authorization: `Bearer ${proxyKey}` },
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "Summarise our spend controls." }] },
    ],
    [
      "/anthropic/v1/messages",
      { "x-api-key": proxyKey, "anthropic-version": "2023-06-01" },
      { model: "claude-3-5-haiku-20241022", max_tokens: 256, messages: [{ role: "user", content: "Hello" }] },
    ],
    [
      "/google/v1beta/models/gemini-2.0-flash:generateContent",
      { "x-goog-api-key": proxyKey },
      { contents: [{ role: "user", parts: [{ text: "Hello" }] }] },
    ],
  ];
  for (let round = 0; round < 4; round++) {
    for (const [path, headers, body] of calls) {
      const res = await fetch(`${BASE}${path}`, {
        method: "POST",
        headers: { ...headers, ...json },
        body: JSON.stringify(body),
      });
      await expectOk(res, `demo call ${path}`);
    }
  }
  const budgets = (await expectOk(await call("/api/v1/budgets", adminToken), "list budgets")) as {
    budgets: { name: string }[];
  };
  if (!budgets.budgets.some((b) => b.name === "Demo monthly budget")) {
    await expectOk(
      await call("/api/v1/budgets", adminToken, "POST", {
        name: "Demo monthly budget",
        window: "monthly",
        limit_usd: "25",
        mode: "block",
      }),
      "create demo budget",
    );
  }
  console.log(`• ${calls.length * 4} demo calls made through the gateway and a $25 monthly budget set`);
}

/** A demo AWS bill (demo/bills/cur2.ts) for this month, imported once, so the Cloud AI spend
 * page has something to show; a rerun adds nothing. */
async function demoCloudBill(adminToken: string): Promise<void> {
  const listed = (await expectOk(await call("/api/v1/cloud/imports", adminToken), "list cloud imports")) as {
    data: unknown[];
  };
  if (listed.data.length > 0) return;
  const bill = new TextEncoder().encode(demoCur2Csv(new Date()));
  const res = await fetch(`${BASE}/api/v1/cloud/imports?file_name=demo-cur2.csv`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${adminToken}`,
      "content-type": "text/csv",
      "content-length": String(bill.byteLength),
    },
    body: bill,
  });
  await expectOk(res, "import the demo AWS bill");
  console.log("• a demo AWS bill (CUR 2.0, this month) imported: see Cloud AI spend");
}

function explain(trial: Trial): void {
  console.log(`
Outlay is running at ${trial.baseUrl} (demo tenant ${trial.tenantId}).
The same details are in .outlay/trial.json.

  Dashboard:   ${trial.baseUrl}/login  (${trial.demoUser.email} / ${trial.demoUser.password})
  Proxy key:   ${trial.proxyKey}
  Admin token: ${trial.adminToken}

Point any SDK at Outlay by changing only its base URL (the demo upstream answers; no provider account needed):
  OpenAI     new OpenAI({ baseURL: "${trial.baseUrl}/openai/v1", apiKey: "<proxy key>" })
  Anthropic  new Anthropic({ baseURL: "${trial.baseUrl}/anthropic", apiKey: "<proxy key>" })
  Gemini     new GoogleGenAI({ apiKey: "<proxy key>", httpOptions: { baseUrl: "${trial.baseUrl}/google" } })

Try it:
  curl ${trial.baseUrl}/openai/v1/chat/completions -H "authorization: Bearer $(node -p 'require("./.outlay/trial.json").proxyKey')" \\
    -H "content-type: application/json" -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}'
  curl "${trial.baseUrl}/api/v1/usage?group_by=model" -H "authorization: Bearer $(node -p 'require("./.outlay/trial.json").adminToken')"

Press Ctrl+C to stop.`);
}

/** Starts the local receiver and registers it (afresh: a secret is shown only once) as the demo
 * tenant's endpoint for every type but the high-volume ones; a test message proves the path. */
async function webhookReceiver(adminToken: string): Promise<RunningReceiver> {
  const hook = `http://127.0.0.1:${RECEIVER_PORT}/hooks/trial`;
  const listed = (await expectOk(await call("/api/v1/webhooks", adminToken), "list webhooks")) as {
    data: { id: string; url: string }[];
  };
  for (const old of listed.data.filter((e) => e.url === hook)) {
    await expectOk(await call(`/api/v1/webhooks/${old.id}`, adminToken, "DELETE"), "remove the earlier trial webhook");
  }
  const made = (await expectOk(
    await call("/api/v1/webhooks", adminToken, "POST", { url: hook, description: "npm start --webhooks" }),
    "register the trial webhook",
  )) as { id: string; secret: string };
  const receiver = await startReceiver({
    port: RECEIVER_PORT,
    secret: made.secret,
    print: (line) => console.log(`  [webhook] ${line}`),
  });
  await expectOk(await call(`/api/v1/webhooks/${made.id}/test`, adminToken, "POST"), "send a test delivery");
  console.log(`• webhook receiver at ${hook}: verified deliveries print below as [webhook]`);
  return receiver;
}

async function main(): Promise<void> {
  const secrets = ensureSecrets();
  migrate();
  console.log("• local D1 migrations applied");
  const upstream = await startUpstream({ port: UPSTREAM_PORT });
  console.log(`• demo upstream at ${upstream.url}`);
  const worker = startLocalWorker({ port: PORT, log: (line) => console.log(`  [wrangler] ${line}`) });
  let receiver: RunningReceiver | null = null;
  const stop = async () => {
    worker.kill("SIGTERM");
    await upstream.close();
    await receiver?.close();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
  worker.on("exit", (code) => {
    console.error(`wrangler dev exited (${code ?? "signal"})`);
    void upstream.close().then(() => process.exit(code ?? 1));
  });
  let trial: Trial;
  try {
    await waitForHealth(BASE, worker);
    trial = await seed(secrets.OPERATOR_TOKEN ?? "", upstream.url);
  } catch (error) {
    // Leave nothing running behind a failed start (wrangler dev would hold the port).
    worker.removeAllListeners("exit");
    worker.kill("SIGTERM");
    await upstream.close();
    throw error;
  }
  mkdirSync(join(ROOT, ".outlay"), { recursive: true });
  writeFileSync(TRIAL_FILE, `${JSON.stringify(trial, null, 2)}\n`, { mode: 0o600 });
  explain(trial);
  if (process.argv.includes("--webhooks")) receiver = await webhookReceiver(trial.adminToken);
}

main().catch((error: unknown) => {
  console.error(`npm start failed: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
