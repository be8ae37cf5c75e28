// The verifier (scripts/audit-verify/) against the real archive: segments sealed by the
// AuditArchiver into R2, read through the Worker's API. Each case edits a stored R2 object the
// way someone with access to the bucket could, then runs the verifier, which must fail naming
// the first problem (segment, seq). The valid archive verifies; a checkpoint the customer kept
// earlier verifies against the grown log.
import { env } from "cloudflare:workers";
import { beforeEach, describe, expect, it } from "vitest";
import type { AuditEvent } from "../../shared/audit.ts";
import { newId } from "../../shared/ids.ts";
import { canonicalEvent, readSegmentLines, segmentName } from "../../shared/tlog.ts";
import { verifyAuditLog, type VerifyResult } from "../../scripts/audit-verify/verify.ts";
import { archiverFor } from "../../workers/archive/index.ts";
import { createAdminToken } from "../../workers/auth/index.ts";
import { ensureTenant } from "../../workers/store/index.ts";
import { BASE, newTenant, workerFetch } from "../helpers.ts";

type Archive = { tenantId: string; token: string; names: string[] };

function event(tenantId: string, seq: number): AuditEvent {
  return {
    v: 1,
    tenantId,
    seq,
    at: 1_796_200_000_000 + seq * 1000,
    type: "rule.updated",
    actor: { kind: "admin", id: "c2ntm5xqk7vb" },
    requestId: null,
    subject: `bdg_${seq}`,
    data: { kind: "budget", name: `budget ${seq}` },
  };
}

/** A tenant with no events of its own and three sealed segments: seqs 1–4, 5–8, 9–12. */
async function sealedArchive(): Promise<Archive> {
  const tenantId = newId();
  await ensureTenant(env.DB, tenantId, "Tamper", Date.now());
  const { token } = await createAdminToken(env, tenantId, { name: "verifier", role: "viewer", createdBy: null });
  const archiver = archiverFor(env, tenantId);
  for (const first of [1, 5, 9]) {
    const events = [0, 1, 2, 3].map((i) => event(tenantId, first + i));
    expect(await archiver.append({ tenantId, events })).toEqual({ accepted: 4 });
    await archiver.sealNow();
  }
  return { tenantId, token, names: [segmentName(1, 4), segmentName(5, 8), segmentName(9, 12)] };
}

function verify(a: Archive, more: { checkpoint?: string } = {}): Promise<VerifyResult> {
  return verifyAuditLog({ baseUrl: BASE, token: a.token, fetch: (url, init) => workerFetch(url, init), ...more });
}

const segmentKey = (a: Archive, name: string) => `audit/${a.tenantId}/segments/${name}`;
const checkpointKey = (a: Archive, size: number) => `audit/${a.tenantId}/checkpoints/${String(size).padStart(20, "0")}`;

async function storedBytes(key: string): Promise<Uint8Array> {
  const object = await env.AUDIT_ARCHIVE.get(key);
  if (!object) throw new Error(`no object ${key}`);
  return new Uint8Array(await object.arrayBuffer());
}

async function lines(a: Archive, name: string): Promise<string[]> {
  const out: string[] = [];
  for await (const line of readSegmentLines(new Blob([await storedBytes(segmentKey(a, name))]).stream())) {
    out.push(line);
  }
  return out;
}

/** Rewrites a segment's lines and stores them gzipped over the original, as an intruder would. */
async function rewrite(a: Archive, name: string, edit: (lines: string[]) => string[]): Promise<void> {
  const text = `${edit(await lines(a, name)).join("\n")}\n`;
  const gz = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  await env.AUDIT_ARCHIVE.put(segmentKey(a, name), new Uint8Array(await new Response(gz).arrayBuffer()));
}

function failure(result: VerifyResult): { segment?: string; seq?: number } {
  return { segment: problem(result).segment, seq: problem(result).seq };
}

function problem(result: VerifyResult): { message: string; segment?: string; seq?: number } {
  if (result.ok) throw new Error(`verified a tampered archive: tree size ${result.treeSize}`);
  return result.problem;
}

let a: Archive;
beforeEach(async () => {
  a = await sealedArchive();
});

