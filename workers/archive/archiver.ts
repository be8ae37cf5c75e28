// AuditArchiver: one Durable Object per tenant (named by tenant id) that turns the tenant's audit
// events into the sealed archive in R2. The audit consumer hands it every event it takes off the
// queue (in any order, redeliveries included); it keeps them in `runs` (one row per stretch of
// consecutive seqs received together, so a batch costs a row, not a row per event) until the run
// that follows the last sealed seq is long enough (SEGMENT_MIN events) or old enough (sealAfterMs),
// then seals that run as one segment: gzip NDJSON in seq order, written with a create-only put,
// the Merkle frontier advanced, and a checkpoint for the new tree size signed and written beside
// it. It never seals past a missing seq, so segments have no gap and no overlap.
//
// A separate object from the TenantLedger so that hashing, gzip and R2 writes never queue behind
// (or ahead of) the hot path's admissions.
import { DurableObject } from "cloudflare:workers";
import { isAuditEvent, type AuditEvent } from "../../shared/audit.ts";
import { AppError } from "../../shared/errors.ts";
import {
  canonicalEvent,
  checkpointOrigin,
  encodeLines,
  formatCheckpoint,
  Frontier,
  loadSigningKeys,
  parseCheckpoint,
  signNote,
  toHex,
  bytesEqual,
} from "../../shared/tlog.ts";
import { checkpointKey, segmentKey } from "./layout.ts";

/** A run this long is sealed at once; a shorter one waits for sealAfterMs. */
const SEGMENT_MIN = 1000;
/** At most this many events per segment. */
const SEGMENT_MAX = 5000;
const DEFAULT_SEAL_AFTER_MS = 60_000;
/** A seal that failed (R2 or the signing keys) is tried again this much later. */
const RETRY_MS = 30_000;

// `runs` holds events received and not yet sealed: the canonical lines of the seqs first_seq to
// last_seq, joined by "\n" (a canonical line never holds one). Runs never overlap, and each
// starts after the last sealed seq.
const SCHEMA = `
  CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
  CREATE TABLE IF NOT EXISTS runs (
    first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, lines TEXT NOT NULL, received_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS segments (
    first_seq INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, events INTEGER NOT NULL, bytes INTEGER NOT NULL,
    sealed_at INTEGER NOT NULL);`;

/** Before runs, each waiting event had a `pending` row: they become runs of one. */
const FROM_PENDING = `
  INSERT OR IGNORE INTO runs (first_seq, last_seq, lines, received_at) SELECT seq, seq, line, received_at FROM pending;
  DROP TABLE pending;`;

type Run = { first_seq: number; last_seq: number };
type Line = { seq: number; line: string };

export type SegmentEntry = { firstSeq: number; lastSeq: number; events: number; bytes: number; sealedAt: number };

export type ArchiveStatus = {
  /** events sealed: the latest checkpoint's tree size (0 before the first segment) */
  treeSize: number;
  /** events received and waiting to be sealed */
  pending: number;
  /** the seq the next segment must start with, and whether it has arrived */
  nextSeq: number;
  waitingForNext: boolean;
};

export type AppendRequest = { tenantId: string; events: AuditEvent[] };
/** How many events were taken (new or repeated), or why none was: nothing is taken from a
 * request that holds one event this archive must not sign. */
export type AppendOutcome = { accepted: number } | { refused: string };

export class AuditArchiver extends DurableObject<Env> {
  #sql: SqlStorage;
  #sealing: Promise<void> | null = null;
  #sealed: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    this.#sql.exec(SCHEMA);
    if (this.#sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending'").toArray().length > 0) {
      ctx.storage.transactionSync(() => this.#sql.exec(FROM_PENDING));
    }
  }

