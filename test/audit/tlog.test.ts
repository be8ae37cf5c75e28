// The audit log's cryptography (shared/tlog.ts), against other implementations' published data:
// RFC 8785's canonical JSON samples, RFC 6962 tree hashes as transparency-dev/merkle publishes
// them (plus a brute-force MTH on random sizes), and the signed note of Go's
// golang.org/x/mod/sumdb/note (key ID, verification, and a byte-for-byte signature). Then the
// formats both sides of the archive share: checkpoints, segment names, gzip NDJSON segments.
import { describe, expect, it } from "vitest";
import type { AuditEvent } from "../../shared/audit.ts";
import { AppError } from "../../shared/errors.ts";
import {
  type AuditSigningKey,
  canonicalEvent,
  checkpointOrigin,
  EMPTY_ROOT,
  encodeSegment,
  formatCheckpoint,
  Frontier,
  leafHash,
  loadSigningKeys,
  nodeHash,
  noteKeyId,
  openNote,
  parseCheckpoint,
  parseSegmentName,
  parseVkey,
  readSegmentLines,
  segmentName,
  signNote,
  toHex,
} from "../../shared/tlog.ts";
import { seededRandom } from "../random.ts";
import goNote from "./fixtures/go-signed-note.json";
import rfc6962 from "./fixtures/rfc6962.json";
import rfc8785 from "./fixtures/rfc8785.json";

const utf8 = new TextEncoder();
const fromHex = (hex: string) => Uint8Array.from(hex.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const KEYS = "v2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=,v1:HxweHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";

async function signingKeys(secret = KEYS): Promise<AuditSigningKey[]> {
  const keys = await loadSigningKeys(secret);
  if (keys instanceof AppError) throw keys;
  return keys;
}

/** RFC 6962 §2.1 MTH, straight from its definition. */
function mth(leaves: Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leafHash(leaves[0] as Uint8Array);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

function event(seq: number, data: AuditEvent["data"] = {}): AuditEvent {
  return {
    v: 1,
    tenantId: "q7m2kx4wdn5a",
    seq,
    at: 1796212800000 + seq,
    type: "key.revoked",
    actor: { kind: "user", id: "h3vz6rtk2pqe" },
    requestId: null,
    subject: "r4tqbz2mjw6c",
    data,
  };
}

function streamOf(bytes: Uint8Array, chunk = bytes.length): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + chunk));
      at += chunk;
    },
  });
}

async function readAll(bytes: Uint8Array, chunk?: number): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readSegmentLines(streamOf(bytes, chunk))) lines.push(line);
  return lines;
}

describe("canonical event bytes (RFC 8785)", () => {
  it.each(rfc8785.cases)("canonicalises the sample of RFC 8785 §$section", ({ input, canonical }) => {
    expect(canonicalEvent(JSON.parse(input))).toBe(canonical);
  });

  it("sorts nested keys, keeps array order, writes no whitespace and drops undefined properties", () => {
    const value = { b: [{ z: 1, a: [3, 1] }, "x"], a: { d: null, c: true, e: undefined }, "": -0 };
    expect(canonicalEvent(value)).toBe('{"":0,"a":{"c":true,"d":null},"b":[{"a":[3,1],"z":1},"x"]}');
  });

  it("is a fixed point: a canonical line parses back to itself", () => {
    const line = canonicalEvent(event(7, { model: "gpt-4o-mini\u2028€", heldNanoUsd: "1230000", budgets: ["b", "a"] }));
    expect(canonicalEvent(JSON.parse(line))).toBe(line);
  });

  it("refuses values JSON cannot hold", () => {
    for (const bad of [Number.NaN, Infinity, -Infinity, { a: [1, Number.NaN] }, 10n, () => 1]) {
      expect(() => canonicalEvent(bad)).toThrow(TypeError);
    }
  });
});

