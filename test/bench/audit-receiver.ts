// Child process of the audit part: the local webhook receiver (demo/webhook-receiver/server.ts,
// which verifies every delivery with the `standardwebhooks` package as a customer would), plus a
// stats port that says, per hook name, what arrived and when. Nothing is printed per delivery.
//   node test/bench/audit-receiver.ts
// Prints `READY {"url": receiver origin, "stats": stats origin}`. The secrets to verify with are
// set through the receiver's own `PUT /_control/<name> { "secrets": [...] }`.
// GET <stats>/stats/<name>[?arrivals_from=K] → HookStats (arrivals from the K-th on; none without K).
import { createServer } from "node:http";
import { startReceiver } from "../../demo/webhook-receiver/server.ts";

export type HookStats = {
  received: number;
  verified: number;
  /** deliveries whose webhook-id was seen before */
  repeated: number;
  /** answered with something other than 200 */
  refused: number;
  minSeq: number | null;
  maxSeq: number | null;
  /** epoch ms of each delivery's arrival, in order (from the one asked for) */
  arrivals: number[];
};

const hooks = new Map<string, HookStats & { ids: Set<string> }>();

function statsOf(name: string): HookStats & { ids: Set<string> } {
  const found = hooks.get(name);
  if (found) return found;
  const fresh = {
    received: 0,
    verified: 0,
    repeated: 0,
    refused: 0,
    minSeq: null,
    maxSeq: null,
    arrivals: [],
    ids: new Set<string>(),
  };
  hooks.set(name, fresh);
  return fresh;
}

// The receiver prints `<verified|NOT VERIFIED> <webhook-id> <type> seq <n|-> → <status>` per
// delivery; which hook it was for is not in the line, so the webhook-id (msg_<endpoint>_<seq>)
// is looked up in the endpoints registered below.
const endpointHook = new Map<string, string>();

function record(line: string): void {
  const match = /^(verified|NOT VERIFIED) (\S+) \S+ seq (\d+|-) → (\d+)$/.exec(line);
  if (!match) return;
  const [, verdict = "", id = "", seqText = "", status = ""] = match;
  const endpoint = /^msg_(.+)_\d+$/.exec(id)?.[1] ?? "";
  const stats = statsOf(endpointHook.get(endpoint) ?? "unknown");
  stats.received += 1;
  stats.arrivals.push(Date.now());
  if (verdict === "verified") stats.verified += 1;
  if (status !== "200") stats.refused += 1;
  if (stats.ids.has(id)) stats.repeated += 1;
  stats.ids.add(id);
  const seq = Number(seqText);
  if (Number.isSafeInteger(seq)) {
    stats.minSeq = Math.min(stats.minSeq ?? seq, seq);
    stats.maxSeq = Math.max(stats.maxSeq ?? seq, seq);
  }
}

const receiver = await startReceiver({ print: record });

const stats = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://stats");
  const [, kind, name = ""] = url.pathname.split("/");
  if (kind === "endpoint" && req.method === "PUT") {
    // PUT /endpoint/<hook name>?id=<endpoint id>: deliveries of that endpoint count under the name.
    endpointHook.set(url.searchParams.get("id") ?? "", name);
    res.writeHead(204).end();
    return;
  }
  if (kind !== "stats") {
    res.writeHead(404).end();
    return;
  }
  const { ids: _ids, arrivals, ...shown } = statsOf(name);
  const from = url.searchParams.get("arrivals_from");
  const body: HookStats = { ...shown, arrivals: from === null ? [] : arrivals.slice(Number(from)) };
  res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
});
stats.listen(0, "127.0.0.1", () => {
  const address = stats.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.stdout.write(`READY ${JSON.stringify({ url: receiver.url, stats: `http://127.0.0.1:${port}` })}\n`);
});

function stop(): void {
  stats.close();
  void receiver.close().finally(() => process.exit(0));
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