  /** Takes events (any order, repeats ignored); seals what is ready. */
  async append({ tenantId, events }: AppendRequest): Promise<AppendOutcome> {
    // Checked here too: this object writes what it is given into a signed log.
    if (!this.#bind(tenantId)) return { refused: "this archive belongs to another organisation" };
    if (!events.every((e) => isAuditEvent(e) && e.tenantId === tenantId)) {
      return { refused: "an event of another shape or organisation" };
    }
    const now = Date.now();
    this.ctx.storage.transactionSync(() => this.#store(events, now));
    // The events are stored: a seal that fails now is the alarm's to retry, not the queue's.
    if (this.#fullRunWaits()) {
      try {
        await this.#seal(false);
      } catch (error) {
        logSealFailure(error);
        await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
        return { accepted: events.length };
      }
    }
    await this.#armAlarm();
    return { accepted: events.length };
  }

  /** Seals every run that waits, however short (the alarm; tests and the operator may call it). */
  async sealNow(): Promise<void> {
    await this.#seal(true);
    await this.#armAlarm();
  }

  override async alarm(): Promise<void> {
    try {
      await this.#seal(true);
    } catch (error) {
      logSealFailure(error);
      await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
      return;
    }
    await this.#armAlarm();
  }

  status(): ArchiveStatus {
    const treeSize = this.#treeSize();
    const pending = this.#sql
      .exec<{ n: number }>("SELECT COALESCE(SUM(last_seq - first_seq + 1), 0) AS n FROM runs")
      .one().n;
    const next = this.#sql.exec("SELECT 1 FROM runs WHERE first_seq = ?", treeSize + 1).toArray().length > 0;
    return { treeSize, pending, nextSeq: treeSize + 1, waitingForNext: pending > 0 && !next };
  }

  /** Sealed segments whose last seq is at least `fromSeq`, oldest first. */
  segments({ fromSeq, limit }: { fromSeq: number; limit: number }): SegmentEntry[] {
    return this.#sql
      .exec<{ first_seq: number; last_seq: number; events: number; bytes: number; sealed_at: number }>(
        "SELECT first_seq, last_seq, events, bytes, sealed_at FROM segments WHERE last_seq >= ? ORDER BY first_seq LIMIT ?",
        fromSeq,
        limit,
      )
      .toArray()
      .map((r) => ({
        firstSeq: r.first_seq,
        lastSeq: r.last_seq,
        events: r.events,
        bytes: r.bytes,
        sealedAt: r.sealed_at,
      }));
  }

  /** Deletes everything this object stores (the purge of a closed organisation); the live
   * instance is left with empty tables. */
  async purge(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.#sql.exec(SCHEMA);
    this.#sealed = 0;
  }

  /**
   * Stores the events not sealed and not already held (the first copy of a seq is kept), one
   * row per stretch of consecutive seqs.
   */
  #store(events: readonly AuditEvent[], now: number): void {
    const sealed = this.#treeSize();
    const fresh = events.filter((e) => e.seq > sealed).sort((a, b) => a.seq - b.seq);
    const low = fresh[0]?.seq;
    const high = fresh.at(-1)?.seq;
    if (low === undefined || high === undefined) return;
    const held = this.#sql
      .exec<Run>("SELECT first_seq, last_seq FROM runs WHERE last_seq >= ? AND first_seq <= ?", low, high)
      .toArray();
    let stretch: Line[] = [];
    const write = () => {
      const first = stretch[0];
      const last = stretch.at(-1);
      if (first && last) {
        this.#sql.exec(
          "INSERT INTO runs (first_seq, last_seq, lines, received_at) VALUES (?, ?, ?, ?)",
          first.seq,
          last.seq,
          stretch.map((l) => l.line).join("\n"),
          now,
        );
      }
      stretch = [];
    };
    for (const event of fresh) {
      const previous = stretch.at(-1)?.seq;
      if (previous === event.seq) continue;
      if (held.some((r) => r.first_seq <= event.seq && event.seq <= r.last_seq)) {
        write();
        continue;
      }
      if (previous !== undefined && event.seq !== previous + 1) write();
      stretch.push({ seq: event.seq, line: canonicalEvent(event) });
    }
    write();
  }

