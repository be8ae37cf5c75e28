// The audit archive's transparency log (issue 13 §2): the pure pieces that the sealer (which
// writes segments and checkpoints) and the verifier (scripts/audit-verify/) share. Runs in
// workerd and in Node 22: WebCrypto, CompressionStream and node:crypto's SHA-256 (workerd's
// nodejs_compat), no bindings.
//
// - canonical event bytes: RFC 8785 (JCS) restricted to our values (strings, finite numbers,
//   booleans, null, arrays, objects)
// - RFC 6962 §2.1 Merkle tree hashing, and a compact frontier (O(log n) hashes) of a tree from 0
// - signed notes (c2sp.org/signed-note) with Ed25519 keys, in Go's golang.org/x/mod/sumdb/note
//   formats, and checkpoints (c2sp.org/tlog-checkpoint) with one extension line, `time <ms>`
// - segments: gzip (RFC 1952) of NDJSON, one canonical event per line, named by their seq range
//
// Expected failures (a malformed key list, note, checkpoint or frontier) are values; a writer
// handing in something it must never write (a non-finite number, a non-consecutive segment)
// is a bug and throws.
import { createHash } from "node:crypto";
import type { AuditEvent } from "./audit.ts";
import { fromBase64, toBase64, utf8 } from "./encoding.ts";
import { AppError } from "./errors.ts";

// ---------------------------------------------------------------------------------------------
// Canonical bytes (RFC 8785 for our value domain)

/**
 * The canonical JSON of an event: every object's keys sorted by UTF-16 code units, no
 * whitespace, strings and numbers as JSON.stringify writes them (which is what RFC 8785 §3.2.2
 * prescribes). Properties whose value is undefined are left out, as JSON.stringify does.
 * Throws on a non-finite number or a value JSON cannot hold: those are writer bugs.
 */
export function canonicalEvent(e: unknown): string {
  return canonical(e);
}

function canonical(value: unknown): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) throw new TypeError("canonicalEvent: a non-finite number has no JSON form");
      return JSON.stringify(value);
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
      const record = value as Record<string, unknown>;
      let out = "";
      for (const key of Object.keys(record).sort()) {
        const item = record[key];
        if (item === undefined) continue;
        out += `${out === "" ? "" : ","}${JSON.stringify(key)}:${canonical(item)}`;
      }
      return `{${out}}`;
    }
    default:
      throw new TypeError(`canonicalEvent: a ${typeof value} has no JSON form`);
  }
}

// ---------------------------------------------------------------------------------------------
// RFC 6962 §2.1 Merkle tree

const LEAF_PREFIX = new Uint8Array([0]);
const NODE_PREFIX = new Uint8Array([1]);
const HASH_BYTES = 32;

/**
 * SHA-256 of the parts, in order, as a plain Uint8Array. The platform's native hash (node:crypto)
 * rather than one in JavaScript: a seal hashes each of up to 5,000 events and the nodes above
 * them. In workerd each call still pays for node:crypto's Buffer wrappers: a run's seals spent a
 * third less time hashing than with @noble/hashes (docs/decisions.md), not the 2-3x of Node.
 */
function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash("sha256");
  for (const part of parts) hash.update(part);
  const digest = hash.digest();
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** MTH({d}) = SHA-256(0x00 ‖ d): the hash of one leaf's bytes. */
export function leafHash(bytes: Uint8Array): Uint8Array {
  return sha256(LEAF_PREFIX, bytes);
}

/** SHA-256(0x01 ‖ left ‖ right): the hash of an inner node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  return sha256(NODE_PREFIX, left, right);
}

/** MTH({}) = SHA-256(""): the root of the empty tree. */
export const EMPTY_ROOT: Uint8Array = sha256();

export type FrontierJson = { size: number; hashes: string[] };

/**
 * The compact range [0, size) of an RFC 6962 tree: the roots of its perfect subtrees, one per
 * set bit of `size`, largest (leftmost) first — popcount(size) hashes. Appending is amortised
 * O(1) and the root is MTH over every leaf appended so far.
 */