describe("RFC 6962 Merkle tree", () => {
  it("hashes leaves, nodes and the empty tree as RFC 6962 §2.1 does", () => {
    const { hasher } = rfc6962;
    expect(toHex(EMPTY_ROOT)).toBe(hasher.emptyRoot);
    expect(toHex(leafHash(new Uint8Array()))).toBe(hasher.emptyLeaf);
    expect(toHex(leafHash(utf8.encode(hasher.leaf.input)))).toBe(hasher.leaf.hash);
    expect(toHex(nodeHash(utf8.encode(hasher.node.left), utf8.encode(hasher.node.right)))).toBe(hasher.node.hash);
    expect(rfc6962.leaves.map((leaf) => toHex(leafHash(fromHex(leaf))))).toEqual(rfc6962.leafHashes);
  });

  it("has the published root and compact range at every size 0..8", () => {
    const frontier = new Frontier();
    const seen: { root: string; hashes: string[] }[] = [];
    for (let size = 0; size <= rfc6962.leaves.length; size++) {
      if (size > 0) frontier.append(fromHex(rfc6962.leaves[size - 1] ?? ""));
      seen.push({ root: toHex(frontier.root()), hashes: frontier.toJSON().hashes });
    }
    expect(seen).toEqual(
      rfc6962.roots.map((root, size) => ({
        root,
        hashes: (rfc6962.compactRanges[size] ?? []).map((hash) => b64(fromHex(hash))),
      })),
    );
  });

  it("equals a brute-force MTH at random sizes up to 300, also after a round trip through JSON", () => {
    const random = seededRandom(6962);
    for (let round = 0; round < 12; round++) {
      const size = 1 + Math.floor(random() * 300);
      const leaves = Array.from({ length: size }, (_, i) => utf8.encode(`leaf ${round}/${i} ${random()}`));
      const frontier = new Frontier();
      const cut = Math.floor(random() * size);
      for (const leaf of leaves.slice(0, cut)) frontier.append(leaf);
      const resumed = Frontier.from(JSON.parse(JSON.stringify(frontier)));
      if (resumed instanceof AppError) throw resumed;
      for (const leaf of leaves.slice(cut)) resumed.append(leaf);
      expect({ size: resumed.size, root: toHex(resumed.root()) }).toEqual({ size, root: toHex(mth(leaves)) });
    }
  });

  it("appendHash takes a leaf hash where append takes the leaf's bytes", () => {
    const byBytes = new Frontier();
    const byHash = new Frontier();
    for (const leaf of rfc6962.leaves) {
      byBytes.append(fromHex(leaf));
      byHash.appendHash(leafHash(fromHex(leaf)));
    }
    expect(toHex(byHash.root())).toBe(toHex(byBytes.root()));
  });

  it("refuses a malformed stored frontier with an AppError", () => {
    const hash = b64(new Uint8Array(32));
    const cases: unknown[] = [
      null,
      { size: -1, hashes: [] },
      { size: 1.5, hashes: [hash] },
      { size: 3, hashes: [hash] },
      { size: 2, hashes: [hash, hash] },
      { size: 1, hashes: [b64(new Uint8Array(31))] },
      { size: 1, hashes: ["not base64!"] },
      { size: 1, hashes: [hash.replace(/=$/, "")] },
    ];
    expect(cases.map((json) => Frontier.from(json) instanceof AppError)).toEqual(cases.map(() => true));
  });
});

describe("signed notes (c2sp.org/signed-note, Go's sumdb/note)", () => {
  it("computes Go's key ID and verifier key from the published public key", () => {
    const key = parseVkey(goNote.verifierKey);
    if (key instanceof AppError) throw key;
    expect(toHex(noteKeyId("PeterNeumann", key.publicKey))).toBe(goNote.keyId);
    expect({ name: key.name, keyId: toHex(key.keyId), vkey: key.vkey, version: key.version }).toEqual({
      name: "PeterNeumann",
      keyId: "c74f20a3",
      vkey: goNote.verifierKey,
      version: "",
    });
  });

  it("opens Go's signed note with its verifier key", async () => {
    const peter = parseVkey(goNote.verifierKey);
    if (peter instanceof AppError) throw peter;
    const verdict = await openNote(goNote.note, [peter]);
    expect(verdict).toEqual({ ok: true, text: goNote.text, key: peter });
  });

  it("signs Go's note byte for byte from Go's signer key (Ed25519 is deterministic)", async () => {
    const seed = goNote.signerKey.split("+").slice(4).join("+");
    const typed = Uint8Array.from(atob(seed), (c) => c.charCodeAt(0));
    const [imported] = await signingKeys(`v1:${b64(typed.slice(1))}`);
    const peter = parseVkey(goNote.verifierKey);
    if (!imported || peter instanceof AppError) throw new Error("keys did not load");
    expect(toHex(imported.publicKey)).toBe(toHex(peter.publicKey));
    expect(await signNote(goNote.text, { ...imported, ...peter })).toBe(goNote.note);
  });

  it("opens a doubly-signed note with either key alone, ignoring the unknown signer", async () => {
    const peter = parseVkey(goNote.verifierKey);
    const enoch = parseVkey(goNote.cosigner.verifierKey);
    if (peter instanceof AppError || enoch instanceof AppError) throw new Error("bad vkeys");
    const byPeter = await openNote(goNote.cosigner.doublySigned, [peter]);
    const byEnoch = await openNote(goNote.cosigner.doublySigned, [enoch]);
    expect([byPeter.ok && byPeter.key.name, byEnoch.ok && byEnoch.key.name]).toEqual(["PeterNeumann", "EnochRoot"]);
  });

  it("names why a note does not open: edited text, unknown key, malformed", async () => {
    const peter = parseVkey(goNote.verifierKey);
    const enoch = parseVkey(goNote.cosigner.verifierKey);
    if (peter instanceof AppError || enoch instanceof AppError) throw new Error("bad vkeys");
    const lookalike = { ...enoch, name: "PeterNeumann" };
    const reasons = await Promise.all(
      [
        [goNote.note.replace("problem,", "problem;"), [peter]],
        [goNote.note, [enoch]],
        [goNote.note, [lookalike]],
        [goNote.note, []],
        [goNote.note.replace("\n\n", "\n"), [peter]],
        [goNote.note.slice(0, -1), [peter]],
        [goNote.note.replace("— ", "- "), [peter]],
        [goNote.note.replace("x08go", "x08g!"), [peter]],
        [goNote.note.replace("\nthen", "\r\nthen"), [peter]],
        [`${goNote.note}— PeterNeumann AAAA\n`, [peter]],
      ].map(async ([note, keys]) => {
        const verdict = await openNote(note as string, keys as (typeof peter)[]);
        return verdict.ok ? "ok" : verdict.reason;
      }),
    );
    expect(reasons).toEqual([
      "bad_signature",
      "unknown_key",
      "unknown_key",
      "unknown_key",
      "malformed",
      "malformed",
      "malformed",
      "malformed",
      "malformed",
      "malformed",
    ]);
  });

  it("refuses malformed verifier keys, including a key ID that does not match", () => {
    const bad = [
      "",
      "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
      "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
    ];
    expect(bad.map((vkey) => parseVkey(vkey) instanceof AppError)).toEqual(bad.map(() => true));
  });
});

