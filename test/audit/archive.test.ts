// The signed archive (docs/audit.md, "The archive"): the audit consumer hands every event to the
// tenant's AuditArchiver, which seals runs without a gap into gzip NDJSON segments in R2 (never
// overwritten) and signs a checkpoint at each segment's end; the API serves them to the token's
// own organisation only, and the public keys at /.well-known/outlay-audit-keys.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../shared/audit.ts";
import { newId } from "../../shared/ids.ts";
import {
  canonicalEvent,
  checkpointOrigin,
  Frontier,
  openNote,
  parseCheckpoint,
  parseVkey,
  readSegmentLines,
  toHex,
  type AuditVerifierKey,
} from "../../shared/tlog.ts";
import { toBase64 } from "../../shared/encoding.ts";
import { AppError } from "../../shared/errors.ts";
import { archiverFor, AuditArchiver } from "../../workers/archive/index.ts";
import { segmentKey } from "../../workers/archive/layout.ts";
import { createAdminToken } from "../../workers/auth/index.ts";
import { ensureTenant } from "../../workers/store/index.ts";
import { apiCall, newTenant, worker, type Tenant } from "../helpers.ts";

type Listing = {
  tenant_id: string;
  origin: string;
  data: {
    name: string;
    first_seq: number;
    last_seq: number;
    events: number;
    bytes: number;
    checkpoint: string | null;
  }[];
  next_from_seq: number | null;
};

async function keys(): Promise<AuditVerifierKey[]> {
  const res = await worker("/.well-known/outlay-audit-keys");
  expect(res.status).toBe(200);
  const body = (await res.json()) as { keys: { vkey: string }[] };
  return body.keys.map((k) => {
    const key = parseVkey(k.vkey);
    if (key instanceof AppError) throw new Error(key.message);
    return key;
  });
}

