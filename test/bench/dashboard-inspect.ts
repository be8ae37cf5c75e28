// Read-only hook functions of the dashboard benchmark (re-exported by dashboard-seed.ts, the
// host's hook module): stored counts, the rollups' sums against the events' sums, and the plan
// and SQL time of a page's query. Usage events are kept in packs (usage_packs): the queue
// consumer writes gzipped NDJSON bodies, which only the app's reader (usageEventsPage) can read,
// and the seed writes JSON arrays (TEXT), which SQL reads with json_each. So the counts, taken
// before seeding (the refused calls made through the gateway), read events with usageEventsPage,
// and the check, taken after it (every body the seed's), sums them in SQL over json_each(body).
import type { HookDb, HookFn } from "./worker-host.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { tenantDb } from "../../workers/store/tenant-db.ts";
import { type UsageCursor, usageEventsPage } from "../../workers/store/usage-events.ts";

type Meta = { duration?: number; rows_read?: number };

const PAGE = 1_000;

/** Every usage event the tenant has stored, oldest first, read as the app reads them
 * (usageEventsPage: gzipped or TEXT bodies). Each crosses the process boundary: for the refused
 * calls stored before seeding, not for a seeded data set. */
export async function storedEvents(db: HookDb, tenantId: string): Promise<UsageEvent[]> {
  const tdb = tenantDb(db as unknown as D1Database, tenantId);
  const events: UsageEvent[] = [];
  let cursor: UsageCursor | null = null;
  for (;;) {
    const page = await usageEventsPage(tdb, { order: "asc", cursor, limit: PAGE });
    events.push(...page);
    const last = page.at(-1);
    if (!last || page.length < PAGE) return events;
    cursor = { at: last.startedAt, id: last.requestId };
  }
}

/** Stored rows of the tenant: usage events by outcome (every event read: storedEvents) and audit
 * events by type. */
export const counts: HookFn = async (db, raw) => {
  const { tenantId } = raw as { tenantId: string };
  const events: Record<string, number> = {};
  for (const e of await storedEvents(db, tenantId)) events[e.outcome] = (events[e.outcome] ?? 0) + 1;
  const audit = await db
    .prepare("SELECT type, COUNT(*) AS n FROM audit_events WHERE tenant_id = ?1 GROUP BY type")
    .bind(tenantId)
    .all<{ type: string; n: number }>();
  return {
    events,
    audit: Object.fromEntries((audit.results as { type: string; n: number }[]).map((r) => [r.type, r.n])),
  };
};

export type SumRow = {
  dim_name: string;
  requests: string;
  cost: string;
  input: string;
  output: string;
  unpriced: string;
  rows?: number;
};

export type CheckResult = {
  events: SumRow[];
  /** the hourly rollups' sums per dim_name */
  rollups: SumRow[];
  /** the daily rollups' sums per dim_name */
  daily: SumRow[];
  /** hourly rollup rows per dim_name */
  rollupRows: Record<string, number>;
  /** daily rollup rows per dim_name */
  dailyRows: Record<string, number>;
  /** keys whose last_used_at is not the start of their latest event, of the keys with events */
  lastUsedWrong: number;
  keysUsed: number;
  refusedAudit: number;
  seconds: number;
};

/** The tenant's events (`e.value`, one UsageEvent object each) in the TEXT bodies of its packs. */
const EVENTS = "usage_packs p, json_each(p.body) e";
const field = (path: string) => `json_extract(e.value, '$.${path}')`;
const SUMS = `CAST(COUNT(*) AS TEXT) AS requests, CAST(COALESCE(SUM(${field("costNanoUsd")}), 0) AS TEXT) AS cost,
  CAST(SUM(${field("usage.inputTokens")}) AS TEXT) AS input, CAST(SUM(${field("usage.outputTokens")}) AS TEXT) AS output,
  CAST(SUM(${field("costNanoUsd")} IS NULL) AS TEXT) AS unpriced`;

const rollupSums = (table: string) => `SELECT dim_name, CAST(SUM(requests) AS TEXT) AS requests,
    CAST(SUM(cost_nano_usd) AS TEXT) AS cost, CAST(SUM(input_tokens) AS TEXT) AS input,
    CAST(SUM(output_tokens) AS TEXT) AS output, CAST(SUM(unpriced_requests) AS TEXT) AS unpriced, COUNT(*) AS rows
  FROM ${table} WHERE tenant_id = ?1 GROUP BY dim_name ORDER BY dim_name`;

