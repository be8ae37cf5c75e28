// The audit verifier (scripts/audit-verify/verify.ts) against an archive served by an in-test
// stand-in of the archive API (the network boundary): segments written with encodeSegment,
// checkpoints signed with signNote and a test key, exactly as the sealer writes them. Each
// tamper of issue 13 §2 is one test that edits the served archive and expects the first problem
// named with its segment and seq; the lead's end-to-end tests do the same against the real R2
// archive.
import { describe, expect, it } from "vitest";
import { type VerifyFetch, verifyAuditLog } from "../../scripts/audit-verify/verify.ts";
import type { AuditEvent } from "../../shared/audit.ts";
import { AppError } from "../../shared/errors.ts";
import {
  type AuditSigningKey,
  canonicalEvent,
  checkpointOrigin,
  encodeSegment,
  formatCheckpoint,
  Frontier,
  loadSigningKeys,
  segmentName,
  signNote,
  toHex,
} from "../../shared/tlog.ts";

const BASE = "https://outlay.test";
const TOKEN = "oat_test_admin_token";
const TENANT = "q7m2kx4wdn5a";
const KEYS = "v2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,v1:HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";
const STRANGER = "v1:ZGlmZmVyZW50LWtleS1mb3ItdGhlLWF0dGFja2VyISE=";
/** seqs 1–3, 4–7, 8–9, 10–14 */
const SIZES = [3, 4, 2, 5];

type Segment = { name: string; first: number; last: number; gz: Uint8Array; checkpoint: string | null };
type Archive = {
  tenantId: string;
  keys: AuditSigningKey[];
  segments: Segment[];
  latest: string | null;
  pageSize: number;
};

async function keysOf(secret: string): Promise<AuditSigningKey[]> {
  const keys = await loadSigningKeys(secret);
  if (keys instanceof AppError) throw keys;
  return keys;
}

function event(tenantId: string, seq: number): AuditEvent {
  return {
    v: 1,
    tenantId,
    seq,
    at: 1796212800000 + seq * 1000,
    type: "call.admitted",
    actor: { kind: "key", id: "r4tqbz2mjw6c" },
    requestId: `req_${seq}`,
    subject: null,
    data: { provider: "openai", model: "gpt-4o-mini", heldNanoUsd: String(seq * 1000), tokens: seq, budgets: [] },
  };
}

async function checkpointNote(tenantId: string, frontier: Frontier, key: AuditSigningKey): Promise<string> {
  const text = formatCheckpoint({
    origin: checkpointOrigin(tenantId),
    size: frontier.size,
    rootHash: frontier.root(),
    time: 1796212800000 + frontier.size,
  });
  return signNote(text, key);
}

/** An archive as the sealer writes it: one segment per size, a checkpoint after each. */
async function sealed(
  options: { tenantId?: string; sizes?: number[]; edit?: (event: AuditEvent) => AuditEvent } = {},
): Promise<Archive> {
  const { tenantId = TENANT, sizes = SIZES, edit = (e: AuditEvent) => e } = options;
  const keys = await keysOf(KEYS);
  const signer = keys[0] as AuditSigningKey;
  const frontier = new Frontier();
  const segments: Segment[] = [];
  let next = 1;
  for (const size of sizes) {
    const events = Array.from({ length: size }, (_, i) => edit(event(tenantId, next + i)));
    const { gz } = await encodeSegment(events, frontier);
    const checkpoint = await checkpointNote(tenantId, frontier, signer);
    segments.push({ name: segmentName(next, next + size - 1), first: next, last: next + size - 1, gz, checkpoint });
    next += size;
  }
  return { tenantId, keys, segments, latest: segments.at(-1)?.checkpoint ?? null, pageSize: 2 };
}