export class Frontier {
  #size = 0;
  #hashes: Uint8Array[] = [];

  get size(): number {
    return this.#size;
  }

  /** Appends one leaf given by its bytes (the UTF-8 of an event's line): hashes it with leafHash. */
  append(leaf: Uint8Array): void {
    this.appendHash(leafHash(leaf));
  }

  /** Appends one leaf given by its leaf hash (leafHash of its bytes). */
  appendHash(hash: Uint8Array): void {
    if (hash.length !== HASH_BYTES) throw new TypeError("Frontier.appendHash: a leaf hash is 32 bytes");
    if (this.#size >= Number.MAX_SAFE_INTEGER) throw new RangeError("Frontier: the tree is full");
    let node = hash;
    // Each trailing 1 bit of the size is a subtree of the same height as `node`: merge it in.
    for (let size = this.#size; size % 2 === 1; size = Math.floor(size / 2)) {
      const left = this.#hashes.pop();
      if (!left) throw new Error("Frontier: fewer hashes than set bits");
      node = nodeHash(left, node);
    }
    this.#hashes.push(node);
    this.#size += 1;
  }

  /** The tree's root hash (RFC 6962 MTH of the leaves so far; SHA-256("") when empty). */
  root(): Uint8Array {
    let root: Uint8Array | undefined;
    for (let i = this.#hashes.length - 1; i >= 0; i--) {
      const hash = this.#hashes[i] as Uint8Array;
      root = root ? nodeHash(hash, root) : hash;
    }
    return root ?? EMPTY_ROOT;
  }

  toJSON(): FrontierJson {
    return { size: this.#size, hashes: this.#hashes.map(toBase64) };
  }

  /**
   * Reads a stored frontier. Returns an AppError (bad_request, param "frontier") instead of
   * throwing when the value is malformed: size not a safe integer ≥ 0, a hash count other than
   * popcount(size), or a hash that is not the base64 of 32 bytes.
   */
  static from(json: unknown): Frontier | AppError {
    const bad = (why: string) => new AppError("bad_request", `Malformed frontier: ${why}.`, "frontier");
    if (typeof json !== "object" || json === null) return bad("not an object");
    const { size, hashes } = json as Partial<Record<keyof FrontierJson, unknown>>;
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) return bad("size is not an integer ≥ 0");
    if (!Array.isArray(hashes)) return bad("hashes is not a list");
    if (hashes.length !== popcount(size)) return bad(`${hashes.length} hashes for size ${size}`);
    const frontier = new Frontier();
    for (const text of hashes) {
      const hash = typeof text === "string" ? strictBase64(text) : null;
      if (!hash || hash.length !== HASH_BYTES) return bad("a hash is not the base64 of 32 bytes");
      frontier.#hashes.push(hash);
    }
    frontier.#size = size;
    return frontier;
  }
}

function popcount(n: number): number {
  let count = 0;
  for (let rest = n; rest > 0; rest = Math.floor(rest / 2)) count += rest % 2;
  return count;
}

// ---------------------------------------------------------------------------------------------
// Keys (Ed25519, named outlay-audit-vN) and signed notes (c2sp.org/signed-note)

/** An audit signing key's public half: what /.well-known/outlay-audit-keys lists. */
export type AuditVerifierKey = {
  /** "v2" for outlay-audit-v2; "" for a key whose name is not outlay-audit-vN */
  version: string;
  name: string;
  /** 4 bytes: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[:4] */
  keyId: Uint8Array;
  /** 32 bytes (RFC 8032) */
  publicKey: Uint8Array;
  /** `<name>+<8 hex key id>+<base64(0x01 ‖ public key)>`, Go's note.NewVerifier format */
  vkey: string;
};

export type AuditSigningKey = AuditVerifierKey & { privateKey: CryptoKey };

const ED25519 = { name: "Ed25519" } as const;
const ED25519_TYPE = 0x01;
// PKCS#8 PrivateKeyInfo for an Ed25519 seed (RFC 8410 §7): a fixed 16-byte prefix, then the seed.
const PKCS8_PREFIX = [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

export function auditKeyName(version: string): string {
  return `outlay-audit-${version}`;
}

/** The signed-note key ID of an Ed25519 key: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)[:4]. */
export function noteKeyId(name: string, publicKey: Uint8Array): Uint8Array {
  return sha256(utf8.encode(name), new Uint8Array([0x0a, ED25519_TYPE]), publicKey).slice(0, 4);
}

function verifierKey(name: string, publicKey: Uint8Array): AuditVerifierKey {
  const keyId = noteKeyId(name, publicKey);
  const typed = new Uint8Array(1 + publicKey.length);
  typed[0] = ED25519_TYPE;
  typed.set(publicKey, 1);
  const version = /^outlay-audit-(v[1-9]\d*)$/.exec(name)?.[1] ?? "";
  return { version, name, keyId, publicKey, vkey: `${name}+${toHex(keyId)}+${toBase64(typed)}` };
}

/** Reads a verifier key `<name>+<8 hex>+<base64(0x01 ‖ 32-byte key)>`, checking its key ID. */
export function parseVkey(vkey: string): AuditVerifierKey | AppError {
  const bad = (why: string) => new AppError("bad_request", `Malformed verifier key: ${why}.`, "vkey");
  const match = /^([^+]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey);
  if (!match) return bad("expected <name>+<8 hex digits>+<base64>");
  const [, name = "", id = "", key64 = ""] = match;
  if (!isKeyName(name)) return bad("the name is empty or holds a space or a plus");
  const typed = strictBase64(key64);
  if (!typed || typed.length !== 33 || typed[0] !== ED25519_TYPE) return bad("not an Ed25519 key (0x01 and 32 bytes)");
  const key = verifierKey(name, typed.slice(1));
  if (toHex(key.keyId) !== id) return bad("the key ID does not match the name and key");
  return key;
}

const signingKeyCache = new Map<string, Promise<AuditSigningKey[] | AppError>>();

/**
 * Reads the AUDIT_SIGNING_KEYS secret, `v2:<base64 seed>,v1:<base64 seed>` (32-byte Ed25519
 * seeds, the first one signs), into keys. A malformed secret (empty, bad base64, wrong
 * length, repeated version, a seed WebCrypto refuses) is an AppError whose message names the
 * entry by position and never holds any part of the secret. Cached per secret string.
 */
export function loadSigningKeys(secret: string): Promise<AuditSigningKey[] | AppError> {
  const cached = signingKeyCache.get(secret);
  if (cached) return cached;
  if (signingKeyCache.size >= 4) signingKeyCache.clear();
  const loading = importSigningKeys(secret);
  signingKeyCache.set(secret, loading);
  return loading;
}

async function importSigningKeys(secret: string): Promise<AuditSigningKey[] | AppError> {
  const bad = (why: string) => new AppError("internal_error", `AUDIT_SIGNING_KEYS is malformed: ${why}.`);
  const entries = secret.split(",").map((entry) => entry.trim());
  if (secret.trim() === "") return bad("it is empty");
  const keys: AuditSigningKey[] = [];
  for (const [index, entry] of entries.entries()) {
    const match = /^(v[1-9]\d*):(.+)$/.exec(entry);
    const seed = match?.[2] ? strictBase64(match[2]) : null;
    if (!match?.[1] || !seed) return bad(`entry ${index + 1} is not v<N>:<base64>`);
    const version = match[1];
    if (seed.length !== 32) return bad(`the seed of ${version} is not 32 bytes`);
    if (keys.some((key) => key.version === version)) return bad(`${version} is listed twice`);
    const der = new Uint8Array(PKCS8_PREFIX.length + seed.length);
    der.set(PKCS8_PREFIX);
    der.set(seed, PKCS8_PREFIX.length);
    try {
      const privateKey = await crypto.subtle.importKey("pkcs8", der, ED25519, true, ["sign"]);
      const jwk = (await crypto.subtle.exportKey("jwk", privateKey)) as JsonWebKey;
      const publicKey = jwk.x ? fromBase64(jwk.x) : null;
      if (!publicKey || publicKey.length !== 32) return bad(`the key of ${version} has no public half`);
      keys.push({ ...verifierKey(auditKeyName(version), publicKey), privateKey });
    } catch {
      return bad(`the seed of ${version} is not an Ed25519 key`);
    } finally {
      der.fill(0);
      seed.fill(0);
    }
  }
  return keys;
}

/**
 * Signs a note's text (which must end in "\n") with one key: the text, a blank line, and
 * `— <name> base64(key ID ‖ Ed25519 signature of the text's UTF-8)`.
 */
export async function signNote(text: string, key: AuditSigningKey): Promise<string> {
  if (!text.endsWith("\n")) throw new TypeError("signNote: a note's text ends in a newline");
  const signature = new Uint8Array(await crypto.subtle.sign(ED25519, key.privateKey, utf8.encode(text)));
  const blob = new Uint8Array(4 + signature.length);
  blob.set(key.keyId);
  blob.set(signature, 4);
  return `${text}\n— ${key.name} ${toBase64(blob)}\n`;
}

export type NoteVerdict =
  | { ok: true; text: string; key: AuditVerifierKey }
  | { ok: false; reason: "malformed" | "unknown_key" | "bad_signature"; message: string };

const MAX_SIGNATURES = 100;
const publicKeyCache = new Map<string, Promise<CryptoKey>>();

/**
 * Opens a signed note: verified when a signature line of a known key (same name and key ID)
 * verifies. Lines of unknown keys are ignored; a known key's line that does not verify rejects
 * the whole note (bad_signature), as c2sp.org/signed-note recommends; no known key's line at
 * all is unknown_key.
 */
export async function openNote(note: string, verifiers: AuditVerifierKey[]): Promise<NoteVerdict> {
  const malformed = (why: string): NoteVerdict => ({
    ok: false,
    reason: "malformed",
    message: `malformed note: ${why}`,
  });
  // oxlint-disable-next-line no-control-regex -- the spec forbids these very characters
  if (/[\u0000-\u0009\u000b-\u001f]/.test(note)) return malformed("control characters");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) return malformed("no blank line before the signatures");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2);
  if (lines === "" || !lines.endsWith("\n")) return malformed("no signature line ending in a newline");
  const signatures = lines.slice(0, -1).split("\n");
  if (signatures.length > MAX_SIGNATURES) return malformed("too many signatures");
  let verified: AuditVerifierKey | null = null;
  for (const line of signatures) {
    const match = /^— (\S+) (\S+)$/u.exec(line);
    const blob = match?.[2] ? strictBase64(match[2]) : null;
    if (!match?.[1] || !isKeyName(match[1]) || !blob || blob.length < 5) return malformed("a bad signature line");
    const name = match[1];
    const id = toHex(blob.subarray(0, 4));
    const key = verifiers.find((candidate) => candidate.name === name && toHex(candidate.keyId) === id);
    if (!key) continue;
    if (!(await ed25519Verify(key, blob.subarray(4), utf8.encode(text)))) {
      return { ok: false, reason: "bad_signature", message: `the signature of ${name}+${id} does not verify` };
    }
    verified ??= key;
  }
  if (!verified) return { ok: false, reason: "unknown_key", message: "no signature by a known key" };
  return { ok: true, text, key: verified };
}

