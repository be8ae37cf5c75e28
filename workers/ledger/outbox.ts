// What the ledger sends out, written in the same transaction as the change it reports and sent
// after it: D1 mirror statements (so listings see every change the ledger made, in order), audit
// events (to AUDIT_QUEUE) and usage events the gateway could not queue (to USAGE_QUEUE). A failed
// send stays in storage and the alarm retries. One bad row never holds up the others: queue
// messages go through queue-lane.ts; a mirror statement D1 keeps refusing is set aside here.
import { isAuditEvent, SYSTEM, type AuditDraft, type AuditEvent, type AuditPack } from "../../shared/audit.ts";
import { tenantDb } from "../store/index.ts";
import type { UsageMessage } from "../../shared/usage.ts";
import { deadLetter, flushLane, MAX_ATTEMPTS, type DeadReason } from "./queue-lane.ts";
import { z } from "zod";
import { parseStored } from "../../shared/stored-json.ts";

/** An audit draft as stored: an object (its fields are checked with the event it becomes), or a
 * run of them. */
const Draft = z.record(z.string(), z.unknown());
const StoredAudit = z.union([Draft, z.array(Draft).min(2)]);

/** A mirror statement's parameters, as stored beside its SQL. */
const Params = z.array(z.union([z.string(), z.number(), z.boolean(), z.null()]));

const BATCH = 50;
const TYPE_CHARS = 64;
/** A run of audit events shares one outbox row up to this much JSON (a queue message holds
 * 126,000 bytes; a run that still comes out larger is split by the lane, never set aside). */
const RUN_MAX_CHARS = 40_000;
/** A draft larger than this gets a row of its own, so that it is set aside alone if it must be. */
const DRAFT_ALONE_CHARS = 8_000;
/**
 * Calls closer together than this (by the time each call's decision is made for, `at`) mean the
 * ledger is busy: the next decision waits for the ledger's next turn (a timer, about a millisecond
 * here) to share a row with the others decided meanwhile.
 */
const BUSY_GAP_MS = 1;
/**
 * Sent audit rows kept to be written over by the next runs (#insertAudit). A flush (every 500 ms
 * under load) sends what was written since the last one, and the rows it frees are the ones the
 * next half second writes over; at 128 a tenant at 400 calls/s already deleted rows again. Past
 * this many (a backlog once sent, or thousands of calls a second) they are deleted as they are
 * sent, so stored stale drafts stay bounded.
 */
const SENT_KEEP = 1_000;
/** `meta.audit_sent` as a number in SQL (0 before the first flush that set it). */
const SENT_UP_TO = "COALESCE((SELECT CAST(v AS INTEGER) FROM meta WHERE k = 'audit_sent'), 0)";

export class Outbox {
  readonly #sql: SqlStorage;
  readonly #env: Env;
  /** One flush at a time, so mirrored changes reach D1 in the order the ledger made them. */
  #flushing: Promise<void> = Promise.resolve();
  /** Decision events waiting for the ledger's next turn (deferAudit), and that turn's write. */
  #deferred: AuditDraft[] = [];
  #deferredWrite: Promise<void> | null = null;
  /** The time of the last decision (its call's `now`, as the gateway gave it). */
  #lastDecisionAt = 0;

  constructor(sql: SqlStorage, env: Env) {
    this.#sql = sql;
    this.#env = env;
  }

  /** A D1 statement; params exclude the tenant: it is always ?1, bound by the tenant-scoped accessor. */
  mirror(sql: string, params: unknown[]): void {
    this.#sql.exec("INSERT INTO outbox (sql, params) VALUES (?, ?)", sql, JSON.stringify(params));
  }

  /** The event gets the tenant's next seq: one above every seq given before, waiting or sent. */
  audit(draft: AuditDraft): void {
    this.#insertAudit(JSON.stringify(draft), 1);
  }

  /**
   * Events in order, on consecutive seqs, written as runs: one row holds a JSON array of up to
   * RUN_MAX_CHARS of drafts (its seq is the first event's, `n` how many), so a burst of events
   * costs one row written (see #insertAudit) instead of one each.
   */
  auditRun(drafts: readonly AuditDraft[]): void {
    let run: string[] = [];
    let chars = 0;
    const close = () => {
      if (run.length > 0) this.#insertAudit(run.length === 1 ? (run[0] ?? "") : `[${run.join(",")}]`, run.length);
      run = [];
      chars = 0;
    };
    for (const draft of drafts) {
      const text = JSON.stringify(draft);
      if (text.length > DRAFT_ALONE_CHARS) {
        close();
        this.#insertAudit(text, 1);
        continue;
      }
      if (chars + text.length > RUN_MAX_CHARS) close();
      run.push(text);
      chars += text.length + 1;
    }
    close();
  }