/** Waits until the archive's latest checkpoint covers at least `size` events; returns it. */
async function sealedAtLeast(t: Tenant, size: number): Promise<string> {
  const until = Date.now() + 15_000;
  for (;;) {
    const res = await t.api("/audit/checkpoint");
    const text = await res.text();
    const cp = res.status === 200 ? parseCheckpoint(text.slice(0, text.lastIndexOf("\n\n") + 1)) : null;
    if (cp && !(cp instanceof AppError) && cp.size >= size) return text;
    if (Date.now() > until) throw new Error(`archive of ${t.tenantId} never reached ${size}: ${res.status} ${text}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function event(tenantId: string, seq: number): AuditEvent {
  return {
    v: 1,
    tenantId,
    seq,
    at: 1_796_200_000_000 + seq,
    type: "settings.updated",
    actor: { kind: "system" },
    requestId: null,
    subject: null,
    data: { n: seq },
  };
}

describe("the archive", () => {
  it("seals the trail into signed segments whose hashes give the checkpoint's root", async () => {
    const t = await newTenant({ providers: false });
    for (const name of ["a", "b", "c"]) {
      expect(
        (await t.api("/budgets", { method: "POST", json: { name, window: "daily", limit_usd: "5" } })).status,
      ).toBe(201);
    }
    const note = await sealedAtLeast(t, 5);
    const verifiers = await keys();
    const opened = await openNote(note, verifiers);
    expect(opened.ok).toBe(true);
    const latest = parseCheckpoint(opened.ok ? opened.text : "");
    if (latest instanceof AppError) throw new Error(latest.message);
    expect(latest.origin).toBe(checkpointOrigin(t.tenantId));

    const listing = (await (await t.api("/audit/segments?limit=100")).json()) as Listing;
    expect(listing.tenant_id).toBe(t.tenantId);
    expect(listing.origin).toBe(checkpointOrigin(t.tenantId));
    const frontier = new Frontier();
    const types: string[] = [];
    for (const segment of listing.data) {
      expect(segment.first_seq).toBe(frontier.size + 1);
      const res = await t.api(`/audit/segments/${segment.name}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/gzip");
      const bytes = new Uint8Array(await res.arrayBuffer());
      expect(bytes.length).toBe(segment.bytes);
      for await (const line of readSegmentLines(new Blob([bytes]).stream())) {
        const e = JSON.parse(line) as AuditEvent;
        expect(e.seq).toBe(frontier.size + 1);
        expect(e.tenantId).toBe(t.tenantId);
        types.push(e.type);
        frontier.append(new TextEncoder().encode(line));
      }
      expect(frontier.size).toBe(segment.last_seq);
      const cp = await openNote(segment.checkpoint ?? "", verifiers);
      const parsed = parseCheckpoint(cp.ok ? cp.text : "");
      if (parsed instanceof AppError) throw new Error(parsed.message);
      expect([parsed.size, toBase64(parsed.rootHash)]).toEqual([segment.last_seq, toBase64(frontier.root())]);
    }
    expect(frontier.size).toBeGreaterThanOrEqual(latest.size);
    expect(types).toEqual(expect.arrayContaining(["key.created", "rule.created", "access.api"]));
  });

  it("never seals past a missing seq, ignores repeats, and refuses another tenant's events", async () => {
    const tenantId = newId();
    const archiver = archiverFor(env, tenantId);
    expect(
      await archiver.append({ tenantId, events: [event(tenantId, 2), event(tenantId, 1), event(tenantId, 4)] }),
    ).toEqual({ accepted: 3 });
    await archiver.sealNow();
    expect(await archiver.status()).toEqual({ treeSize: 2, pending: 1, nextSeq: 3, waitingForNext: true });
    await archiver.append({ tenantId, events: [event(tenantId, 1), event(tenantId, 3), event(tenantId, 3)] });
    await archiver.sealNow();
    expect(await archiver.status()).toEqual({ treeSize: 4, pending: 0, nextSeq: 5, waitingForNext: false });
    const segments = await archiver.segments({ fromSeq: 1, limit: 10 });
    expect(segments.map((s) => [s.firstSeq, s.lastSeq, s.events])).toEqual([
      [1, 2, 2],
      [3, 4, 2],
    ]);
    const other = newId();
    expect(await archiver.append({ tenantId, events: [event(tenantId, 5), event(other, 6)] })).toEqual({
      refused: "an event of another shape or organisation",
    });
    expect(await archiver.append({ tenantId: other, events: [event(other, 5)] })).toEqual({
      refused: "this archive belongs to another organisation",
    });
    expect(await archiver.status()).toEqual({ treeSize: 4, pending: 0, nextSeq: 5, waitingForNext: false });
  });

  describe("events waiting to be sealed, kept as runs", () => {
    const stub = (tenantId: string) => env.AUDIT_ARCHIVER.get(env.AUDIT_ARCHIVER.idFromName(tenantId));
    const runsOf = (tenantId: string) =>
      runInDurableObject(stub(tenantId), (_i, state) =>
        state.storage.sql
          .exec<{ first_seq: number; last_seq: number }>("SELECT first_seq, last_seq FROM runs ORDER BY first_seq")
          .toArray()
          .map((r) => [r.first_seq, r.last_seq]),
      );
    /** Every sealed event, segment by segment, read back from R2: [seq, data.n]. */
    async function sealedLines(tenantId: string): Promise<number[][]> {
      const out: number[][] = [];
      for (const segment of await archiverFor(env, tenantId).segments({ fromSeq: 1, limit: 100 })) {
        const object = await env.AUDIT_ARCHIVE.get(segmentKey(tenantId, segment.firstSeq, segment.lastSeq));
        if (!object) throw new Error(`segment ${segment.firstSeq}-${segment.lastSeq} missing`);
        for await (const line of readSegmentLines(object.body)) {
          const e = JSON.parse(line) as AuditEvent;
          out.push([e.seq, (e.data as { n: number }).n]);
        }
      }
      return out;
    }
    const events = (tenantId: string, from: number, to: number, n?: (seq: number) => number) =>
      Array.from({ length: to - from + 1 }, (_, i) => {
        const e = event(tenantId, from + i);
        return n ? { ...e, data: { n: n(e.seq) } } : e;
      });

    it("one row per stretch of consecutive seqs; a repeat keeps the first copy; sealed in order", async () => {
      const tenantId = newId();
      const archiver = archiverFor(env, tenantId);
      await archiver.append({ tenantId, events: [...events(tenantId, 7, 9), ...events(tenantId, 1, 3)] });
      expect(await runsOf(tenantId)).toEqual([
        [1, 3],
        [7, 9],
      ]);
      // Repeats of 2 and 8 with other content, and the missing 4-6: a row for the new stretch only.
      await archiver.append({
        tenantId,
        events: [...events(tenantId, 4, 6), ...events(tenantId, 8, 8, () => -8), ...events(tenantId, 2, 2, () => -2)],
      });
      expect(await runsOf(tenantId)).toEqual([
        [1, 3],
        [4, 6],
        [7, 9],
      ]);
      expect(await archiver.status()).toEqual({ treeSize: 0, pending: 9, nextSeq: 1, waitingForNext: false });
      await archiver.sealNow();
      expect(await runsOf(tenantId)).toEqual([]);
      expect(await sealedLines(tenantId)).toEqual(Array.from({ length: 9 }, (_, i) => [i + 1, i + 1]));
    });

    it("a run longer than a segment is sealed in part; its rest waits as a run of its own", async () => {
      const tenantId = newId();
      const archiver = archiverFor(env, tenantId);
      // 5,500 at once: a full segment (5,000) is sealed at once, 500 wait (under the 1,000 that seal at once).
      await archiver.append({ tenantId, events: events(tenantId, 1, 5_500) });
      expect(await archiver.status()).toEqual({ treeSize: 5_000, pending: 500, nextSeq: 5_001, waitingForNext: false });
      expect(await runsOf(tenantId)).toEqual([[5_001, 5_500]]);
      await archiver.append({ tenantId, events: events(tenantId, 5_501, 6_300) });
      expect(await archiver.status()).toMatchObject({ treeSize: 6_300, pending: 0 });
      const segments = await archiver.segments({ fromSeq: 1, limit: 10 });
      expect(segments.map((s) => [s.firstSeq, s.lastSeq])).toEqual([
        [1, 5_000],
        [5_001, 6_300],
      ]);
      expect(await sealedLines(tenantId)).toEqual(Array.from({ length: 6_300 }, (_, i) => [i + 1, i + 1]));
    });

    it("events an older archiver kept in `pending`, one row each, become runs and are sealed", async () => {
      const tenantId = newId();
      const archiver = archiverFor(env, tenantId);
      await archiver.append({ tenantId, events: events(tenantId, 1, 2) });
      const status = await runInDurableObject(stub(tenantId), async (_i, state) => {
        const sql = state.storage.sql;
        sql.exec(`DELETE FROM runs;
          CREATE TABLE pending (seq INTEGER PRIMARY KEY, line TEXT NOT NULL, received_at INTEGER NOT NULL);`);
        for (const e of events(tenantId, 1, 3))
          sql.exec("INSERT INTO pending (seq, line, received_at) VALUES (?, ?, ?)", e.seq, canonicalEvent(e), 0);
        const reopened = new AuditArchiver(state, env);
        const tables = sql
          .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('pending', 'runs')")
          .toArray()
          .map((t) => t.name);
        await reopened.sealNow();
        return { tables, status: reopened.status() };
      });
      expect(status).toEqual({
        tables: ["runs"],
        status: { treeSize: 3, pending: 0, nextSeq: 4, waitingForNext: false },
      });
      expect(await sealedLines(tenantId)).toEqual([
        [1, 1],
        [2, 2],
        [3, 3],
      ]);
    });
  });

  it("never overwrites an object: R2's create-only put refuses a second write", async () => {
    const key = `audit/${newId()}/segments/probe`;
    const once = { onlyIf: new Headers({ "if-none-match": "*" }) };
    expect(await env.AUDIT_ARCHIVE.put(key, "first", once)).not.toBeNull();
    expect(await env.AUDIT_ARCHIVE.put(key, "second", once)).toBeNull();
    expect(await (await env.AUDIT_ARCHIVE.get(key))?.text()).toBe("first");
  });
});

