// The signed archive (docs/audit.md, "The archive"): the audit consumer hands every event to the
// tenant's AuditArchiver, which seals runs without a gap into gzip NDJSON segments in R2 (never
// overwritten) and signs a checkpoint at each segment's end; the API serves them to the token's
// own organisation only, and the public keys at /.well-known/outlay-audit-keys.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../shared/audit.ts";
import { newId } from "../../shared/ids.ts";
import {
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
import { archiverFor } from "../../workers/archive/index.ts";
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
