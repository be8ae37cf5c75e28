// The audit archive's verifier (issue 13 §2, docs/audit.md): reads a tenant's archive through
// the management API and checks it the way a customer would, with nothing but the public keys.
//
// verifyAuditLog
//   ├─ keys: the pinned vkeys, or GET /.well-known/outlay-audit-keys
//   ├─ latest checkpoint: GET /api/v1/audit/checkpoint — signature, origin = outlay/audit/<tenant>
//   ├─ kept checkpoint (optional): signature, same origin, size ≤ the latest
//   └─ segments, page by page (GET /api/v1/audit/segments?from_seq=N), each streamed
//      (GET /api/v1/audit/segments/{name}) one line at a time:
//        line: JSON, canonical (RFC 8785), v 1, the tenant, seq = previous + 1 within the name's range
//        → leaf appended to an RFC 6962 frontier; at the kept and latest sizes, the root must match
//        segment end: last seq = the name's; its own checkpoint (when present) matches the root
//
// Memory is one line and the frontier (O(log n) hashes); per event the work is one JSON.parse,
// one canonicalisation and one leaf hash. The first problem found is the answer, with the
// segment and seq where they are known. Runs in Node 22 (the CLI, scripts/audit-verify.ts) and
// in workerd (tests): the caller hands in `fetch`.
import {
  type AuditVerifierKey,
  bytesEqual,
  type Checkpoint,
  canonicalEvent,
  checkpointOrigin,
  EMPTY_ROOT,
  Frontier,
  openNote,
  parseCheckpoint,
  parseSegmentName,
  parseVkey,
  readSegmentLines,
  toHex,
} from "../../shared/tlog.ts";
import { AppError } from "../../shared/errors.ts";
import { toBase64, utf8 } from "../../shared/encoding.ts";

export type VerifyFetch = (url: string, init: { headers: Record<string, string> }) => Promise<Response>;

export type VerifyOptions = {
  /** the Outlay deployment, e.g. https://outlay.example.com */
  baseUrl: string;
  /** an admin token of the organisation (sent as a Bearer token, never printed) */
  token: string;
  fetch: VerifyFetch;
  /** an older signed checkpoint the customer kept: the log must extend it */
  checkpoint?: string;
  /** verifier keys to trust instead of the published list */
  vkeys?: string[];
};

export type Problem = { message: string; segment?: string; seq?: number };

export type VerifyResult =
  | {
      ok: true;
      treeSize: number;
      /** base64 of the verified root hash */
      rootHash: string;
      segments: number;
      events: number;
      /** what is worth knowing but is not a failure (a segment without its own checkpoint) */
      notices: string[];
    }
  | { ok: false; problem: Problem };

type SegmentEntry = { name: string; first_seq: number; last_seq: number; checkpoint: string | null };
type SegmentPage = { tenant_id: string; origin: string; data: SegmentEntry[]; next_from_seq: number | null };

export async function verifyAuditLog(options: VerifyOptions): Promise<VerifyResult> {
  const api = new ArchiveApi(options);
  const keys = options.vkeys ? pinnedKeys(options.vkeys) : await api.publishedKeys();
  if (!Array.isArray(keys)) return { ok: false, problem: keys };
  const latestNote = await api.latestCheckpoint();
  if (typeof latestNote !== "string" && latestNote !== null) return { ok: false, problem: latestNote };
  const firstPage = await api.segments(1);
  if ("message" in firstPage) return { ok: false, problem: firstPage };
  const origin = checkpointOrigin(firstPage.tenant_id);

  let latest: Checkpoint;
  if (latestNote === null) {
    if (firstPage.data.length > 0) return failed("segments are listed but there is no checkpoint");
    latest = { origin, size: 0, rootHash: EMPTY_ROOT, time: 0 };
  } else {
    const checked = await openCheckpoint(latestNote, keys, origin, "the latest checkpoint");
    if ("message" in checked) return { ok: false, problem: checked };
    latest = checked;
  }
  let kept: Checkpoint | null = null;
  if (options.checkpoint !== undefined) {
    const checked = await openCheckpoint(options.checkpoint, keys, origin, "the kept checkpoint");
    if ("message" in checked) return { ok: false, problem: checked };
    if (checked.size > latest.size) {
      return failed(
        `the kept checkpoint covers ${checked.size} events but the latest only ${latest.size}: the log was cut back or rewritten`,
      );
    }
    kept = checked;
  }

  const walk = new Walk(firstPage.tenant_id, keys, latest, kept);
  const problem = walk.empty() ?? (await walkPages(api, walk, firstPage));
  if (problem) return { ok: false, problem };
  return {
    ok: true,
    treeSize: latest.size,
    rootHash: toBase64(latest.rootHash),
    segments: walk.segments,
    events: walk.frontier.size,
    notices: walk.notices,
  };
}