function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** The archive API as the lead's routes answer it (the contract in the brief of issue 13 §2). */
function standIn(archive: Archive): VerifyFetch {
  return async (url, init) => {
    const { pathname, searchParams } = new URL(url);
    if (pathname === "/.well-known/outlay-audit-keys") {
      return json({
        keys: archive.keys.map((key, index) => ({
          name: key.name,
          key_id: toHex(key.keyId),
          algorithm: "Ed25519",
          public_key: btoa(String.fromCharCode(...key.publicKey)),
          vkey: key.vkey,
          signing: index === 0,
        })),
      });
    }
    if (init.headers.authorization !== `Bearer ${TOKEN}`) return json({ error: { code: "invalid_api_key" } }, 401);
    if (pathname === "/api/v1/audit/checkpoint") {
      return archive.latest === null
        ? json({ error: { code: "not_found", message: "Nothing is sealed yet." } }, 404)
        : new Response(archive.latest, { headers: { "content-type": "text/plain; charset=utf-8" } });
    }
    if (pathname === "/api/v1/audit/segments") {
      const from = Number(searchParams.get("from_seq") ?? "1");
      const after = archive.segments.filter((segment) => segment.last >= from);
      const page = after.slice(0, archive.pageSize);
      const more = after.length > page.length;
      return json({
        tenant_id: archive.tenantId,
        origin: checkpointOrigin(archive.tenantId),
        data: page.map((segment) => ({
          name: segment.name,
          first_seq: segment.first,
          last_seq: segment.last,
          events: segment.last - segment.first + 1,
          bytes: segment.gz.length,
          checkpoint: segment.checkpoint,
        })),
        next_from_seq: more ? (page.at(-1)?.last ?? 0) + 1 : null,
      });
    }
    const name = decodeURIComponent(pathname.replace("/api/v1/audit/segments/", ""));
    const found = archive.segments.find((candidate) => candidate.name === name);
    return found
      ? new Response(inChunks(found.gz, 256), { headers: { "content-type": "application/gzip" } })
      : json({ error: { code: "not_found" } }, 404);
  };
}

/** The bytes as a network delivers them: a few hundred at a time. */
function inChunks(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

function verify(archive: Archive, options: { checkpoint?: string; vkeys?: string[] } = {}) {
  return verifyAuditLog({ baseUrl: BASE, token: TOKEN, fetch: standIn(archive), ...options });
}

function segmentAt(archive: Archive, index: number): Segment {
  const found = archive.segments[index];
  if (!found) throw new Error(`no segment ${index}`);
  return found;
}

async function linesOf(gz: Uint8Array): Promise<string[]> {
  const text = await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip"))).text();
  return text.split("\n").slice(0, -1);
}

/** Rewrites a segment's object from edited lines (gzipped as CompressionStream writes it). */
async function rewrite(archive: Archive, index: number, edit: (lines: string[]) => string[]): Promise<void> {
  const target = segmentAt(archive, index);
  const lines = edit(await linesOf(target.gz));
  const raw = new TextEncoder().encode(lines.map((line) => `${line}\n`).join(""));
  target.gz = await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("gzip"))).bytes();
}

function problemOf(result: Awaited<ReturnType<typeof verifyAuditLog>>) {
  return result.ok ? { ok: true } : result.problem;
}

const SEGMENT_2 = segmentName(4, 7);
const SEGMENT_3 = segmentName(8, 9);
const SEGMENT_4 = segmentName(10, 14);