/** The events' sums (in all, and per dimension name through json_each) and the hourly and daily
 * rollups' sums per dim_name ('' = totals), as exact decimal strings; and whether every key's
 * last_used_at is the start of its latest event. The events are read in SQL from the packs' TEXT
 * bodies, which the seed writes (and migration 0012 wrote); a tenant with a gzipped body (written
 * by the app since) is refused rather than summed in part. */
export const check: HookFn = async (db, raw) => {
  const { tenantId } = raw as { tenantId: string };
  const began = performance.now();
  const zipped = await db
    .prepare("SELECT COUNT(*) AS n FROM usage_packs WHERE tenant_id = ?1 AND typeof(body) <> 'text'")
    .bind(tenantId)
    .first<{ n: number }>();
  if ((zipped?.n ?? 0) > 0) throw new Error(`tenant ${tenantId} has ${zipped?.n} packs with gzipped bodies`);
  const [totals, perDimension, hourly, daily, latest, keys, refused] = await db.batch([
    db.prepare(`SELECT '' AS dim_name, ${SUMS} FROM ${EVENTS} WHERE p.tenant_id = ?1`).bind(tenantId),
    db
      .prepare(
        `SELECT d.key AS dim_name, ${SUMS} FROM ${EVENTS}, json_each(e.value, '$.dimensions') d
         WHERE p.tenant_id = ?1 GROUP BY d.key`,
      )
      .bind(tenantId),
    db.prepare(rollupSums("usage_rollups_hourly")).bind(tenantId),
    db.prepare(rollupSums("usage_rollups_daily")).bind(tenantId),
    db
      .prepare(
        `SELECT ${field("keyId")} AS key_id, MAX(${field("startedAt")}) AS at FROM ${EVENTS}
         WHERE p.tenant_id = ?1 GROUP BY 1`,
      )
      .bind(tenantId),
    db.prepare("SELECT id, last_used_at FROM api_keys WHERE tenant_id = ?1").bind(tenantId),
    db.prepare("SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = ?1 AND type = 'call.refused'").bind(tenantId),
  ]);
  const events = [...(totals?.results ?? []), ...(perDimension?.results ?? [])] as SumRow[];
  const perHour = (hourly?.results ?? []) as SumRow[];
  const perDay = (daily?.results ?? []) as SumRow[];
  const lastUse = new Map(
    ((keys?.results ?? []) as { id: string; last_used_at: number | null }[]).map((k) => [k.id, k.last_used_at]),
  );
  const used = (latest?.results ?? []) as { key_id: string; at: number }[];
  return {
    events: events.sort((a, b) => a.dim_name.localeCompare(b.dim_name)),
    rollups: perHour,
    daily: perDay,
    rollupRows: Object.fromEntries(perHour.map((r) => [r.dim_name, r.rows ?? 0])),
    dailyRows: Object.fromEntries(perDay.map((r) => [r.dim_name, r.rows ?? 0])),
    lastUsedWrong: used.filter((u) => lastUse.get(u.key_id) !== u.at).length,
    keysUsed: used.length,
    refusedAudit: (refused?.results[0] as { n: number } | undefined)?.n ?? 0,
    seconds: (performance.now() - began) / 1_000,
  } satisfies CheckResult;
};

export type PlanStep = { id: number; parent: number; detail: string };

export type ExplainResult = {
  plan: PlanStep[];
  /** read-only queries only: SQL time (D1's meta.duration) of each run, rows returned and read */
  runsMs: number[];
  rows: number;
  rowsRead: number;
};

/** EXPLAIN QUERY PLAN of a page's query with the parameters it ran with; a SELECT is also run
 * `runs` times for its SQL time and the rows it read. */
export const explain: HookFn = async (db, raw) => {
  const { sql, params, runs } = raw as { sql: string; params: unknown[]; runs: number };
  const plan = await db
    .prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<PlanStep>();
  const result: ExplainResult = {
    plan: (plan.results as PlanStep[]).map((p) => ({ id: p.id, parent: p.parent, detail: p.detail })),
    runsMs: [],
    rows: 0,
    rowsRead: 0,
  };
  if (!/^\s*(SELECT|WITH)\b/i.test(sql)) return result;
  for (let i = 0; i < runs; i += 1) {
    const out = await db
      .prepare(sql)
      .bind(...params)
      .all();
    const meta = out.meta as Meta;
    result.runsMs.push(meta.duration ?? Number.NaN);
    result.rows = out.results.length;
    result.rowsRead = meta.rows_read ?? 0;
  }
  return result;
};