  /** Binds this archive to its tenant on the first append; false for any other tenant later. */
  #bind(tenantId: string): boolean {
    const bound = this.#meta("tenant_id");
    if (bound === null) this.#sql.exec("INSERT INTO meta (k, v) VALUES ('tenant_id', ?)", tenantId);
    return bound === null || bound === tenantId;
  }

  #meta(k: string): string | null {
    return this.#sql.exec<{ v: string }>("SELECT v FROM meta WHERE k = ?", k).toArray()[0]?.v ?? null;
  }

  /** How many events are sealed: the stored frontier's size, read once per instance and kept in
   * step by each seal (and the purge). */
  #treeSize(): number {
    this.#sealed ??= this.#frontier().size;
    return this.#sealed;
  }

  #frontier(): Frontier {
    const stored = this.#meta("frontier");
    if (stored === null) return new Frontier();
    const frontier = Frontier.from(JSON.parse(stored));
    if (frontier instanceof AppError) throw new Error(`archiver: stored frontier unreadable (${frontier.message})`);
    return frontier;
  }

  /** Whether SEGMENT_MIN events follow the last sealed seq without a gap. */
  #fullRunWaits(): boolean {
    let next = this.#treeSize() + 1;
    const start = next;
    for (const run of this.#sql.exec<Run>(
      "SELECT first_seq, last_seq FROM runs WHERE first_seq >= ? ORDER BY first_seq",
      next,
    )) {
      if (run.first_seq !== next) break;
      next = run.last_seq + 1;
      if (next - start >= SEGMENT_MIN) return true;
    }
    return false;
  }

  /** The events that follow the last sealed seq without a gap, at most SEGMENT_MAX. */
  #nextLines(next: number): Line[] {
    const lines: Line[] = [];
    for (const run of this.#sql.exec<Run & { lines: string }>(
      "SELECT first_seq, last_seq, lines FROM runs WHERE first_seq >= ? ORDER BY first_seq",
      next,
    )) {
      if (run.first_seq !== next + lines.length) break;
      for (const [i, line] of run.lines.split("\n").entries()) {
        if (lines.length === SEGMENT_MAX) return lines;
        lines.push({ seq: run.first_seq + i, line });
      }
    }
    return lines;
  }

  #seal(all: boolean): Promise<void> {
    // One seal at a time; a caller that arrives meanwhile waits for it, then finds less to do.
    const run = (this.#sealing ?? Promise.resolve()).then(() => this.#sealRuns(all));
    const tracked = run.finally(() => {
      if (this.#sealing === tracked) this.#sealing = null;
    });
    this.#sealing = tracked;
    return tracked;
  }

  async #sealRuns(all: boolean): Promise<void> {
    for (;;) {
      const frontier = this.#frontier();
      const rows = this.#nextLines(frontier.size + 1);
      if (rows.length === 0 || (!all && rows.length < SEGMENT_MIN)) return;
      await this.#sealOne(frontier, rows);
    }
  }

  async #sealOne(frontier: Frontier, rows: Line[]): Promise<void> {
    const tenantId = this.#meta("tenant_id");
    if (tenantId === null) throw new Error("archiver: sealing before any event");
    const keys = await loadSigningKeys(this.env.AUDIT_SIGNING_KEYS ?? "");
    if (keys instanceof AppError) throw new Error(keys.message);
    const signer = keys[0];
    if (!signer) throw new Error("archiver: no signing key");

    const first = rows[0]?.seq ?? 0;
    const last = rows.at(-1)?.seq ?? 0;
    const { gz, ndjson } = await encodeLines(
      rows.map((r) => r.line),
      frontier,
    );
    const digest = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", ndjson)));
    const raw = ndjson.length;
    const root = frontier.root();

    const bucket = this.env.AUDIT_ARCHIVE;
    const key = segmentKey(tenantId, first, last);
    const put = await bucket.put(key, gz, {
      onlyIf: new Headers({ "if-none-match": "*" }),
      httpMetadata: { contentType: "application/gzip" },
      customMetadata: { sha256: digest, events: String(rows.length), raw: String(raw) },
    });
    if (put === null) {
      // Already there: a seal that stopped after its put. The same content is fine; anything
      // else is never overwritten, and sealing stops here until someone looks.
      const existing = await bucket.head(key);
      if (existing?.customMetadata?.sha256 !== digest) throw new Error(`archiver: ${key} exists with other content`);
    }

    const now = Date.now();
    const text = formatCheckpoint({ origin: checkpointOrigin(tenantId), size: last, rootHash: root, time: now });
    const note = await signNote(text, signer);
    const cpKey = checkpointKey(tenantId, last);
    const written = await bucket.put(cpKey, note, {
      onlyIf: new Headers({ "if-none-match": "*" }),
      httpMetadata: { contentType: "text/plain; charset=utf-8" },
    });
    if (written === null) {
      const existing = await bucket.get(cpKey);
      const body = existing ? await existing.text() : "";
      const parsed = parseCheckpoint(body.slice(0, body.lastIndexOf("\n\n") + 1));
      if (parsed instanceof AppError || !bytesEqual(parsed.rootHash, root)) {
        throw new Error(`archiver: ${cpKey} exists with another root`);
      }
    }

    this.ctx.storage.transactionSync(() => {
      this.#sql.exec("INSERT OR REPLACE INTO meta (k, v) VALUES ('frontier', ?)", JSON.stringify(frontier.toJSON()));
      // The run the segment ends in may go on past it: its rest stays, starting after the segment.
      const cut = this.#sql
        .exec<Run & { lines: string }>(
          "SELECT first_seq, last_seq, lines FROM runs WHERE first_seq <= ? AND last_seq > ?",
          last,
          last,
        )
        .toArray()[0];
      this.#sql.exec("DELETE FROM runs WHERE last_seq <= ?", last);
      if (cut) {
        this.#sql.exec(
          "UPDATE runs SET first_seq = ?, lines = ? WHERE first_seq = ?",
          last + 1,
          cut.lines
            .split("\n")
            .slice(last + 1 - cut.first_seq)
            .join("\n"),
          cut.first_seq,
        );
      }
      this.#sql.exec(
        "INSERT OR REPLACE INTO segments (first_seq, last_seq, events, bytes, sealed_at) VALUES (?, ?, ?, ?, ?)",
        first,
        last,
        rows.length,
        gz.length,
        now,
      );
    });
    this.#sealed = frontier.size;
  }

  /** An alarm for the oldest event still waiting in a run, or none when nothing can be sealed. */
  async #armAlarm(): Promise<void> {
    const next = this.#treeSize() + 1;
    const head = this.#sql
      .exec<{ received_at: number }>("SELECT received_at FROM runs WHERE first_seq = ?", next)
      .toArray()[0];
    if (!head) return;
    const at = head.received_at + sealAfterMs(this.env);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }
}

function logSealFailure(error: unknown): void {
  console.error("audit archive: seal failed", error instanceof Error ? error.message.slice(0, 200) : "unknown");
}

function sealAfterMs(env: Env): number {
  const configured = Number(env.AUDIT_SEAL_AFTER_MS);
  return Number.isFinite(configured) && configured > 0 ? configured : DEFAULT_SEAL_AFTER_MS;
}