describe("audit signing keys (AUDIT_SIGNING_KEYS)", () => {
  it("loads every version, names them outlay-audit-vN, the first one first, and signs notes they open", async () => {
    const keys = await signingKeys();
    expect(keys.map((key) => [key.version, key.name])).toEqual([
      ["v2", "outlay-audit-v2"],
      ["v1", "outlay-audit-v1"],
    ]);
    const [v2, v1] = keys;
    if (!v2 || !v1) throw new Error("two keys expected");
    expect(parseVkey(v2.vkey)).toEqual({
      version: "v2",
      name: v2.name,
      keyId: v2.keyId,
      publicKey: v2.publicKey,
      vkey: v2.vkey,
    });
    const note = await signNote("outlay/audit/x\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\ntime 1\n", v2);
    const verdicts = [await openNote(note, [v1, v2]), await openNote(note, [v1])];
    expect(verdicts.map((verdict) => (verdict.ok ? verdict.key.name : verdict.reason))).toEqual([
      "outlay-audit-v2",
      "unknown_key",
    ]);
  });

  it("imports a secret once per isolate", async () => {
    expect(await loadSigningKeys(KEYS)).toBe(await loadSigningKeys(KEYS));
  });

  it("refuses a malformed secret without repeating any of it", async () => {
    const seed31 = b64(new Uint8Array(31).fill(9));
    const seed = b64(new Uint8Array(32).fill(9));
    const secrets = ["", " ", `v1:${seed31}`, `v1:${seed},v1:${seed}`, `k1:${seed}`, `v1:${seed}#`, `v1:${seed},`];
    const answers = await Promise.all(secrets.map((secret) => loadSigningKeys(secret)));
    expect(answers.map((answer) => answer instanceof AppError)).toEqual(secrets.map(() => true));
    const messages = answers.map((answer) => (answer instanceof AppError ? answer.message : ""));
    expect(
      messages.filter((message) => message.includes(seed.slice(0, 8)) || message.includes(seed31.slice(0, 8))),
    ).toEqual([]);
  });
});