describe("the verifier on the real archive", () => {
  it("verifies the archive as sealed", async () => {
    const result = await verify(a);
    expect(result).toMatchObject({ ok: true, treeSize: 12, segments: 3, events: 12 });
  });

  it("verifies a tenant's archive made through the whole path (ledger, queue, consumer, archiver)", async () => {
    const t = await newTenant({ providers: false });
    const until = Date.now() + 15_000;
    while ((await t.api("/audit/checkpoint")).status !== 200 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const result = await verifyAuditLog({
      baseUrl: BASE,
      token: t.adminToken,
      fetch: (url, init) => workerFetch(url, init),
    });
    expect(result.ok).toBe(true);
  });

  it("proves the log extends a checkpoint the customer kept earlier", async () => {
    const kept = await (await env.AUDIT_ARCHIVE.get(checkpointKey(a, 4)))?.text();
    expect(await verify(a, { checkpoint: kept })).toMatchObject({ ok: true, treeSize: 12 });
  });

  it("names the segment of a flipped byte", async () => {
    const key = segmentKey(a, a.names[1] ?? "");
    const bytes = await storedBytes(key);
    bytes[Math.floor(bytes.length / 2)] = (bytes[Math.floor(bytes.length / 2)] ?? 0) ^ 0x01;
    await env.AUDIT_ARCHIVE.put(key, bytes);
    expect(failure(await verify(a)).segment).toBe(a.names[1]);
  });

  it("names the segment of a changed field, even re-gzipped and canonical", async () => {
    await rewrite(a, a.names[1] ?? "", (ls) =>
      ls.map((l) => {
        const e = JSON.parse(l) as AuditEvent;
        return e.seq === 6 ? canonicalEvent({ ...e, data: { ...e.data, name: "budget renamed" } }) : l;
      }),
    );
    expect(failure(await verify(a)).segment).toBe(a.names[1]);
  });

  it("names a deleted segment, in the middle and at the end", async () => {
    await env.AUDIT_ARCHIVE.delete(segmentKey(a, a.names[1] ?? ""));
    expect(failure(await verify(a)).segment).toBe(a.names[1]);
    const b = await sealedArchive();
    await env.AUDIT_ARCHIVE.delete(segmentKey(b, b.names[2] ?? ""));
    expect(failure(await verify(b)).segment).toBe(b.names[2]);
  });

  // The seq named is the one the chain expected at the first break.
  it("names the seq of a deleted event, a duplicated one and two swapped", async () => {
    await rewrite(a, a.names[1] ?? "", (ls) => ls.filter((l) => (JSON.parse(l) as AuditEvent).seq !== 6));
    expect(failure(await verify(a))).toEqual({ segment: a.names[1], seq: 6 });

    const b = await sealedArchive();
    await rewrite(b, b.names[1] ?? "", (ls) => [ls[0] ?? "", ls[1] ?? "", ls[1] ?? "", ...ls.slice(2)]);
    expect(failure(await verify(b))).toEqual({ segment: b.names[1], seq: 7 });

    const c = await sealedArchive();
    await rewrite(c, c.names[1] ?? "", (ls) => [ls[0] ?? "", ls[2] ?? "", ls[1] ?? "", ls[3] ?? ""]);
    expect(failure(await verify(c))).toEqual({ segment: c.names[1], seq: 6 });
  });

  it("names a truncated tail", async () => {
    await rewrite(a, a.names[2] ?? "", (ls) => ls.slice(0, 2));
    expect(failure(await verify(a)).segment).toBe(a.names[2]);
    const b = await sealedArchive();
    const key = segmentKey(b, b.names[2] ?? "");
    const bytes = await storedBytes(key);
    await env.AUDIT_ARCHIVE.put(key, bytes.slice(0, bytes.length - 12));
    expect(failure(await verify(b)).segment).toBe(b.names[2]);
  });

  it("refuses a forged checkpoint", async () => {
    const key = checkpointKey(a, 12);
    const note = (await (await env.AUDIT_ARCHIVE.get(key))?.text()) ?? "";
    const parts = note.split("\n");
    // Another root, the signature left as it was.
    parts[2] = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    await env.AUDIT_ARCHIVE.put(key, parts.join("\n"));
    expect(problem(await verify(a)).message).toMatch(/latest checkpoint does not verify/);
  });

  it("refuses a checkpoint of another organisation", async () => {
    const other = await sealedArchive();
    const foreign = (await (await env.AUDIT_ARCHIVE.get(checkpointKey(other, 12)))?.text()) ?? "";
    expect(foreign).toContain(`outlay/audit/${other.tenantId}\n`);
    await env.AUDIT_ARCHIVE.put(checkpointKey(a, 12), foreign);
    expect(problem(await verify(a)).message).toMatch(/is for another log/);
  });
});
