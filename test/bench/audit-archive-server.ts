// Child process of the audit part: a generated audit archive of BENCH_VERIFY_EVENTS events
// (default 1,000,000) in segments of 5,000, made with shared/tlog.ts's own pieces (encodeSegment,
// Frontier, formatCheckpoint, signNote with a freshly generated Ed25519 key, one checkpoint per
// segment, as the AuditArchiver writes them) and served over loopback HTTP with the four routes
// of the archive API that the verifier reads (docs/audit.md, scripts/audit-verify/verify.ts):
//   GET /.well-known/outlay-audit-keys
//   GET /api/v1/audit/checkpoint              (Bearer token)
//   GET /api/v1/audit/segments?from_seq=&limit=
//   GET /api/v1/audit/segments/{name}
// The admin token it accepts comes from BENCH_ARCHIVE_TOKEN (made by the orchestrator; never printed).
// Prints `READY {"url", "events", "segments", "gzBytes", "rawBytes", "rootHash", "generateMs"}`.
import { createServer, type ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { AuditEvent } from "../../shared/audit.ts";
import { toBase64 } from "../../shared/encoding.ts";
import { AppError } from "../../shared/errors.ts";
import { newId } from "../../shared/ids.ts";
import {
  checkpointOrigin,
  encodeSegment,
  formatCheckpoint,
  Frontier,
  loadSigningKeys,
  segmentName,
  signNote,
  toHex,
} from "../../shared/tlog.ts";

export const SEGMENT_EVENTS = 5_000;
const PAGE_MAX = 100;

type Segment = { name: string; first: number; last: number; gz: Uint8Array; checkpoint: string };

/** A call.admitted event as the ledger writes it (docs/audit.md), with varying ids and numbers. */
function eventAt(tenantId: string, keyIds: readonly string[], seq: number, t0: number): AuditEvent {
  return {
    v: 1,
    tenantId,
    seq,
    at: t0 + seq * 37,
    type: "call.admitted",
    actor: { kind: "key", id: keyIds[seq % keyIds.length] ?? "" },
    requestId: `req_${seq.toString(36).padStart(21, "0")}`,
    subject: null,
    data: {
      provider: "openai",
      model: seq % 3 === 0 ? "gpt-4o" : "gpt-4o-mini",
      heldNanoUsd: String(2_880_000 + (seq % 997) * 1_000),
      tokens: 37 + (seq % 400),
      budgets: seq % 2 === 0 ? ["b7ne4xq2mk3a"] : [],
    },
  };
}

async function generate(total: number) {
  const began = performance.now();
  const seed = toBase64(crypto.getRandomValues(new Uint8Array(32)));
  const keys = await loadSigningKeys(`v1:${seed}`);
  if (keys instanceof AppError || !keys[0]) throw new Error("could not make a signing key");
  const signer = keys[0];
  const tenantId = newId();
  const keyIds = Array.from({ length: 20 }, () => newId());
  const frontier = new Frontier();
  const segments: Segment[] = [];
  let rawBytes = 0;
  const t0 = Date.UTC(2026, 10, 1);
  for (let first = 1; first <= total; first += SEGMENT_EVENTS) {
    const last = Math.min(total, first + SEGMENT_EVENTS - 1);
    const events: AuditEvent[] = [];
    for (let seq = first; seq <= last; seq++) events.push(eventAt(tenantId, keyIds, seq, t0));
    const { gz, raw } = await encodeSegment(events, frontier);
    rawBytes += raw;
    const text = formatCheckpoint({
      origin: checkpointOrigin(tenantId),
      size: last,
      rootHash: frontier.root(),
      time: t0 + last * 37,
    });
    segments.push({ name: segmentName(first, last), first, last, gz, checkpoint: await signNote(text, signer) });
  }
  return { tenantId, signer, segments, rawBytes, root: frontier.root(), generateMs: performance.now() - began };
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array): void {
  res.writeHead(status, { "content-type": type, "content-length": String(Buffer.byteLength(body)) }).end(body);
}

const total = Number(process.env.BENCH_VERIFY_EVENTS ?? "1000000");
if (!Number.isSafeInteger(total) || total < 1) throw new Error("BENCH_VERIFY_EVENTS must be a whole number ≥ 1");
const token = process.env.BENCH_ARCHIVE_TOKEN ?? "";
if (token.length < 16) throw new Error("BENCH_ARCHIVE_TOKEN (at least 16 characters) is required");
const archive = await generate(total);
const byName = new Map(archive.segments.map((s) => [s.name, s]));
const latest = archive.segments.at(-1)?.checkpoint ?? "";
const { signer } = archive;
const keysBody = JSON.stringify({
  keys: [
    {
      name: signer.name,
      key_id: toHex(signer.keyId),
      algorithm: "Ed25519",
      public_key: toBase64(signer.publicKey),
      vkey: signer.vkey,
      signing: true,
    },
  ],
});

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://archive");
  if (req.method !== "GET") return send(res, 405, "text/plain", "method not allowed");
  if (url.pathname === "/.well-known/outlay-audit-keys") return send(res, 200, "application/json", keysBody);
  if (req.headers.authorization !== `Bearer ${token}`) return send(res, 401, "application/json", '{"error":{}}');
  if (url.pathname === "/api/v1/audit/checkpoint") return send(res, 200, "text/plain; charset=utf-8", latest);
  if (url.pathname === "/api/v1/audit/segments") {
    const from = Number(url.searchParams.get("from_seq") ?? "1");
    const limit = Math.min(PAGE_MAX, Number(url.searchParams.get("limit") ?? String(PAGE_MAX)));
    const after = archive.segments.filter((s) => s.last >= from);
    const shown = after.slice(0, limit);
    const last = shown.at(-1);
    return send(
      res,
      200,
      "application/json",
      JSON.stringify({
        tenant_id: archive.tenantId,
        origin: checkpointOrigin(archive.tenantId),
        data: shown.map((s) => ({
          name: s.name,
          first_seq: s.first,
          last_seq: s.last,
          events: s.last - s.first + 1,
          bytes: s.gz.length,
          checkpoint: s.checkpoint,
        })),
        next_from_seq: after.length > limit && last ? last.last + 1 : null,
      }),
    );
  }
  const segment = url.pathname.startsWith("/api/v1/audit/segments/")
    ? byName.get(decodeURIComponent(url.pathname.slice("/api/v1/audit/segments/".length)))
    : undefined;
  if (segment) return send(res, 200, "application/gzip", segment.gz);
  return send(res, 404, "application/json", '{"error":{}}');
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  const ready = {
    url: `http://127.0.0.1:${port}`,
    events: total,
    segments: archive.segments.length,
    gzBytes: archive.segments.reduce((sum, s) => sum + s.gz.length, 0),
    rawBytes: archive.rawBytes,
    rootHash: toBase64(archive.root),
    generateMs: archive.generateMs,
  };
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
});

const stop = (): void => {
  server.closeAllConnections();
  server.close(() => process.exit(0));
};
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