  /**
   * An event of a call's decision (admitted, refused). When the ledger is busy (the previous
   * decision's call came within BUSY_GAP_MS of this one, or a run is already waiting) it is
   * written together with the decisions made before the ledger's next turn as one run
   * (auditRun); otherwise at once, so that a call at a quiet time never waits for a timer.
   * Resolves once it is written: the caller answers only after its event is stored. Seqs are in
   * the order the decisions were made.
   */
  deferAudit(draft: AuditDraft): Promise<void> {
    const busy = this.#deferredWrite !== null || Math.abs(draft.at - this.#lastDecisionAt) < BUSY_GAP_MS;
    this.#lastDecisionAt = draft.at;
    if (!busy) {
      this.audit(draft);
      return Promise.resolve();
    }
    this.#deferred.push(draft);
    this.#deferredWrite ??= new Promise<void>((resolve) => setTimeout(resolve, 0)).then(() => {
      const drafts = this.#deferred;
      this.#deferred = [];
      this.#deferredWrite = null;
      this.auditRun(drafts);
    });
    return this.#deferredWrite;
  }

  /**
   * One row of `n` events (a draft, or a JSON array of them): seqs one above every seq given
   * before. The oldest sent row is written over when there is one (one row written, where a new
   * row and the sent one's delete are two); otherwise a row is added.
   */
  #insertAudit(event: string, n: number): void {
    // Rows never overlap and go up by seq, so the last row's last seq is the highest kept; a sent
    // row's seqs may be gone from the table (sent out of order, or trimmed), hence the marks.
    const { next, spare } = this.#sql
      .exec<{ next: number; spare: number | null }>(
        `WITH sent (up_to) AS (SELECT ${SENT_UP_TO})
         SELECT MAX(
           COALESCE((SELECT seq + n - 1 FROM audit_outbox ORDER BY seq DESC LIMIT 1), 0),
           COALESCE((SELECT CAST(v AS INTEGER) FROM meta WHERE k = 'audit_seq'), 0), up_to) + 1 AS next,
         (SELECT seq FROM audit_outbox WHERE seq <= up_to ORDER BY seq LIMIT 1) AS spare FROM sent`,
      )
      .one();
    if (spare !== null)
      this.#sql.exec(
        "UPDATE audit_outbox SET seq = ?, n = ?, event = ?, attempts = 0 WHERE seq = ?",
        next,
        n,
        event,
        spare,
      );
    else this.#sql.exec("INSERT INTO audit_outbox (seq, n, event) VALUES (?, ?, ?)", next, n, event);
  }

  /** Audit rows at or below this seq are sent: kept only to be written over (#insertAudit). */
  #sentUpTo(): number {
    return this.#sql.exec<{ up_to: number }>(`SELECT ${SENT_UP_TO} AS up_to`).one().up_to;
  }

  /** Usage queue messages to carry to USAGE_QUEUE as they are (the gateway could not queue them):
   * a pack is stored by its contents, so it must arrive as packed. `request_id` is the first
   * event's, for the notice if the message is ever set aside. */
  usage(messages: readonly UsageMessage[]): void {
    for (const m of messages) {
      const first = "pack" in m ? m.events[0]?.requestId : m.requestId;
      this.#sql.exec("INSERT INTO usage_outbox (request_id, event) VALUES (?, ?)", first ?? "", JSON.stringify(m));
    }
  }

  /** Whether queue messages are waiting (written since, or during, the last flush). */
  hasQueued(): boolean {
    return (
      this.#sql
        .exec("SELECT 1 FROM audit_outbox WHERE seq > ? UNION ALL SELECT 1 FROM usage_outbox LIMIT 1", this.#sentUpTo())
        .toArray().length > 0
    );
  }

  /** Sends what is pending; false when something could not be sent and must be retried. */
  flush(tenantId: string | null): Promise<boolean> {
    const run = this.#flushing.then(async () => {
      const now = Date.now();
      const mirrored = tenantId ? await this.#flushMirror(tenantId, now) : true;
      const audited = tenantId ? await this.#flushAudit(tenantId, now) : true;
      const used = await this.#flushUsage(now);
      return mirrored && audited && used;
    });
    this.#flushing = run.then(() => undefined);
    return run;
  }

  /**
   * Statements go in order, a batch (one transaction) at a time. When D1 refuses a batch they go
   * one by one; a statement D1 refuses while it answers a probe is counted, and set aside at
   * MAX_ATTEMPTS (alert, `mirror.statement_dropped` audit event); the ones after it wait for it,
   * since a later statement may depend on it.
   */
  async #flushMirror(tenantId: string, now: number): Promise<boolean> {
    const db = tenantDb(this.#env.DB, tenantId);
    for (;;) {
      const pending = this.#sql
        .exec<{ seq: number; sql: string; params: string; attempts: number }>(
          `SELECT seq, sql, params, attempts FROM outbox ORDER BY seq LIMIT ${BATCH}`,
        )
        .toArray();
      const last = pending.at(-1);
      if (!last) return true;
      try {
        await db.batch(pending.map((p) => db.prepare(p.sql, ...parseStored(Params, p.params, "mirror params"))));
        this.#sql.exec("DELETE FROM outbox WHERE seq <= ?", last.seq);
        if (pending.length < BATCH) return true;
        continue;
      } catch (error) {
        console.error("ledger mirror to D1 failed; one by one", error instanceof Error ? error.message : "unknown");
      }
      for (const p of pending) {
        try {
          await db.prepare(p.sql, ...parseStored(Params, p.params, "mirror params")).run();
          this.#sql.exec("DELETE FROM outbox WHERE seq = ?", p.seq);
          continue;
        } catch {
          // Told apart below: D1 down (retry, not counted) or this statement refused.
        }
        if (!(await this.#d1Answers())) return false;
        if (p.attempts + 1 < MAX_ATTEMPTS) {
          this.#sql.exec("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", p.seq);
          return false;
        }
        const bytes = p.sql.length + p.params.length;
        deadLetter(this.#sql, "mirror", p.seq, "refused", bytes, JSON.stringify({ sql: p.sql, params: p.params }), now);
        this.#sql.exec("DELETE FROM outbox WHERE seq = ?", p.seq);
        this.audit({
          at: now,
          type: "mirror.statement_dropped",
          actor: SYSTEM,
          requestId: null,
          subject: null,
          data: { seq: p.seq, bytes, reason: "refused" },
        });
      }
    }
  }

  async #d1Answers(): Promise<boolean> {
    try {
      await this.#env.DB.prepare("SELECT 1").first();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A set-aside audit event is replaced, at its own seq, by a small `audit.event_dropped` notice
   * (its type, size and why), so the tenant's trail keeps its order and shows the gap; the
   * notice itself is kept until the queue takes it.
   */
  #flushAudit(tenantId: string, now: number): Promise<boolean> {
    return flushLane(
      this.#sql,
      {
        table: "audit_outbox",
        queue: this.#env.AUDIT_QUEUE,
        pack: (bodies): AuditPack => ({ v: 1, pack: "audit", tenantId, events: bodies.flat() as AuditEvent[] }),
        // A row is one event, or a run of them (an array) on consecutive seqs from the row's.
        toBody: (seq, stored): AuditEvent | AuditEvent[] => {
          const drafts = parseStored(StoredAudit, stored, "audit draft");
          const events = (Array.isArray(drafts) ? drafts : [drafts]).map((draft, i) => {
            const event: unknown = { v: 1, tenantId, seq: seq + i, ...draft };
            // Unreadable drafts are set aside by the lane (an audit.event_dropped notice keeps the seq).
            if (!isAuditEvent(event)) throw new Error("stored audit draft is malformed");
            return event;
          });
          return Array.isArray(drafts) ? events : (events[0] as AuditEvent);
        },
        sentUpTo: () => this.#sentUpTo(),
        retire: (seqs) => this.#retireAudit(seqs),
        // A run the queue keeps refusing, or too large after all, goes on as one row per event:
        // only the event at fault is then set aside.
        split: (seq, stored) => {
          let drafts: unknown;
          try {
            drafts = JSON.parse(stored);
          } catch {
            return false;
          }
          if (!Array.isArray(drafts) || drafts.length < 2) return false;
          this.#sql.exec("DELETE FROM audit_outbox WHERE seq = ?", seq);
          drafts.forEach((draft: unknown, i) => {
            this.#sql.exec("INSERT INTO audit_outbox (seq, n, event) VALUES (?, 1, ?)", seq + i, JSON.stringify(draft));
          });
          return true;
        },
        setAside: (seq, stored, reason, bytes) => {
          const type = typeOf(stored);
          // A notice is never given up: deleting it would leave its seq empty, and the archive
          // seals only runs without a gap. It is small and well formed; it waits and is tried
          // again (the others are not held behind it), its refusals on record in outbox_dead.
          if (type === "audit.event_dropped") {
            this.#sql.exec("UPDATE audit_outbox SET attempts = 0 WHERE seq = ?", seq);
            return;
          }
          // An unreadable run leaves a notice at each of its seqs.
          const n = this.#sql.exec<{ n: number }>("SELECT n FROM audit_outbox WHERE seq = ?", seq).one().n;
          const notices = Array.from({ length: n }, (_, i): AuditDraft => ({
            at: now,
            type: "audit.event_dropped",
            actor: SYSTEM,
            requestId: null,
            subject: null,
            data: { seq: seq + i, droppedType: type, bytes, reason },
          }));
          this.#sql.exec(
            "UPDATE audit_outbox SET event = ?, attempts = 0 WHERE seq = ?",
            JSON.stringify(n === 1 ? notices[0] : notices),
            seq,
          );
        },
      },
      now,
    );
  }

  /**
   * Rows the queue accepted. Those below every row still waiting are kept, to be written over,
   * and `audit_sent` moves up past them (one row written per flush, not one per row). One
   * accepted past a row still waiting (a refused message and the ones sent after it) is deleted,
   * its last seq kept in `audit_seq` so that it is never given again. Sent rows beyond
   * SENT_KEEP are deleted, oldest first.
   */
  #retireAudit(seqs: readonly number[]): void {
    const sent = this.#sentUpTo();
    const list = JSON.stringify(seqs);
    const { lowest, top } = this.#sql
      .exec<{ lowest: number | null; top: number | null }>(
        `SELECT (SELECT MIN(seq) FROM audit_outbox WHERE seq > ?1 AND seq NOT IN (SELECT value FROM json_each(?2))) AS lowest,
           (SELECT MAX(seq + n - 1) FROM audit_outbox WHERE seq IN (SELECT value FROM json_each(?2))) AS top`,
        sent,
        list,
      )
      .one();
    if (lowest !== null && top !== null && top > lowest) {
      this.#sql.exec(
        `INSERT INTO meta (k, v) VALUES ('audit_seq', ?) ON CONFLICT (k)
           DO UPDATE SET v = CAST(MAX(CAST(v AS INTEGER), CAST(excluded.v AS INTEGER)) AS TEXT)`,
        String(top),
      );
      this.#sql.exec(
        "DELETE FROM audit_outbox WHERE seq > ? AND seq IN (SELECT value FROM json_each(?))",
        lowest,
        list,
      );
    }
    const upTo = lowest !== null ? lowest - 1 : (top ?? sent);
    if (upTo <= sent) return;
    // An upsert writes one row where INSERT OR REPLACE writes two (the row and its key's index).
    this.#sql.exec(
      "INSERT INTO meta (k, v) VALUES ('audit_sent', ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
      String(upTo),
    );
    this.#sql.exec(
      `DELETE FROM audit_outbox WHERE seq <= ?1
         AND seq < (SELECT seq FROM audit_outbox WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1 OFFSET ${SENT_KEEP - 1})`,
      upTo,
    );
  }

  /**
   * Usage events taken over from the gateway. Once queued, their settle record is refreshed, so
   * the usage consumer's settle (up to SETTLED_KEEP_MS later) is still recognised as a repeat
   * even when the event waited here long. A set-aside event leaves a `usage.event_dropped`
   * audit event with its request id.
   */
  #flushUsage(now: number): Promise<boolean> {
    return flushLane(
      this.#sql,
      {
        table: "usage_outbox",
        queue: this.#env.USAGE_QUEUE,
        toBody: (_seq, stored) => JSON.parse(stored) as unknown,
        setAside: (seq, _stored, reason: DeadReason, bytes) => {
          const requestId = this.#sql
            .exec<{ request_id: string }>("SELECT request_id FROM usage_outbox WHERE seq = ?", seq)
            .toArray()[0]?.request_id;
          this.#sql.exec("DELETE FROM usage_outbox WHERE seq = ?", seq);
          this.audit({
            at: now,
            type: "usage.event_dropped",
            actor: SYSTEM,
            requestId: requestId?.slice(0, TYPE_CHARS) ?? null,
            subject: null,
            data: { bytes, reason },
          });
        },
        accepted: (seqs) => {
          this.#sql.exec(
            `UPDATE settled SET at = MAX(at, ?1) WHERE request_id IN
               (SELECT json_extract(o.event, '$.requestId') FROM usage_outbox o WHERE o.seq IN (SELECT value FROM json_each(?2))
                UNION ALL SELECT json_extract(e.value, '$.requestId') FROM usage_outbox o, json_each(o.event, '$.events') e
                WHERE o.seq IN (SELECT value FROM json_each(?2)))`,
            now,
            JSON.stringify(seqs),
          );
        },
      },
      now,
    );
  }
}

/** The type of a stored audit draft, bounded, or "unknown" when it cannot be read. */
function typeOf(stored: string): string {
  try {
    const type = (JSON.parse(stored) as { type?: unknown }).type;
    return typeof type === "string" ? type.slice(0, TYPE_CHARS) : "unknown";
  } catch {
    return "unknown";
  }
}