describe("archive routes", () => {
  it("lists the signing keys, the retired one included, with key IDs that match their names", async () => {
    const res = await worker("/.well-known/outlay-audit-keys");
    const body = (await res.json()) as {
      keys: { name: string; key_id: string; algorithm: string; public_key: string; vkey: string; signing: boolean }[];
    };
    expect(body.keys.map((k) => [k.name, k.algorithm, k.signing])).toEqual([
      ["outlay-audit-v2", "Ed25519", true],
      ["outlay-audit-v1", "Ed25519", false],
    ]);
    for (const k of body.keys) {
      const parsed = parseVkey(k.vkey);
      if (parsed instanceof AppError) throw new Error(parsed.message);
      expect([parsed.name, toHex(parsed.keyId), toBase64(parsed.publicKey)]).toEqual([k.name, k.key_id, k.public_key]);
    }
    expect(JSON.stringify(body)).not.toContain("ICEiIyQl");
  });

  it("answers 404 before anything is sealed, and refuses bad paging", async () => {
    // A tenant made straight in D1: no event has been written for it yet.
    const tenantId = newId();
    await ensureTenant(env.DB, tenantId, "Quiet", Date.now());
    const { token } = await createAdminToken(env, tenantId, { name: "t", role: "admin", createdBy: null });
    const t = { api: (path: string) => apiCall(token, path) };
    const fresh = await t.api("/audit/checkpoint");
    expect([fresh.status, ((await fresh.json()) as { error: { code: string } }).error.code]).toEqual([
      404,
      "not_found",
    ]);
    for (const query of ["from_seq=-1", "from_seq=x", "limit=0", "limit=101", "from_seq=1e3"]) {
      const res = await t.api(`/audit/segments?${query}`);
      expect(res.status).toBe(400);
    }
  });

  it("serves each organisation its own archive only, whatever the segment name says", async () => {
    const a = await newTenant({ providers: false });
    const b = await newTenant({ providers: false });
    await sealedAtLeast(a, 2);
    await sealedAtLeast(b, 2);
    const listA = (await (await a.api("/audit/segments")).json()) as Listing;
    const name = listA.data[0]?.name ?? "";
    expect(name).toMatch(/^\d{20}-\d{20}\.ndjson\.gz$/);
    // b asks for a's segment by its name: the name is looked up under b's own prefix.
    const asB = await b.api(`/audit/segments/${name}`);
    const bytesA = new Uint8Array(await (await a.api(`/audit/segments/${name}`)).arrayBuffer());
    // Either b has no segment of that name (404) or it gets its own, never a's bytes.
    const bytesB = asB.status === 200 ? new Uint8Array(await asB.arrayBuffer()) : null;
    expect([200, 404]).toContain(asB.status);
    expect(bytesB).not.toEqual(bytesA);
    const listB = (await (await b.api("/audit/segments")).json()) as Listing;
    expect(listB.tenant_id).toBe(b.tenantId);
    expect(listB.data.every((s) => s.checkpoint?.startsWith(`${checkpointOrigin(b.tenantId)}\n`))).toBe(true);
    const tricks = [
      `..%2F..%2F${a.tenantId}%2Fsegments%2F${name}`,
      `..%5C${a.tenantId}%5C${name}`,
      `%2e%2e/${a.tenantId}/segments/${name}`,
      `${name}%00`,
      name.replace(".ndjson.gz", ""),
      "00000000000000000000-00000000000000000001.ndjson.gz",
      `${"9".repeat(20)}-${"9".repeat(20)}.ndjson.gz`,
    ];
    for (const trick of tricks) {
      const res = await b.api(`/audit/segments/${trick}`);
      expect([trick, res.status]).toEqual([trick, 404]);
    }
    const noToken = await worker(`/api/v1/audit/segments/${name}`);
    expect(noToken.status).toBe(401);
  });
});