describe("checkpoints (c2sp.org/tlog-checkpoint)", () => {
  const root = fromHex(rfc6962.roots[8] ?? "");
  const text = `outlay/audit/q7m2kx4wdn5a\n8\n${b64(root)}\ntime 1796212800000\n`;

  it("writes and reads the four lines", () => {
    const checkpoint = { origin: checkpointOrigin("q7m2kx4wdn5a"), size: 8, rootHash: root, time: 1796212800000 };
    expect(formatCheckpoint(checkpoint)).toBe(text);
    expect(parseCheckpoint(text)).toEqual(checkpoint);
  });

  it("reads strictly", () => {
    const bad = [
      text.slice(0, -1),
      `${text}extra\n`,
      text.replace("\n8\n", "\n08\n"),
      text.replace("\n8\n", "\n-8\n"),
      text.replace("\n8\n", "\n 8\n"),
      text.replace("\n8\n", "\n9007199254740993\n"),
      text.replace(b64(root), b64(root.slice(1))),
      text.replace(b64(root), b64(root).replace("=", "")),
      text.replace("time 1796212800000", "time 1.5"),
      text.replace("time 1796212800000", "time  1"),
      text.replace("time 1796212800000", "timestamp 1"),
      text.replace("outlay/audit/q7m2kx4wdn5a", ""),
      text.replace("\ntime 1796212800000\n", "\n"),
    ];
    expect(bad.map((body) => parseCheckpoint(body) instanceof AppError)).toEqual(bad.map(() => true));
  });
});

describe("segments", () => {
  it("names a segment by its seq range, 20 digits each, and reads names strictly", () => {
    expect(segmentName(1, 1000)).toBe("00000000000000000001-00000000000000001000.ndjson.gz");
    expect(parseSegmentName(segmentName(1, 1000))).toEqual({ first: 1, last: 1000 });
    expect(parseSegmentName(segmentName(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER))).toEqual({
      first: Number.MAX_SAFE_INTEGER,
      last: Number.MAX_SAFE_INTEGER,
    });
    const bad = [
      "00000000000000000000-00000000000000000001.ndjson.gz",
      "00000000000000000002-00000000000000000001.ndjson.gz",
      "0000000000000000001-00000000000000000001.ndjson.gz",
      "00000000000000000001-09007199254740992.ndjson.gz",
      "00000000000000000001-00009007199254740992.ndjson.gz",
      "00000000000000000001-00000000000000000001.ndjson",
      "x/00000000000000000001-00000000000000000001.ndjson.gz",
    ];
    expect(bad.map(parseSegmentName)).toEqual(bad.map(() => null));
  });

  it("writes gzip NDJSON of canonical lines, appends each line's bytes to the frontier, and reads the lines back in any chunking", async () => {
    const events = [event(4, { note: "€ and 😀" }), event(5), event(6, { z: 1, a: ["x"] })];
    const frontier = new Frontier();
    for (const seq of [1, 2, 3]) frontier.append(utf8.encode(canonicalEvent(event(seq))));
    const { gz, raw } = await encodeSegment(events, frontier);
    const lines = events.map(canonicalEvent);
    expect(raw).toBe(utf8.encode(lines.map((line) => `${line}\n`).join("")).length);
    expect(toHex(gz.slice(0, 10))).toBe("1f8b0800000000000003");
    expect(toHex(frontier.root())).toBe(
      toHex(
        mth(
          [1, 2, 3]
            .map((seq) => utf8.encode(canonicalEvent(event(seq))))
            .concat(lines.map((line) => utf8.encode(line))),
        ),
      ),
    );
    expect(await readAll(gz)).toEqual(lines);
    expect(await readAll(gz, 3)).toEqual(lines);
  });

  it("refuses to write an empty or non-consecutive segment, and leaves the frontier as it was", async () => {
    const frontier = new Frontier();
    await expect(encodeSegment([], frontier)).rejects.toThrow(RangeError);
    await expect(encodeSegment([event(1), event(3)], frontier)).rejects.toThrow(RangeError);
    expect(frontier.size).toBe(0);
  });

  it("fails while reading an object that is not what encodeSegment wrote", async () => {
    const { gz } = await encodeSegment([event(1), event(2), event(3)], new Frontier());
    const flip = (at: number) => {
      const copy = gz.slice();
      const i = at < 0 ? copy.length + at : at;
      copy[i] = (copy[i] ?? 0) ^ 0x01;
      return copy;
    };
    const noNewline = await new Response(
      new Blob([utf8.encode(canonicalEvent(event(1)))]).stream().pipeThrough(new CompressionStream("gzip")),
    ).bytes();
    const broken = [
      gz.slice(0, gz.length - 3),
      gz.slice(0, gz.length - 8),
      gz.slice(0, 12),
      gz.slice(0, 5),
      flip(4),
      flip(9),
      flip(Math.floor(gz.length / 2)),
      flip(-6),
      flip(-2),
      new Uint8Array([...gz, 0]),
      noNewline,
    ];
    const outcomes = await Promise.all(
      broken.map((bytes) =>
        readAll(bytes).then(
          () => "read",
          (error: unknown) => (error instanceof Error ? "failed" : "odd"),
        ),
      ),
    );
    expect(outcomes).toEqual(broken.map(() => "failed"));
  });
});
