// The audit index in D1 (audit_events): one row per event the tenant's ledger sequenced, but
// call.admitted (one per proxied call, kept as runs in audit_call_runs: audit-calls.ts), written by
// the audit consumer (workers/ingest/audit-consumer.ts), read by the API, /activity and the
// overview's recent refusals; the reads that take call.admitted merge the two by seq.
import { z } from "zod";
import type { AuditActor, AuditEvent, AuditType } from "../../shared/audit.ts";
import { parseStored } from "../../shared/stored-json.ts";
import { CALL_ADMITTED, callRowsPage, callRunStatements, mergeBySeq } from "./audit-calls.ts";
import type { TenantDb } from "./tenant-db.ts";

export type AuditRow = {
  seq: number;
  at: number;
  type: string;
  actor_kind: string;
  actor_id: string | null;
  request_id: string | null;
  subject: string | null;
  /** the event's data object, as stored JSON */
  data: string;
};

const AuditData = z.record(z.string(), z.unknown());

/**
 * How a read of one type (not call.admitted) names audit_events_by_type. The index is partial
 * (migration 0011), and SQLite uses one only for a query that states its condition. It is named
 * outright because on the WITHOUT ROWID table (migration 0010), with no statistics, SQLite's
 * planner prefers walking the primary key (tenant_id, seq) and filtering, which for a rare type
 * reads the tenant's whole trail; INDEXED BY also makes a query that could not use it an error,
 * not a slow scan.
 */
export const BY_TYPE = "INDEXED BY audit_events_by_type";
export const WITHOUT_CALLS = "type <> 'call.admitted'";

/** The event's data object. */
export function auditData(r: Pick<AuditRow, "data">): Record<string, unknown> {
  return parseStored(AuditData, r.data, "audit_events.data");
}

/** The stored row as the v1 event the ledger sequenced (the audit queue's message): the
 * actor's kind and id are the event's own, "operator" and "system" carry no id. */
export function auditEventFromRow(tenantId: string, r: AuditRow): AuditEvent {
  const actor = (r.actor_id === null ? { kind: r.actor_kind } : { kind: r.actor_kind, id: r.actor_id }) as AuditActor;
  return {
    v: 1,
    tenantId,
    seq: r.seq,
    at: r.at,
    type: r.type as AuditType,
    actor,
    requestId: r.request_id,
    subject: r.subject,
    data: auditData(r) as AuditEvent["data"],
  };
}

/** Stores the events in one batch (call.admitted as runs); an event already stored (same tenant
 * and seq) is ignored. */
export async function insertAuditEvents(db: TenantDb, events: readonly AuditEvent[]): Promise<void> {
  const runs = await callRunStatements(db, events);
  const rows = events
    .filter((e) => e.type !== CALL_ADMITTED)
    .map((e) =>
      db.prepare(
        `INSERT INTO audit_events (tenant_id, seq, at, type, actor_kind, actor_id, request_id, subject, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (tenant_id, seq) DO NOTHING`,
        e.seq,
        e.at,
        e.type,
        e.actor.kind,
        "id" in e.actor ? e.actor.id : null,
        e.requestId,
        e.subject,
        JSON.stringify(e.data),
      ),
    );
  if (rows.length + runs.length > 0) await db.batch([...rows, ...runs]);
}

/** The tenant's events after `seq` (oldest first), of one type or all, at most `limit`. */
export async function auditEventsAfter(
  db: TenantDb,
  page: { after: number; type: string | null; limit: number },
): Promise<AuditRow[]> {
  const columns = "seq, at, type, actor_kind, actor_id, request_id, subject, data";
  const calls = (limit: number) => callRowsPage(db, { order: "asc", after: page.after, from: null, to: null, limit });
  if (page.type === CALL_ADMITTED) return calls(page.limit);
  // Separate statements, not `(?3 IS NULL OR type = ?3)`: SQLite plans a statement once, and with
  // the OR it cannot use audit_events_by_type (tenant_id, type, seq) for a type filter.
  if (page.type === null) {
    const [others, admitted] = await Promise.all([
      db.all<AuditRow>(
        `SELECT ${columns} FROM audit_events WHERE tenant_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3`,
        page.after,
        page.limit,
      ),
      calls(page.limit),
    ]);
    return mergeBySeq(others, admitted, "asc", page.limit);
  }
  return db.all<AuditRow>(
    `SELECT ${columns} FROM audit_events ${BY_TYPE} WHERE tenant_id = ?1 AND type = ?3 AND ${WITHOUT_CALLS}
       AND seq > ?2 ORDER BY seq LIMIT ?4`,
    page.after,
    page.type,
    page.limit,
  );
}

export type AuditCategory = "decisions" | "calls" | "changes" | "access";

/** Which event types each category holds (fixed SQL: no user input reaches it). A category's page
 * walks the primary key newest first (a page of several types in seq order). */
