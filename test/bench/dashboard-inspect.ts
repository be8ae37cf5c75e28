// Read-only hook functions of the dashboard benchmark (re-exported by dashboard-seed.ts, the
// host's hook module): stored counts, the rollups' sums against the events' sums, and the plan
// and SQL time of a page's query.
import type { HookFn } from "./worker-host.ts";

type Meta = { duration?: number; rows_read?: number };

/** Stored rows of the tenant: usage events by outcome and call.refused audit events. */
export const counts: HookFn = async (db, raw) => {
  const { tenantId } = raw as { tenantId: string };
  const [events, audit] = await db.batch([
    db.prepare("SELECT outcome, COUNT(*) AS n FROM usage_events WHERE tenant_id = ?1 GROUP BY outcome").bind(tenantId),
    db.prepare("SELECT type, COUNT(*) AS n FROM audit_events WHERE tenant_id = ?1 GROUP BY type").bind(tenantId),
  ]);
  const byKey = (rows: unknown[] | undefined, key: string) =>
    Object.fromEntries((rows ?? []).map((r) => [(r as Record<string, string>)[key], (r as { n: number }).n]));
  return { events: byKey(events?.results, "outcome"), audit: byKey(audit?.results, "type") };
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

const SUMS = `CAST(COUNT(*) AS TEXT) AS requests, CAST(COALESCE(SUM(cost_nano_usd), 0) AS TEXT) AS cost,
  CAST(SUM(input_tokens) AS TEXT) AS input, CAST(SUM(output_tokens) AS TEXT) AS output, CAST(SUM(unpriced) AS TEXT) AS unpriced`;

const rollupSums = (table: string) => `SELECT dim_name, CAST(SUM(requests) AS TEXT) AS requests,
    CAST(SUM(cost_nano_usd) AS TEXT) AS cost, CAST(SUM(input_tokens) AS TEXT) AS input,
    CAST(SUM(output_tokens) AS TEXT) AS output, CAST(SUM(unpriced_requests) AS TEXT) AS unpriced, COUNT(*) AS rows
  FROM ${table} WHERE tenant_id = ?1 GROUP BY dim_name ORDER BY dim_name`;

/** The events' sums (in all, and per dimension name through json_each) and the hourly and daily
 * rollups' sums per dim_name ('' = totals), as exact decimal strings; and whether every key's
 * last_used_at is the start of its latest event. */
export const check: HookFn = async (db, raw) => {
  const { tenantId } = raw as { tenantId: string };
  const began = performance.now();
  const [totals, perDimension, hourly, daily, latest, keys, refused] = await db.batch([
    db.prepare(`SELECT '' AS dim_name, ${SUMS} FROM usage_events WHERE tenant_id = ?1`).bind(tenantId),
    db
      .prepare(
        `SELECT d.key AS dim_name, ${SUMS.replaceAll("cost_nano_usd", "e.cost_nano_usd")}
         FROM usage_events e, json_each(e.dimensions) d WHERE e.tenant_id = ?1 GROUP BY d.key`,
      )
      .bind(tenantId),
    db.prepare(rollupSums("usage_rollups_hourly")).bind(tenantId),
    db.prepare(rollupSums("usage_rollups_daily")).bind(tenantId),
    db
      .prepare("SELECT key_id, MAX(started_at) AS at FROM usage_events WHERE tenant_id = ?1 GROUP BY key_id")
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