async function ed25519Verify(key: AuditVerifierKey, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  if (signature.length !== 64) return false;
  let imported = publicKeyCache.get(key.vkey);
  if (!imported) {
    if (publicKeyCache.size >= 64) publicKeyCache.clear();
    imported = crypto.subtle.importKey("raw", key.publicKey, ED25519, false, ["verify"]);
    publicKeyCache.set(key.vkey, imported);
  }
  try {
    return await crypto.subtle.verify(ED25519, await imported, signature, message);
  } catch {
    publicKeyCache.delete(key.vkey);
    return false;
  }
}

/** A key name per signed-note: non-empty, no Unicode space, no plus. */
function isKeyName(name: string): boolean {
  return name !== "" && !/[\s+]/u.test(name);
}

// ---------------------------------------------------------------------------------------------
// Checkpoints (c2sp.org/tlog-checkpoint)

export type Checkpoint = { origin: string; size: number; rootHash: Uint8Array; time: number };

/** The log identity of a tenant's audit trail: the first line of its checkpoints. */
export function checkpointOrigin(tenantId: string): string {
  return `outlay/audit/${tenantId}`;
}

/** `<origin>\n<size>\n<base64 root>\ntime <epoch ms>\n`: the text a checkpoint note signs. */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, time } = checkpoint;
  if (origin === "" || /\s/u.test(origin))
    throw new TypeError("formatCheckpoint: the origin is empty or holds a space");
  if (!Number.isSafeInteger(size) || size < 0) throw new TypeError("formatCheckpoint: size is not an integer ≥ 0");
  if (rootHash.length !== HASH_BYTES) throw new TypeError("formatCheckpoint: a root hash is 32 bytes");
  if (!Number.isSafeInteger(time) || time < 0) throw new TypeError("formatCheckpoint: time is not epoch milliseconds");
  return `${origin}\n${size}\n${toBase64(rootHash)}\ntime ${time}\n`;
}