async function walkPages(api: ArchiveApi, walk: Walk, firstPage: SegmentPage): Promise<Problem | null> {
  let page = firstPage;
  let from = 1;
  for (;;) {
    for (const entry of page.data) {
      if (walk.done()) return walk.beyondLatest();
      const problem = await walk.segment(entry, api);
      if (problem) return problem;
    }
    if (walk.done() && page.next_from_seq !== null) return walk.beyondLatest();
    if (page.next_from_seq === null) return walk.finish();
    if (page.next_from_seq <= from) return { message: "the segment listing does not move forward" };
    from = page.next_from_seq;
    const next = await api.segments(from);
    if ("message" in next) return next;
    if (next.tenant_id !== page.tenant_id) return { message: "the segment listing changed tenant between pages" };
    page = next;
  }
}

/** The state of one pass over the log: the next seq expected and the frontier so far. */
class Walk {
  readonly frontier = new Frontier();
  readonly notices: string[] = [];
  segments = 0;
  #next = 1;
  #lastSegment: string | undefined;

  readonly tenantId: string;
  readonly origin: string;
  readonly keys: AuditVerifierKey[];
  readonly latest: Checkpoint;
  readonly kept: Checkpoint | null;

  constructor(tenantId: string, keys: AuditVerifierKey[], latest: Checkpoint, kept: Checkpoint | null) {
    this.tenantId = tenantId;
    this.origin = checkpointOrigin(tenantId);
    this.keys = keys;
    this.latest = latest;
    this.kept = kept;
  }

  done(): boolean {
    return this.frontier.size >= this.latest.size;
  }

  /** Before the first event: a kept or latest checkpoint of size 0 is the empty tree's. */
  empty(): Problem | null {
    return this.atSize(undefined);
  }