describe("the audit verifier", () => {
  it("verifies an untouched log: tree size, root, segments and events, page by page", async () => {
    const archive = await sealed();
    const frontier = new Frontier();
    for (let seq = 1; seq <= 14; seq++) frontier.append(new TextEncoder().encode(canonicalEvent(event(TENANT, seq))));
    const result = await verify(archive);
    expect(result).toEqual({
      ok: true,
      treeSize: 14,
      rootHash: btoa(String.fromCharCode(...frontier.root())),
      segments: 4,
      events: 14,
      notices: [],
    });
  });

  it("verifies with pinned keys instead of the published list, and an older checkpoint the log extends", async () => {
    const archive = await sealed();
    const kept = segmentAt(archive, 1).checkpoint ?? "";
    const result = await verify(archive, { checkpoint: kept, vkeys: archive.keys.map((key) => key.vkey) });
    expect(result.ok && [result.treeSize, result.segments]).toEqual([14, 4]);
  });

  it("verifies an empty archive (nothing sealed yet) as the empty tree", async () => {
    const archive = await sealed({ sizes: [] });
    const result = await verify(archive);
    expect(result.ok && [result.treeSize, result.segments, result.rootHash]).toEqual([
      0,
      0,
      "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
    ]);
  });

  it("verifies up to the latest checkpoint it read and notes the segments sealed after it", async () => {
    const results = [];
    for (const pageSize of [2, 10]) {
      const archive = await sealed();
      archive.latest = segmentAt(archive, 1).checkpoint;
      archive.pageSize = pageSize;
      const result = await verify(archive);
      results.push(result.ok && [result.treeSize, result.segments, result.notices]);
    }
    const notice =
      "segments after seq 7 were sealed after the latest checkpoint was read and are not verified by this run";
    expect(results).toEqual([
      [7, 2, [notice]],
      [7, 2, [notice]],
    ]);
  });

  it("notes a segment whose own checkpoint is missing, and still verifies through the later ones", async () => {
    const archive = await sealed();
    segmentAt(archive, 1).checkpoint = null;
    const result = await verify(archive);
    expect(result.ok && result.notices.length).toBe(1);
  });
});

