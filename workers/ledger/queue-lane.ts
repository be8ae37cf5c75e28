// One queue-bound outbox table (audit_outbox, usage_outbox) and how it is sent, so that one bad
// message never holds up the others:
//
//   rows in seq order ─┬─ unreadable or over MESSAGE_MAX_BYTES ── set aside at once
//                      └─ sendBatch in batches under the Queues limits (shared/queue-limits.ts)
//                           └─ a batch refused ── its messages one by one, in seq order
//                                ├─ accepted ── deleted
//                                └─ refused ── counted, but only while other messages get through
//                                   (a queue that refuses everything is an outage: retried, never
//                                   counted); MAX_ATTEMPTS counted refusals ── set aside
//
// Setting aside keeps a bounded copy in outbox_dead and reports it (see deadLetter); what the
// lane does with the row itself (replace it by a notice, delete it) is its caller's choice. A row
// that holds a run of messages (audit_outbox) is never set aside whole: it is split into one row
// per message first, and each goes on by itself.
import {
  BATCH_MAX_MESSAGES,
  MESSAGE_MAX_BYTES,
  messageBytes,
  splitBatches,
  splitPacks,
} from "../../shared/queue-limits.ts";

/** Refusals of one message, counted while others get through, before it is set aside. */
export const MAX_ATTEMPTS = 3;
/** Set-aside rows kept per ledger (the newest), and how much of each body is kept. */
const DEAD_KEEP = 1_000;
const DEAD_BODY_CHARS = 16_384;

export type DeadReason = "too_large" | "unreadable" | "refused";
export type OutboxName = "audit" | "usage" | "mirror";

/**
 * Keeps a bounded copy of what could not be delivered, for an operator to inspect, and raises
 * the alert (the log names the outbox, seq, size and reason, never the content).
 */
export function deadLetter(
  sql: SqlStorage,
  outbox: OutboxName,
  seq: number,
  reason: DeadReason,
  bytes: number,
  body: string,
  now: number,
): void {
  sql.exec(
    "INSERT INTO outbox_dead (outbox, seq, reason, bytes, at, body) VALUES (?, ?, ?, ?, ?, ?)",
    outbox,
    seq,
    reason,
    bytes,
    now,
    body.slice(0, DEAD_BODY_CHARS),
  );
  sql.exec(
    "DELETE FROM outbox_dead WHERE id <= (SELECT id FROM outbox_dead ORDER BY id DESC LIMIT 1 OFFSET ?)",
    DEAD_KEEP,
  );
  console.error("outbox: message set aside", { outbox, seq, bytes, reason });
}

export type Lane = {
  table: "audit_outbox" | "usage_outbox";
  queue: Queue;
  /** The message body of a stored row; throws when the row cannot be read. */
  toBody: (seq: number, stored: string) => unknown;
  /** Removes or replaces a row that was set aside (its dead letter is already written). */
  setAside: (seq: number, stored: string, reason: DeadReason, bytes: number) => void;
  /**
   * A row of several bodies (a run) that would be set aside is instead replaced by one row per
   * body, so that only the one at fault is set aside later; true when it was.
   */
  split?: (seq: number, stored: string) => boolean;
  /** Rows the queue accepted, before they are deleted. */
  accepted?: (seqs: readonly number[]) => void;
  /**
   * What becomes of rows the queue accepted, when not deleted: a lane that keeps sent rows to
   * write over them later (audit_outbox) marks them sent here, and says with `sentUpTo` which
   * rows to skip.
   */
  retire?: (seqs: readonly number[]) => void;
  /** Rows at or below this seq are sent (kept only to be written over), never sent again. */
  sentUpTo?: () => number;
  /**
   * When set, rows go out packed: as many bodies as fit go in one message (this body; a row's
   * body may itself be an array of items). A pack the queue refuses is sent again one row per
   * message, each counted as below.
   */
  pack?: (bodies: unknown[]) => unknown;
};

type Row = { seq: number; body: string; attempts: number };
type Ready = { seq: number; body: unknown; bytes: number; attempts: number; stored: string };

/** Sends what the lane holds; false when a message is still waiting to be retried. */
export async function flushLane(sql: SqlStorage, lane: Lane, now: number): Promise<boolean> {
  const failed: Ready[] = [];
  let accepted = 0;
  const done = (batch: readonly Ready[]) => {
    const seqs = batch.map((m) => m.seq);
    lane.accepted?.(seqs);
    if (lane.retire) lane.retire(seqs);
    else sql.exec(`DELETE FROM ${lane.table} WHERE seq IN (SELECT value FROM json_each(?))`, JSON.stringify(seqs));
    accepted += seqs.length;
  };
  let after = lane.sentUpTo?.() ?? 0;
  for (;;) {
    const rows = sql
      .exec<Row>(
        `SELECT seq, event AS body, attempts FROM ${lane.table} WHERE seq > ? ORDER BY seq LIMIT ${BATCH_MAX_MESSAGES}`,
        after,
      )
      .toArray();
    const last = rows.at(-1);
    if (!last) break;
    after = last.seq;
    const ready: Ready[] = [];
    for (const row of rows) {
      let body: unknown;
      try {
        body = lane.toBody(row.seq, row.body);
      } catch {
        setAside(sql, lane, row.seq, row.body, "unreadable", row.body.length, now);
        continue;
      }
      const bytes = messageBytes(body);
      if (bytes > MESSAGE_MAX_BYTES) setAside(sql, lane, row.seq, row.body, "too_large", bytes, now);
      else ready.push({ seq: row.seq, body, bytes, attempts: row.attempts, stored: row.body });
    }
    const pack = lane.pack;
    for (const batch of pack ? splitPacks(ready) : splitBatches(ready)) {
      try {
        if (pack) await lane.queue.send(pack(batch.map((m) => m.body)), { contentType: "json" });
        else await lane.queue.sendBatch(batch.map((m) => ({ body: m.body, contentType: "json" as const })));
        done(batch);
        continue;
      } catch {
        // One message may be what the queue refuses: try them one by one, in order.
      }
      for (const m of batch) {
        // Nothing goes through at all: the queue is down, not one message bad. Retry later.
        if (accepted === 0 && failed.length >= 2) return false;
        try {
          await lane.queue.send(pack ? pack([m.body]) : m.body, { contentType: "json" });
          done([m]);
        } catch {
          failed.push(m);
        }
      }
    }
    if (rows.length < BATCH_MAX_MESSAGES) break;
  }
  if (failed.length === 0) return true;
  if (accepted === 0) return false;
  let waiting = false;
  for (const m of failed) {
    if (m.attempts + 1 >= MAX_ATTEMPTS) setAside(sql, lane, m.seq, m.stored, "refused", m.bytes, now);
    else {
      sql.exec(`UPDATE ${lane.table} SET attempts = attempts + 1 WHERE seq = ?`, m.seq);
      waiting = true;
    }
  }
  if (waiting) console.error(`${lane.table}: a message refused while others were accepted; will retry`);
  return !waiting;
}

function setAside(
  sql: SqlStorage,
  lane: Lane,
  seq: number,
  stored: string,
  reason: DeadReason,
  bytes: number,
  now: number,
): void {
  if (lane.split?.(seq, stored)) return;
  deadLetter(sql, lane.table === "audit_outbox" ? "audit" : "usage", seq, reason, bytes, stored, now);
  lane.setAside(seq, stored, reason, bytes);
}