  async segment(entry: SegmentEntry, api: ArchiveApi): Promise<Problem | null> {
    const name = entry.name;
    const range = parseSegmentName(name);
    if (!range) return { message: `a listed segment has a malformed name: ${JSON.stringify(name).slice(0, 80)}` };
    if (entry.first_seq !== range.first || entry.last_seq !== range.last) {
      return { message: "the listing's seq range differs from the segment's name", segment: name };
    }
    if (range.first > this.#next) {
      const missing =
        range.first - 1 === this.#next ? `seq ${this.#next} is` : `seqs ${this.#next}–${range.first - 1} are`;
      return { message: `${missing} in no segment (a segment was deleted)`, segment: name, seq: this.#next };
    }
    if (range.first < this.#next) {
      return { message: `the segment overlaps the one before it`, segment: name, seq: range.first };
    }
    const body = await api.segmentBody(name);
    if ("message" in body) return { ...body, segment: name, seq: this.#next };
    this.#lastSegment = name;
    // After a bad line the rest is still read (not checked): a corrupt gzip object can inflate
    // to plausible lines before its CRC fails, and then the object, not the line, is the problem.
    let problem: Problem | null = null;
    try {
      for await (const line of readSegmentLines(body)) {
        if (problem) continue;
        if (this.#next > range.last) {
          problem = { message: "the segment holds more events than its name says", seq: this.#next };
          continue;
        }
        problem = this.line(line) ?? this.atSize(name);
      }
    } catch (error) {
      const why = error instanceof Error ? error.message : String(error);
      const seq = problem?.seq ?? this.#next;
      return { message: `the segment is not a whole gzip NDJSON object: ${why}`, segment: name, seq };
    }
    if (problem) return { ...problem, segment: name };
    if (this.#next - 1 !== range.last) {
      return {
        message: `the segment ends at seq ${this.#next - 1}, its name says ${range.last}`,
        segment: name,
        seq: this.#next,
      };
    }
    this.segments += 1;
    return this.segmentCheckpoint(entry);
  }

  line(line: string): Problem | null {
    const seq = this.#next;
    let event: unknown;
    let canonical: string;
    try {
      event = JSON.parse(line);
      canonical = canonicalEvent(event);
    } catch {
      return { message: "a line is not JSON", seq };
    }
    if (canonical !== line) return { message: "a line is not canonical JSON (RFC 8785)", seq };
    if (typeof event !== "object" || event === null || Array.isArray(event))
      return { message: "a line is not an event", seq };
    const fields = event as Record<string, unknown>;
    if (fields.v !== 1)
      return { message: `an event has v ${canonicalEvent(fields.v ?? null)}; this verifier reads v 1`, seq };
    if (fields.tenantId !== this.tenantId) return { message: "an event belongs to another tenant", seq };
    if (fields.seq !== seq) {
      const found = typeof fields.seq === "number" ? String(fields.seq) : "no seq";
      const why =
        typeof fields.seq === "number" && fields.seq < seq
          ? "an event is repeated or out of order"
          : "an event is missing or out of order";
      return { message: `expected seq ${seq}, found ${found} (${why})`, seq };
    }
    this.frontier.append(utf8.encode(line));
    this.#next += 1;
    return null;
  }

  /** At the kept and the latest checkpoints' sizes, the root so far must be theirs. */
  atSize(segment: string | undefined): Problem | null {
    const size = this.frontier.size;
    if (this.kept?.size === size && !bytesEqual(this.frontier.root(), this.kept.rootHash)) {
      return {
        message: `the log does not extend the kept checkpoint: its first ${size} events are not the ones that checkpoint signed (history was rewritten)`,
        segment,
      };
    }
    if (this.latest.size === size && !bytesEqual(this.frontier.root(), this.latest.rootHash)) {
      return { message: `the events differ from what the latest checkpoint signed (root at size ${size})`, segment };
    }
    return null;
  }

  async segmentCheckpoint(entry: SegmentEntry): Promise<Problem | null> {
    if (entry.checkpoint === null) {
      this.notices.push(
        `segment ${entry.name} has no checkpoint of its own (its events are still covered by later ones)`,
      );
      return null;
    }
    const checked = await openCheckpoint(entry.checkpoint, this.keys, this.origin, "the segment's checkpoint");
    if ("message" in checked) return { ...checked, segment: entry.name };
    if (checked.size !== entry.last_seq) {
      return {
        message: `the segment's checkpoint is for size ${checked.size}, not ${entry.last_seq}`,
        segment: entry.name,
      };
    }
    if (!bytesEqual(checked.rootHash, this.frontier.root())) {
      return { message: "the events differ from what the segment's checkpoint signed", segment: entry.name };
    }
    return null;
  }

  /** Segments sealed after the latest checkpoint was read: listed, not verified by this run. */
  beyondLatest(): null {
    this.notices.push(
      `segments after seq ${this.latest.size} were sealed after the latest checkpoint was read and are not verified by this run`,
    );
    return null;
  }

  finish(): Problem | null {
    if (this.frontier.size >= this.latest.size) return null;
    return {
      message: `the log ends at seq ${this.frontier.size} but the latest checkpoint covers ${this.latest.size} events (truncated tail)`,
      segment: this.#lastSegment,
      seq: this.frontier.size + 1,
    };
  }
}

async function openCheckpoint(
  note: string,
  keys: AuditVerifierKey[],
  origin: string,
  what: string,
): Promise<Checkpoint | Problem> {
  const verdict = await openNote(note, keys);
  if (!verdict.ok) {
    const why = verdict.reason === "unknown_key" ? "it is not signed by a known key" : verdict.message;
    return { message: `${what} does not verify: ${why}` };
  }
  const checkpoint = parseCheckpoint(verdict.text);
  if (checkpoint instanceof AppError) return { message: `${what} is malformed: ${checkpoint.message}` };
  if (checkpoint.origin !== origin) {
    return { message: `${what} is for another log (${checkpoint.origin.slice(0, 80)}, not ${origin})` };
  }
  if (checkpoint.size === 0 && !bytesEqual(checkpoint.rootHash, EMPTY_ROOT)) {
    return { message: `${what} has size 0 but not the empty tree's root` };
  }
  return checkpoint;
}

function pinnedKeys(vkeys: string[]): AuditVerifierKey[] | Problem {
  const keys: AuditVerifierKey[] = [];
  for (const vkey of vkeys) {
    const key = parseVkey(vkey);
    if (key instanceof AppError) return { message: `a pinned key is malformed: ${key.message}` };
    keys.push(key);
  }
  return keys.length > 0 ? keys : { message: "no keys to verify with" };
}

function failed(message: string): VerifyResult {
  return { ok: false, problem: { message } };
}

/** The four routes of the archive API, each answer checked for shape; failures are Problems. */
class ArchiveApi {
  readonly #base: string;
  readonly #token: string;
  readonly #fetch: VerifyFetch;

  constructor(options: VerifyOptions) {
    this.#base = options.baseUrl.replace(/\/+$/, "");
    this.#token = options.token;
    this.#fetch = options.fetch;
  }

  async publishedKeys(): Promise<AuditVerifierKey[] | Problem> {
    const response = await this.#get("/.well-known/outlay-audit-keys", false);
    if ("message" in response) return response;
    const body = await json(response);
    const listed = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(listed) || listed.length === 0)
      return { message: "the published key list is empty or malformed" };
    const keys: AuditVerifierKey[] = [];
    for (const item of listed as Record<string, unknown>[]) {
      const key = typeof item?.vkey === "string" ? parseVkey(item.vkey) : null;
      if (!key || key instanceof AppError) return { message: "a published key has a malformed vkey" };
      const consistent =
        item.name === key.name &&
        item.key_id === toHex(key.keyId) &&
        item.algorithm === "Ed25519" &&
        item.public_key === toBase64(key.publicKey);
      if (!consistent) return { message: `the published key ${key.name} does not match its own vkey` };
      keys.push(key);
    }
    return keys;
  }

  /** The latest signed checkpoint, or null when the API says nothing is sealed yet (404). */
  async latestCheckpoint(): Promise<string | null | Problem> {
    const response = await this.#get("/api/v1/audit/checkpoint", true, [404]);
    if ("message" in response) return response;
    if (response.status === 404) {
      await response.body?.cancel();
      return null;
    }
    return response.text();
  }

  async segments(fromSeq: number): Promise<SegmentPage | Problem> {
    const response = await this.#get(`/api/v1/audit/segments?from_seq=${fromSeq}`, true);
    if ("message" in response) return response;
    const page = (await json(response)) as Partial<SegmentPage> | null;
    const wellFormed =
      typeof page?.tenant_id === "string" &&
      page.tenant_id !== "" &&
      Array.isArray(page.data) &&
      (page.next_from_seq === null || Number.isSafeInteger(page.next_from_seq)) &&
      page.data.every(
        (entry) =>
          typeof entry?.name === "string" &&
          Number.isSafeInteger(entry.first_seq) &&
          Number.isSafeInteger(entry.last_seq) &&
          (entry.checkpoint === null || typeof entry.checkpoint === "string"),
      );
    if (!wellFormed) return { message: "the segment listing is malformed" };
    const checked = page as SegmentPage;
    if (checked.origin !== checkpointOrigin(checked.tenant_id)) {
      return { message: "the segment listing names an origin that is not its tenant's" };
    }
    return checked;
  }

  async segmentBody(name: string): Promise<ReadableStream<Uint8Array> | Problem> {
    const response = await this.#get(`/api/v1/audit/segments/${encodeURIComponent(name)}`, true);
    if ("message" in response) return { message: `the segment could not be downloaded (${response.message})` };
    return response.body ?? { message: "the segment download has no body" };
  }

  async #get(path: string, auth: boolean, allowed: number[] = []): Promise<Response | Problem> {
    const headers: Record<string, string> = auth ? { authorization: `Bearer ${this.#token}` } : {};
    let response: Response;
    try {
      response = await this.#fetch(`${this.#base}${path}`, { headers });
    } catch (error) {
      const why = error instanceof Error ? error.message : "network error";
      return { message: `GET ${path.split("?")[0]} failed: ${why}` };
    }
    if (response.ok || allowed.includes(response.status)) return response;
    await response.body?.cancel();
    return { message: `GET ${path.split("?")[0]} answered HTTP ${response.status}` };
  }
}

async function json(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return null;
  }
}
