// The audit index's `call.admitted` events (audit_call_runs, migration 0013): one per proxied call,
// most of a trail, kept as runs: one row per stretch of consecutive seqs stored together, its
// events gzipped as NDJSON, instead of one audit_events row each. A row holds exactly the seqs from
// `first_seq` to `last_seq`, so an event whose seq a row covers is stored already: a redelivered
// event, or a pack the consumer wrote event by event and then received whole, is not stored twice.
// The readers of audit.ts and exports.ts merge these with audit_events by seq.
import type { AuditEvent } from "../../shared/audit.ts";
import type { AuditRow } from "./audit.ts";
import { FIRST_READ, nextRead, packBody, unpackBody } from "./packed.ts";
import type { TenantDb } from "./tenant-db.ts";

/** One proxied call's admission: the type kept in runs. */
export const CALL_ADMITTED = "call.admitted";
/** Events a run row holds at most (a row covers at most this many seqs). */
export const CALL_RUN_MAX = 500;

/**
 * The statements that store the `call.admitted` events not stored yet, as runs of consecutive
 * seqs; an insert whose seqs another write stored meanwhile is skipped (`NOT EXISTS`).
 */
export async function callRunStatements(db: TenantDb, events: readonly AuditEvent[]): Promise<D1PreparedStatement[]> {
  const bySeq = new Map<number, AuditEvent>();
  for (const e of events) if (e.type === CALL_ADMITTED) bySeq.set(e.seq, e);
  const calls = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
  const [first] = calls;
  const last = calls.at(-1);
  if (!first || !last) return [];
  const covered = await db.all<{ first_seq: number; last_seq: number }>(
    `SELECT first_seq, last_seq FROM audit_call_runs
     WHERE tenant_id = ?1 AND first_seq > ?2 AND first_seq <= ?3 AND last_seq >= ?4`,
    first.seq - CALL_RUN_MAX,
    last.seq,
    first.seq,
  );
  const fresh = calls.filter((e) => !covered.some((r) => e.seq >= r.first_seq && e.seq <= r.last_seq));
  const runs: AuditEvent[][] = [];
  for (const e of fresh) {
    const run = runs.at(-1);
    const tail = run?.at(-1);
    if (run && tail && tail.seq + 1 === e.seq && run.length < CALL_RUN_MAX) run.push(e);
    else runs.push([e]);
  }
  return runs.map((run) => {
    const from = run[0]?.seq ?? 0;
    const to = run.at(-1)?.seq ?? 0;
    return db.prepare(
      `INSERT INTO audit_call_runs (tenant_id, first_seq, last_seq, first_at, last_at, body)
       SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE NOT EXISTS (SELECT 1 FROM audit_call_runs
         WHERE tenant_id = ?1 AND first_seq > ?7 AND first_seq <= ?3 AND last_seq >= ?2)`,
      from,
      to,
      Math.min(...run.map((e) => e.at)),
      Math.max(...run.map((e) => e.at)),
      packBody(run),
      from - CALL_RUN_MAX,
    );
  });
}

/** A stored event as the audit index's row. */
function rowOf(e: AuditEvent): AuditRow {
  return {
    seq: e.seq,
    at: e.at,
    type: e.type,
    actor_kind: e.actor.kind,
    actor_id: "id" in e.actor ? e.actor.id : null,
    request_id: e.requestId,
    subject: e.subject,
    data: JSON.stringify(e.data),
  };
}

export type CallPage = {
  /** "asc": seqs above `after`, oldest first; "desc": seqs below `before` (null: the newest), newest first */
  order: "asc" | "desc";
  after?: number;
  before?: number | null;
  /** `at` in [from, to), null where open */
  from: number | null;
  to: number | null;
  /** only calls made with this key */
  keyId?: string | null;
  limit: number;
};

type RunRow = { first_seq: number; body: unknown };

/** The tenant's `call.admitted` events under the page's bounds, as audit rows, in seq order. */
export async function callRowsPage(db: TenantDb, page: CallPage): Promise<AuditRow[]> {
  const asc = page.order === "asc";
  const from = page.from ?? 0;
  const to = page.to ?? Number.MAX_SAFE_INTEGER;
  const after = page.after ?? 0;
  const before = page.before ?? Number.MAX_SAFE_INTEGER;
  const wanted = (e: AuditEvent) =>
    (asc ? e.seq > after : e.seq < before) &&
    e.at >= from &&
    e.at < to &&
    (!page.keyId || (e.actor.kind === "key" && e.actor.id === page.keyId));
  const found: AuditRow[] = [];
  let edge: number | null = null;
  for (let take = FIRST_READ; found.length < page.limit; take = nextRead(take)) {
    // Rows do not overlap: in first_seq order their events are in seq order.
    const rows: RunRow[] = asc
      ? await db.all<RunRow>(
          `SELECT first_seq, body FROM audit_call_runs WHERE tenant_id = ?1 AND first_seq > ?2 AND last_seq > ?3
             AND last_at >= ?4 AND first_at < ?5 AND (?6 IS NULL OR first_seq > ?6) ORDER BY first_seq LIMIT ?7`,
          after - CALL_RUN_MAX,
          after,
          from,
          to,
          edge,
          take,
        )
      : await db.all<RunRow>(
          `SELECT first_seq, body FROM audit_call_runs WHERE tenant_id = ?1 AND first_seq < ?2
             AND last_at >= ?3 AND first_at < ?4 AND (?5 IS NULL OR first_seq < ?5) ORDER BY first_seq DESC LIMIT ?6`,
          before,
          from,
          to,
          edge,
          take,
        );
    for (const row of rows) {
      const events = unpackBody<AuditEvent>(row.body).filter(wanted);
      events.sort((a, b) => (asc ? a.seq - b.seq : b.seq - a.seq));
      found.push(...events.map(rowOf));
    }
    const last = rows.at(-1);
    if (!last || rows.length < take) break;
    edge = last.first_seq;
  }
  return found.slice(0, page.limit);
}

/** Two pages of the same order merged by seq, at most `limit`. */
export function mergeBySeq(a: readonly AuditRow[], b: readonly AuditRow[], order: "asc" | "desc", limit: number) {
  const merged = [...a, ...b].sort((x, y) => (order === "asc" ? x.seq - y.seq : y.seq - x.seq));
  return merged.slice(0, limit);
}