describe("the audit verifier detects tampering", () => {
  it("a flipped byte in a gzip object: in its compressed content, its trailer or its header", async () => {
    const places = [0.25, 0.5, 0.75, -5, -2, 4, 9];
    const problems = [];
    for (const at of places) {
      const archive = await sealed();
      const gz = segmentAt(archive, 1).gz;
      const index = at < 0 ? gz.length + at : at < 1 ? Math.floor(gz.length * at) : at;
      gz[index] = (gz[index] ?? 0) ^ 0x04;
      problems.push(problemOf(await verify(archive)));
    }
    expect(problems).toEqual(
      places.map(() => ({
        message: expect.stringContaining("the segment is not a whole gzip NDJSON object"),
        segment: SEGMENT_2,
        seq: expect.toBeOneOf([4, 5, 6, 7, 8]),
      })),
    );
  });

  it("a flipped byte deep in a large segment, where the damaged stream still inflates to lines", async () => {
    const places = [0.3, 0.4, 0.5, 0.6, 0.7];
    const problems = [];
    for (const at of places) {
      const archive = await sealed({ sizes: [3, 200] });
      const gz = segmentAt(archive, 1).gz;
      const index = Math.floor(gz.length * at);
      gz[index] = (gz[index] ?? 0) ^ 0x10;
      const problem = problemOf(await verify(archive));
      problems.push("message" in problem ? problem.message.slice(0, 45) : "verified");
    }
    expect(problems).toEqual(places.map(() => "the segment is not a whole gzip NDJSON object"));
  });

  it("a segment holding more events than its name says", async () => {
    const archive = await sealed();
    const next = (await linesOf(segmentAt(archive, 2).gz))[0] ?? "";
    await rewrite(archive, 1, (lines) => [...lines, next]);
    expect(problemOf(await verify(archive))).toEqual({
      message: "the segment holds more events than its name says",
      segment: SEGMENT_2,
      seq: 8,
    });
  });

  it("a changed field that leaves valid, canonical JSON", async () => {
    const archive = await sealed();
    await rewrite(archive, 1, (lines) => lines.map((line) => line.replace('"tokens":5', '"tokens":50')));
    expect(problemOf(await verify(archive))).toEqual({
      message: "the events differ from what the segment's checkpoint signed",
      segment: SEGMENT_2,
    });
  });

  it("a changed field in the last segment, whose checkpoint is the latest", async () => {
    const archive = await sealed();
    await rewrite(archive, 3, (lines) =>
      lines.map((line) => line.replace('"model":"gpt-4o-mini"', '"model":"gpt-4o"')),
    );
    expect(problemOf(await verify(archive))).toEqual({
      message: "the events differ from what the latest checkpoint signed (root at size 14)",
      segment: SEGMENT_4,
    });
  });

  it("a line that is JSON but not canonical", async () => {
    const archive = await sealed();
    await rewrite(archive, 1, (lines) =>
      lines.map((line, i) => (i === 2 ? line.replace('{"actor"', '{ "actor"') : line)),
    );
    expect(problemOf(await verify(archive))).toEqual({
      message: "a line is not canonical JSON (RFC 8785)",
      segment: SEGMENT_2,
      seq: 6,
    });
  });

  it("a line that is not JSON, and an event of another tenant", async () => {
    const broken = await sealed();
    await rewrite(broken, 2, (lines) => [lines[0] ?? "", "{"]);
    const foreign = await sealed();
    await rewrite(foreign, 0, (lines) =>
      lines.map((line) => line.replace(`"tenantId":"${TENANT}"`, '"tenantId":"b7m2kx4wdn5a"')),
    );
    expect([problemOf(await verify(broken)), problemOf(await verify(foreign))]).toEqual([
      { message: "a line is not JSON", segment: SEGMENT_3, seq: 9 },
      { message: "an event belongs to another tenant", segment: segmentName(1, 3), seq: 1 },
    ]);
  });

  it("a deleted segment in the middle", async () => {
    const archive = await sealed();
    archive.segments.splice(1, 1);
    expect(problemOf(await verify(archive))).toEqual({
      message: "seqs 4–7 are in no segment (a segment was deleted)",
      segment: SEGMENT_3,
      seq: 4,
    });
  });

  it("a deleted last segment (the latest checkpoint still covers it)", async () => {
    const archive = await sealed();
    archive.segments.pop();
    expect(problemOf(await verify(archive))).toEqual({
      message: "the log ends at seq 9 but the latest checkpoint covers 14 events (truncated tail)",
      segment: SEGMENT_3,
      seq: 10,
    });
  });

  it("a segment listed but whose object is gone", async () => {
    const archive = await sealed();
    segmentAt(archive, 2).name = segmentName(8, 9);
    const served = standIn(archive);
    const missing: VerifyFetch = (url, init) =>
      url.endsWith(SEGMENT_3) ? Promise.resolve(new Response("{}", { status: 404 })) : served(url, init);
    const result = await verifyAuditLog({ baseUrl: BASE, token: TOKEN, fetch: missing });
    expect(problemOf(result)).toEqual({
      message: expect.stringContaining("could not be downloaded"),
      segment: SEGMENT_3,
      seq: 8,
    });
  });

  it("a deleted event", async () => {
    const archive = await sealed();
    await rewrite(archive, 1, (lines) => lines.filter((_, i) => i !== 1));
    expect(problemOf(await verify(archive))).toEqual({
      message: "expected seq 5, found 6 (an event is missing or out of order)",
      segment: SEGMENT_2,
      seq: 5,
    });
  });

  it("a deleted last event of a segment", async () => {
    const archive = await sealed();
    await rewrite(archive, 1, (lines) => lines.slice(0, -1));
    expect(problemOf(await verify(archive))).toEqual({
      message: "the segment ends at seq 6, its name says 7",
      segment: SEGMENT_2,
      seq: 7,
    });
  });

  it("a duplicated event", async () => {
    const archive = await sealed();
    await rewrite(archive, 1, (lines) => lines.flatMap((line, i) => (i === 1 ? [line, line] : [line])));
    expect(problemOf(await verify(archive))).toEqual({
      message: "expected seq 6, found 5 (an event is repeated or out of order)",
      segment: SEGMENT_2,
      seq: 6,
    });
  });

  it("two events swapped", async () => {
    const archive = await sealed();
    await rewrite(archive, 3, (lines) => [lines[0] ?? "", lines[2] ?? "", lines[1] ?? "", ...lines.slice(3)]);
    expect(problemOf(await verify(archive))).toEqual({
      message: "expected seq 11, found 12 (an event is missing or out of order)",
      segment: SEGMENT_4,
      seq: 11,
    });
  });

  it("a truncated tail: the last segment cut short and renamed to fit, its checkpoint gone", async () => {
    const archive = await sealed();
    await rewrite(archive, 3, (lines) => lines.slice(0, 3));
    Object.assign(segmentAt(archive, 3), { name: segmentName(10, 12), last: 12, checkpoint: null });
    expect(problemOf(await verify(archive))).toEqual({
      message: "the log ends at seq 12 but the latest checkpoint covers 14 events (truncated tail)",
      segment: segmentName(10, 12),
      seq: 13,
    });
  });

  it("a truncated gzip object", async () => {
    const archive = await sealed();
    const last = segmentAt(archive, 3);
    last.gz = last.gz.slice(0, last.gz.length - 10);
    expect(problemOf(await verify(archive))).toEqual({
      message: expect.stringContaining("not a whole gzip NDJSON object"),
      segment: SEGMENT_4,
      seq: expect.toBeOneOf([10, 11, 12, 13, 14, 15]),
    });
  });

  it("a forged checkpoint: an edited root under the real signature", async () => {
    const archive = await sealed();
    const lines = (archive.latest ?? "").split("\n");
    lines[2] = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
    archive.latest = lines.join("\n");
    expect(problemOf(await verify(archive))).toEqual({
      message: expect.stringMatching(
        /^the latest checkpoint does not verify: the signature of outlay-audit-v2\+[0-9a-f]{8} does not verify$/,
      ),
    });
  });

  it("a forged checkpoint signed by an unknown key, even when that key is published, if keys are pinned", async () => {
    const archive = await sealed();
    const [stranger] = await keysOf(STRANGER);
    if (!stranger) throw new Error("no stranger key");
    const frontier = new Frontier();
    for (let seq = 1; seq <= 9; seq++) frontier.append(new TextEncoder().encode(canonicalEvent(event(TENANT, seq))));
    archive.latest = await checkpointNote(TENANT, frontier, stranger);
    archive.segments.pop();
    const pinned = archive.keys.map((key) => key.vkey);
    const unknown = problemOf(await verify(archive));
    archive.keys = [...archive.keys.filter((key) => key.version !== "v1"), stranger];
    const published = problemOf(await verify(archive, { vkeys: pinned }));
    expect([unknown, published]).toEqual([
      { message: "the latest checkpoint does not verify: it is not signed by a known key" },
      { message: "the latest checkpoint does not verify: it is not signed by a known key" },
    ]);
  });

  it("a checkpoint of another tenant", async () => {
    const archive = await sealed();
    const other = await sealed({ tenantId: "b7m2kx4wdn5a" });
    archive.latest = other.latest;
    expect(problemOf(await verify(archive))).toEqual({
      message: `the latest checkpoint is for another log (outlay/audit/b7m2kx4wdn5a, not outlay/audit/${TENANT})`,
    });
  });

  it("an older checkpoint that the current log does not extend (rewritten history)", async () => {
    const original = await sealed();
    const kept = segmentAt(original, 1).checkpoint ?? "";
    const rewritten = await sealed({ edit: (e) => (e.seq === 2 ? { ...e, at: e.at + 1 } : e) });
    const larger = await sealed({ sizes: [3, 4] });
    expect([
      problemOf(await verify(rewritten, { checkpoint: kept })),
      problemOf(await verify(larger, { checkpoint: segmentAt(original, 3).checkpoint ?? "" })),
    ]).toEqual([
      {
        message:
          "the log does not extend the kept checkpoint: its first 7 events are not the ones that checkpoint signed (history was rewritten)",
        segment: SEGMENT_2,
      },
      { message: "the kept checkpoint covers 14 events but the latest only 7: the log was cut back or rewritten" },
    ]);
  });

  it("a wrong token is answered by the API, and the verifier says so without repeating it", async () => {
    const archive = await sealed();
    const result = await verifyAuditLog({ baseUrl: BASE, token: "oat_wrong", fetch: standIn(archive) });
    expect(problemOf(result)).toEqual({ message: "GET /api/v1/audit/checkpoint answered HTTP 401" });
  });
});