/** Reads a checkpoint's text strictly: exactly the four lines formatCheckpoint writes. */
export function parseCheckpoint(body: string): Checkpoint | AppError {
  const bad = (why: string) => new AppError("bad_request", `Malformed checkpoint: ${why}.`, "checkpoint");
  const lines = body.split("\n");
  if (lines.length !== 5 || lines[4] !== "") return bad("expected four lines, each ending in a newline");
  const [origin = "", sizeLine = "", rootLine = "", timeLine = ""] = lines;
  if (origin === "" || /\s/u.test(origin)) return bad("the origin is empty or holds a space");
  if (!/^(0|[1-9]\d*)$/.test(sizeLine) || !Number.isSafeInteger(Number(sizeLine)))
    return bad("the size is not a decimal integer");
  const rootHash = strictBase64(rootLine);
  if (!rootHash || rootHash.length !== HASH_BYTES) return bad("the root hash is not the base64 of 32 bytes");
  const time = /^time (0|[1-9]\d*)$/.exec(timeLine)?.[1];
  if (time === undefined || !Number.isSafeInteger(Number(time))) return bad("the last line is not time <epoch ms>");
  return { origin, size: Number(sizeLine), rootHash, time: Number(time) };
}

// ---------------------------------------------------------------------------------------------
// Segments: gzip NDJSON named <first seq>-<last seq>.ndjson.gz (20 digits each)