const CATEGORY_SQL: Record<Exclude<AuditCategory, "calls">, string> = {
  decisions: "type IN ('call.refused', 'budget.threshold', 'hold.expired')",
  changes:
    "type NOT IN ('call.refused', 'budget.threshold', 'hold.expired', 'call.admitted', 'lease.granted', 'access.dashboard', 'access.api', 'access.operator')",
  access: "type IN ('access.dashboard', 'access.api', 'access.operator')",
};

export type AuditFilter = {
  category: AuditCategory;
  /** only events with seq below this (the page before), or null for the newest */
  before: number | null;
  /** [from, to) in UTC ms, null where open */
  from: number | null;
  to: number | null;
  /** a refusal code: only call.refused events with it */
  code: string | null;
  /** a key id: events by the key, about it, or holds of its calls */
  keyId: string | null;
  limit: number;
};

/** The tenant's events of a category under the filter, newest first. */
export function auditEventsBefore(db: TenantDb, f: AuditFilter): Promise<AuditRow[]> {
  if (f.category === "calls") {
    // A refusal code names call.refused events only: no admitted call has one.
    if (f.code !== null) return Promise.resolve([]);
    return callRowsPage(db, {
      order: "desc",
      before: f.before,
      from: f.from,
      to: f.to,
      keyId: f.keyId,
      limit: f.limit,
    });
  }
  return db.all<AuditRow>(
    `SELECT seq, at, type, actor_kind, actor_id, request_id, subject, data FROM audit_events
       WHERE tenant_id = ?1 AND ${CATEGORY_SQL[f.category]}
         AND (?2 IS NULL OR seq < ?2)
         AND (?3 IS NULL OR at >= ?3) AND (?4 IS NULL OR at < ?4)
         AND (?5 IS NULL OR (type = 'call.refused' AND json_extract(data, '$.code') = ?5))
         AND (?6 IS NULL OR (actor_kind = 'key' AND actor_id = ?6) OR (type LIKE 'key.%' AND subject = ?6)
              OR (type = 'hold.expired' AND json_extract(data, '$.keyId') = ?6))
       ORDER BY seq DESC LIMIT ?7`,
    f.before,
    f.from,
    f.to,
    f.code,
    f.keyId,
    f.limit,
  );
}

const RefusalData = z.object({
  code: z.string().optional(),
  reason: z.string().nullable().optional(),
  provider: z.string().optional(),
  model: z.string().nullable().optional(),
});

export type Refusal = {
  at: number;
  /** the key that called */
  actor_id: string | null;
  /** the rule that refused, if one did */
  subject: string | null;
  data: z.infer<typeof RefusalData>;
};

/** The tenant's latest refused calls, newest first. */
export async function recentRefusals(db: TenantDb, limit: number): Promise<Refusal[]> {
  const rows = await db.all<Omit<Refusal, "data"> & { data: string }>(
    `SELECT at, actor_id, subject, data FROM audit_events ${BY_TYPE} WHERE tenant_id = ?1 AND type = 'call.refused'
         AND ${WITHOUT_CALLS} ORDER BY seq DESC LIMIT ?2`,
    limit,
  );
  return rows.map((r) => ({ ...r, data: parseStored(RefusalData, r.data, "audit_events.data (call.refused)") }));
}

export type AuditNames = {
  keys: { id: string; name: string; prefix: string }[];
  rules: { id: string; kind: string; name: string }[];
  users: { id: string; email: string }[];
  tokens: { id: string; name: string }[];
};

/** Names for the ids events carry, from this organisation's own rows only: its keys, rules,
 * members (never another organisation's people) and admin tokens. One batch. */
export async function auditNames(db: TenantDb, ids: readonly string[]): Promise<AuditNames> {
  const list = JSON.stringify(ids);
  const [keys, rules, users, tokens] = await db.batch([
    db.prepare(
      "SELECT id, name, prefix FROM api_keys WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
      list,
    ),
    db.prepare(
      "SELECT id, kind, name FROM ledger_rules WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
      list,
    ),
    db.prepare(
      `SELECT u.id, u.email FROM memberships m JOIN users u ON u.id = m.user_id
       WHERE m.tenant_id = ?1 AND m.user_id IN (SELECT value FROM json_each(?2))`,
      list,
    ),
    db.prepare(
      "SELECT id, name FROM admin_tokens WHERE tenant_id = ?1 AND id IN (SELECT value FROM json_each(?2))",
      list,
    ),
  ]);
  const results = <T>(r: D1Result | undefined) => (r?.results ?? []) as T[];
  return {
    keys: results<AuditNames["keys"][number]>(keys),
    rules: results<AuditNames["rules"][number]>(rules),
    users: results<AuditNames["users"][number]>(users),
    tokens: results<AuditNames["tokens"][number]>(tokens),
  };
}
