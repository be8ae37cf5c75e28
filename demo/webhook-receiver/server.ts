// A webhook receiver the way a customer writes one: each delivery is checked with the
// `standardwebhooks` package (signature, timestamp tolerance) before it is accepted. Used by the
// tests (recording every delivery, answering what a test asks for) and by the self-trial
// (printing verified deliveries):
//   node demo/webhook-receiver/server.ts --port 8790 --secret whsec_…
// Routes: POST /hooks/<name> (a delivery); for tests, PUT /_control/<name> { secrets, fail? }
// sets the secrets to verify with and how many deliveries to answer with which status first,
// and GET /_control/<name> returns what arrived.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { Webhook } from "standardwebhooks";

export type Delivery = {
  id: string;
  timestamp: string;
  /** which of the configured secrets verified it (0 = the first), or null: forged or stale */
  verifiedWith: number | null;
  /** the status this receiver answered */
  answered: number;
  type: string | null;
  seq: number | null;
  body: string;
};

type Plan = {
  secrets: string[];
  /** answer this status to the next `count` deliveries (then 200) */
  fail: { status: number; count: number } | null;
  /** answer 301 to this location instead (a redirect must not be followed) */
  redirectTo: string | null;
  deliveries: Delivery[];
};

export type RunningReceiver = { url: string; close(): Promise<void> };

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function verify(secrets: string[], body: string, headers: Record<string, string>): number | null {
  for (const [i, secret] of secrets.entries()) {
    try {
      new Webhook(secret).verify(body, headers);
      return i;
    } catch {
      // next secret
    }
  }
  return null;
}

function describe(body: string): { type: string | null; seq: number | null } {
  try {
    const parsed = JSON.parse(body) as { type?: unknown; data?: { seq?: unknown } };
    return {
      type: typeof parsed.type === "string" ? parsed.type : null,
      seq: typeof parsed.data?.seq === "number" ? parsed.data.seq : null,
    };
  } catch {
    return { type: null, seq: null };
  }
}

export function startReceiver(
  options: { port?: number; secret?: string; print?: (line: string) => void } = {},
): Promise<RunningReceiver> {
  const plans = new Map<string, Plan>();
  const planOf = (name: string): Plan => {
    const plan = plans.get(name) ?? {
      secrets: options.secret ? [options.secret] : [],
      fail: null,
      redirectTo: null,
      deliveries: [],
    };
    plans.set(name, plan);
    return plan;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://receiver");
    const [, kind, name = ""] = url.pathname.split("/");
    const body = await readBody(req);
    if (kind === "_control" && req.method === "PUT") {
      const wanted = JSON.parse(body) as Partial<Plan>;
      const plan = planOf(name);
      plan.secrets = wanted.secrets ?? plan.secrets;
      plan.fail = wanted.fail ?? null;
      plan.redirectTo = wanted.redirectTo ?? null;
      res.writeHead(204).end();
      return;
    }
    if (kind === "_control" && req.method === "GET") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(planOf(name).deliveries));
      return;
    }
    if (kind !== "hooks" || req.method !== "POST") {
      res.writeHead(404).end();
      return;
    }
    const plan = planOf(name);
    const headers: Record<string, string> = {};
    for (const h of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const value = req.headers[h];
      if (typeof value === "string") headers[h] = value;
    }
    const verifiedWith = verify(plan.secrets, body, headers);
    let answered = verifiedWith === null ? 400 : 200;
    if (plan.redirectTo) answered = 301;
    else if (plan.fail && plan.fail.count > 0) {
      answered = plan.fail.status;
      plan.fail.count -= 1;
    }
    const { type, seq } = describe(body);
    plan.deliveries.push({
      id: headers["webhook-id"] ?? "",
      timestamp: headers["webhook-timestamp"] ?? "",
      verifiedWith,
      answered,
      type,
      seq,
      body,
    });
    if (options.print) {
      const verdict = verifiedWith === null ? "NOT VERIFIED" : "verified";
      options.print(`${verdict} ${headers["webhook-id"] ?? "?"} ${type ?? "?"} seq ${seq ?? "-"} → ${answered}`);
    }
    res.writeHead(answered, plan.redirectTo ? { location: plan.redirectTo } : {}).end();
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      resolve({
        url: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (flag: string) => {
    const i = process.argv.indexOf(flag);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const secret = arg("--secret") ?? process.env.WEBHOOK_SECRET;
  if (!secret?.startsWith("whsec_")) {
    console.error("usage: node demo/webhook-receiver/server.ts --port 8790 --secret whsec_…");
    process.exit(2);
  }
  const running = await startReceiver({ port: Number(arg("--port") ?? 8790), secret, print: console.log });
  console.log(`webhook receiver on ${running.url}/hooks/trial — deliveries are verified with standardwebhooks`);
}