export function segmentName(first: number, last: number): string {
  if (!isSeq(first) || !isSeq(last) || last < first) throw new RangeError("segmentName: not a seq range");
  return `${pad20(first)}-${pad20(last)}.ndjson.gz`;
}

/** The seq range a segment's name says, or null when the name is not one segmentName writes. */
export function parseSegmentName(name: string): { first: number; last: number } | null {
  const match = /^(\d{20})-(\d{20})\.ndjson\.gz$/.exec(name);
  if (!match) return null;
  const first = Number(match[1]);
  const last = Number(match[2]);
  return isSeq(first) && isSeq(last) && last >= first ? { first, last } : null;
}

function isSeq(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1;
}

function pad20(n: number): string {
  return String(n).padStart(20, "0");
}

/**
 * Gzips events (seq consecutive, ascending) as NDJSON, one canonicalEvent per line, and appends
 * each line's UTF-8 to the frontier once the segment is written (the frontier is untouched if
 * this throws). Returns the gzip bytes and the uncompressed size.
 */
export async function encodeSegment(
  events: AuditEvent[],
  frontier: Frontier,
): Promise<{ gz: Uint8Array; raw: number }> {
  if (events.length === 0) throw new RangeError("encodeSegment: a segment holds at least one event");
  const first = events[0] as AuditEvent;
  for (const [index, event] of events.entries()) {
    if (event.seq !== first.seq + index) throw new RangeError("encodeSegment: seqs are not consecutive");
  }
  const { gz, ndjson } = await encodeLines(events.map(canonicalEvent), frontier);
  return { gz, raw: ndjson.length };
}

/**
 * Gzips lines that are already canonical events, in seq order, as a segment's NDJSON, and
 * appends each line's UTF-8 to the frontier once the segment is written (untouched if this
 * throws). Returns the gzip bytes and the NDJSON they hold.
 */
export async function encodeLines(
  lines: string[],
  frontier: Frontier,
): Promise<{ gz: Uint8Array; ndjson: Uint8Array }> {
  const leaves = lines.map((line) => utf8.encode(line));
  const ndjson = new Uint8Array(leaves.reduce((n, leaf) => n + leaf.length + 1, 0));
  let at = 0;
  for (const leaf of leaves) {
    ndjson.set(leaf, at);
    ndjson[at + leaf.length] = 0x0a;
    at += leaf.length + 1;
  }
  const gzipped = new Blob([ndjson]).stream().pipeThrough(new CompressionStream("gzip"));
  const gz = new Uint8Array(await new Response(gzipped).arrayBuffer());
  for (const leaf of leaves) frontier.append(leaf);
  return { gz, ndjson };
}

// The 10-byte member header that CompressionStream("gzip") writes in workerd and in Node (zlib):
// deflate, no flags, MTIME 0, XFL 0, OS 3. The CRC in the trailer covers only the content, so
// the header is held to these bytes too: then no byte of a segment can change unnoticed.
const GZIP_HEADER = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03];
const MAX_LINE = 1 << 20;

/**
 * Streams a segment's lines (without their "\n"): gunzip and split, one decompressed chunk at a
 * time. Throws, while iterating, when the object is not what encodeSegment writes: another gzip
 * header, a corrupt or truncated gzip stream, bytes after it, invalid UTF-8, a line over 1 MiB,
 * or a last line without its newline.
 */
export async function* readSegmentLines(body: ReadableStream<Uint8Array>): AsyncIterable<string> {
  const reader = body.pipeThrough(gzipHeaderCheck()).pipeThrough(new DecompressionStream("gzip")).getReader();
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
  let pending = "";
  try {
    for (;;) {
      const chunk = await reader.read().catch((error: unknown) => {
        throw new Error(`not a whole gzip object (${error instanceof Error ? error.message : String(error)})`);
      });
      pending += chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true });
      let start = 0;
      for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n", start)) {
        yield pending.slice(start, end);
        start = end + 1;
      }
      pending = pending.slice(start);
      if (pending.length > MAX_LINE) throw new Error("a line is longer than 1 MiB");
      if (chunk.done) break;
    }
    if (pending !== "") throw new Error("the last line does not end in a newline");
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function gzipHeaderCheck(): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  return new TransformStream({
    transform(chunk, controller) {
      for (let i = 0; i < chunk.length && seen < GZIP_HEADER.length; i++, seen++) {
        if (chunk[i] !== GZIP_HEADER[seen]) throw new Error("not the gzip header Outlay writes");
      }
      controller.enqueue(chunk);
    },
    flush() {
      if (seen < GZIP_HEADER.length) throw new Error("shorter than a gzip header");
    },
  });
}

// ---------------------------------------------------------------------------------------------
// Bytes

/** Canonical standard base64 (RFC 4648 §4, padded) only: null for anything else. */
function strictBase64(text: string): Uint8Array | null {
  const bytes = fromBase64(text);
  return bytes && toBase64(bytes) === text ? bytes : null;
}

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

/** Whether two byte strings are equal (public values: hashes, not secrets). */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
