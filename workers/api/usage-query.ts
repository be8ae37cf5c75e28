// Sums of the hourly rollups (usage_rollups_hourly) grouped by provider, model, key, day, hour or
// one dimension, with filters, cost exact as bigint nano-USD. GET /api/v1/usage and the dashboard
// both read usage through it, so neither scans raw events for these answers.
//
// A rollup row is tenant x hour (UTC) x provider x model x key x (dim_name, dim_value); the rows
// with dim_name = '' are the totals and each event also adds to one row per dimension it has. So
// one dimension at a time (grouped, filtered, or both the same name) is answerable; two are not.
// Days follow a time zone: an hour belongs to the local day its start falls in.
import { offset, windowRange } from "../../shared/windows.ts";
import type { TenantDb } from "../../shared/tenant-db.ts";
import { DIMENSION_NAME } from "../gateway/dimensions.ts";
import { DAY_MS, HOUR_MS } from "./time.ts";

export type UsageGroup = { kind: "provider" | "model" | "key" | "day" | "hour" } | { kind: "dimension"; dim: string };

export type UsageFilters = {
  providers?: readonly string[];
  models?: readonly string[];
  keys?: readonly string[];
  /** calls that carry this dimension; with values, only calls with one of them */
  dimension?: { name: string; values?: readonly string[] };
};

export type UsageQuery = {
  /** rollup hours h with from <= h < to (UTC epoch ms) */
  from: number;
  to: number;
  groups: readonly UsageGroup[];
  filters?: UsageFilters;
  /** the zone of `day` groups (default UTC); `hour` groups are UTC hour starts either way */
  timeZone?: string;
  /** "cost": highest cost first; "time": day/hour groups ascending, then highest cost */
  order?: "cost" | "time";
  limit?: number;
  /** only groups with unpriced requests */
  unpricedOnly?: boolean;
};

export type UsageSums = {
  requests: number;
  inputTokens: number;
  cachedInputTokens: number;
  cacheWriteTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  costNano: bigint;
  unpricedRequests: number;
};

/** One group's sums; `values[i]` is group i's value: a string, a local day (the date's midnight
 * as UTC epoch ms), an hour (UTC epoch ms), or null for calls without the grouped dimension. */
export type UsageRow = UsageSums & { values: (string | number | null)[] };

export const GROUP_KINDS = ["provider", "model", "key", "day", "hour"] as const;

export function groupName(g: UsageGroup): string {
  return g.kind === "dimension" ? `dimension:${g.dim}` : g.kind;
}

/** "model" or "dimension:team" → the group, or null when the text names none. */
export function parseGroupName(text: string): UsageGroup | null {
  const name = text.trim();
  for (const kind of GROUP_KINDS) if (name === kind) return { kind };
  if (name.startsWith("dimension:") && DIMENSION_NAME.test(name.slice(10))) {
    return { kind: "dimension", dim: name.slice(10) };
  }
  return null;
}

export function isTimeGroup(g: UsageGroup): boolean {
  return g.kind === "day" || g.kind === "hour";
}

/** Why the rollups cannot answer these groups and filters, or null when they can. */
export function rollupProblem(groups: readonly UsageGroup[], filters: UsageFilters = {}): string | null {
  const dims = new Set(groups.flatMap((g) => (g.kind === "dimension" ? [g.dim] : [])));
  if (filters.dimension) dims.add(filters.dimension.name);
  if (dims.size > 1) return "The hourly rollups hold one dimension at a time: group and filter by the same one.";
  return null;
}

export function emptySums(): UsageSums {
  return {
    requests: 0,
    inputTokens: 0,
    cachedInputTokens: 0,
    cacheWriteTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    costNano: 0n,
    unpricedRequests: 0,
  };
}

export function addSums(into: UsageSums, s: UsageSums): UsageSums {
  into.requests += s.requests;
  into.inputTokens += s.inputTokens;
  into.cachedInputTokens += s.cachedInputTokens;
  into.cacheWriteTokens += s.cacheWriteTokens;
  into.outputTokens += s.outputTokens;
  into.reasoningTokens += s.reasoningTokens;
  into.costNano += s.costNano;
  into.unpricedRequests += s.unpricedRequests;
  return into;
}

/** The zone's offsets over [from, to): each segment's first hour and its offset, in order. Zones
 * change offset a few times a year at most, so daily samples find each change; a bisection on
 * whole hours then finds the first hour of the new offset. */
export function offsetSegments(tz: string, from: number, to: number): { start: number; offset: number }[] {
  const segments = [{ start: from, offset: offset(tz, from) }];
  const last = Math.max(from, to - HOUR_MS);
  let previous = from;
  while (previous < last) {
    const next = Math.min(previous + DAY_MS, last);
    const now = offset(tz, next);
    if (now !== segments[segments.length - 1]?.offset) {
      let lo = previous;
      let hi = next;
      while (hi - lo > HOUR_MS) {
        const mid = lo + Math.floor((hi - lo) / 2 / HOUR_MS) * HOUR_MS;
        if (offset(tz, mid) === offset(tz, lo)) lo = mid;
        else hi = mid;
      }
      segments.push({ start: hi, offset: offset(tz, hi) });
    }
    previous = next;
  }
  return segments;
}

/** SQL of the local day of `hour` (its date's midnight, as UTC epoch ms). Whole-number literals only. */
export function localDaySql(tz: string, from: number, to: number): string {
  const segments = offsetSegments(tz, Math.floor(from / HOUR_MS) * HOUR_MS, to);
  const int = (n: number) => {
    if (!Number.isSafeInteger(n)) throw new RangeError(`not an integer: ${n}`);
    return String(n);
  };
  const shift =
    segments.length === 1
      ? int(segments[0]?.offset ?? 0)
      : `CASE ${segments
          .slice(1)
          .map((s, i) => `WHEN hour < ${int(s.start)} THEN ${int(segments[i]?.offset ?? 0)}`)
          .join(" ")} ELSE ${int(segments[segments.length - 1]?.offset ?? 0)} END`;
  if (shift === "0") return `(hour / ${DAY_MS}) * ${DAY_MS}`;
  return `((hour + ${shift}) / ${DAY_MS}) * ${DAY_MS}`;
}

// Local dates: a calendar day of a zone written as its midnight in UTC epoch ms (2026-11-23 is
// Date.UTC(2026, 10, 23)), the values `day` groups come back as.

/** The local date of the instant `at` in `tz`. */
export function localDate(tz: string, at: number): number {
  const wall = at + offset(tz, at);
  return wall - (((wall % DAY_MS) + DAY_MS) % DAY_MS);
}

/** The first instant of the local date `date` (its midnight, or the first instant after a skipped one). */
export function dateStart(tz: string, date: number): number {
  const noon = date + 12 * HOUR_MS;
  return windowRange({ kind: "daily" }, tz, noon - offset(tz, noon)).start;
}

/** The rollup hours of local dates first..last: the hours whose start falls in them. */
export function hoursOf(tz: string, first: number, last: number): { from: number; to: number } {
  const up = (ms: number) => Math.ceil(ms / HOUR_MS) * HOUR_MS;
  return { from: up(dateStart(tz, first)), to: up(dateStart(tz, last + DAY_MS)) };
}

type Sql = { sql: string; params: unknown[] };

/** The statement for a query; ?1 is the tenant (bound by TenantDb), the rest are in `params`. */
export function rollupSql(q: UsageQuery): Sql {
  const problem = rollupProblem(q.groups, q.filters);
  if (problem) throw new RangeError(problem);
  const params: unknown[] = [];
  const bind = (value: unknown) => `?${params.push(value) + 1}`;
  const f = q.filters ?? {};
  const where = [`tenant_id = ?1`, `hour >= ${bind(q.from)}`, `hour < ${bind(q.to)}`];
  const list = (column: string, values: readonly string[] | undefined) => {
    if (values && values.length > 0)
      where.push(`${column} IN (SELECT value FROM json_each(${bind(JSON.stringify(values))}))`);
  };
  list("provider", f.providers);
  list("model", f.models);
  list("key_id", f.keys);
  const range = where.join(" AND ");
  const grouped = q.groups.find((g) => g.kind === "dimension");
  const dimName = f.dimension?.name ?? (grouped?.kind === "dimension" ? grouped.dim : null);
  const dimParam = dimName === null ? null : bind(dimName);
  const values = f.dimension?.values;
  const valueFilter =
    values && values.length > 0
      ? ` AND dim_value IN (SELECT value FROM json_each(${bind(JSON.stringify(values))}))`
      : "";

  const day = q.groups.some((g) => g.kind === "day") ? localDaySql(q.timeZone ?? "UTC", q.from, q.to) : "";
  const expr = (g: UsageGroup, nullDimension: boolean) => {
    switch (g.kind) {
      case "provider":
        return "provider";
      case "model":
        return "model";
      case "key":
        return "key_id";
      case "hour":
        return `(hour / ${HOUR_MS}) * ${HOUR_MS}`;
      case "day":
        return day;
      case "dimension":
        return nullDimension ? "NULL" : "dim_value";
    }
  };
  const select = (nullDimension: boolean, sign: "" | "-") =>
    [
      ...q.groups.map((g, i) => `${expr(g, nullDimension)} AS g${i}`),
      `${sign}requests AS requests, ${sign}input_tokens AS input_tokens, ${sign}cached_input_tokens AS cached_input_tokens`,
      `${sign}cache_write_tokens AS cache_write_tokens, ${sign}output_tokens AS output_tokens`,
      `${sign}reasoning_tokens AS reasoning_tokens, ${sign}cost_nano_usd AS cost_n, ${sign}unpriced_requests AS unpriced_requests`,
    ].join(", ");
  const from = "FROM usage_rollups_hourly WHERE";
  let source: string;
  if (dimParam === null) {
    source = `SELECT ${select(false, "")} ${from} ${range} AND dim_name = ''`;
  } else if (grouped && !f.dimension) {
    // Calls without the dimension form the null group: the totals minus the calls that have it.
    source = [
      `SELECT ${select(false, "")} ${from} ${range} AND dim_name = ${dimParam}`,
      `SELECT ${select(true, "")} ${from} ${range} AND dim_name = ''`,
      `SELECT ${select(true, "-")} ${from} ${range} AND dim_name = ${dimParam}`,
    ].join(" UNION ALL ");
  } else {
    source = `SELECT ${select(false, "")} ${from} ${range} AND dim_name = ${dimParam}${valueFilter}`;
  }

  const by = q.groups.map((_, i) => `g${i}`);
  const timeFirst = q.order === "time" ? by.filter((_, i) => isTimeGroup(q.groups[i] as UsageGroup)) : [];
  const order = [...timeFirst, "SUM(cost_n) DESC", ...by.filter((g) => !timeFirst.includes(g))].join(", ");
  const having = `HAVING SUM(requests) > 0${q.unpricedOnly ? " AND SUM(unpriced_requests) > 0" : ""}`;
  const limit = q.limit === undefined ? "" : ` LIMIT ${bind(q.limit)}`;
  const sql = `SELECT ${by.map((g) => `${g}, `).join("")}SUM(requests) AS requests, SUM(input_tokens) AS input_tokens,
      SUM(cached_input_tokens) AS cached_input_tokens, SUM(cache_write_tokens) AS cache_write_tokens,
      SUM(output_tokens) AS output_tokens, SUM(reasoning_tokens) AS reasoning_tokens,
      CAST(COALESCE(SUM(cost_n), 0) AS TEXT) AS cost, SUM(unpriced_requests) AS unpriced_requests
    FROM (${source}) ${by.length > 0 ? `GROUP BY ${by.join(", ")} ` : ""}${having} ORDER BY ${order}${limit}`;
  return { sql, params };
}

type SqlRow = Record<string, string | number | null>;

/** A summed row as read from SQL (sums as numbers, cost as decimal text) to typed sums. */
export function sumsOf(row: SqlRow): UsageSums {
  return {
    requests: Number(row.requests ?? 0),
    inputTokens: Number(row.input_tokens ?? 0),
    cachedInputTokens: Number(row.cached_input_tokens ?? 0),
    cacheWriteTokens: Number(row.cache_write_tokens ?? 0),
    outputTokens: Number(row.output_tokens ?? 0),
    reasoningTokens: Number(row.reasoning_tokens ?? 0),
    costNano: BigInt(row.cost ?? 0),
    unpricedRequests: Number(row.unpriced_requests ?? 0),
  };
}

export async function queryRollups(db: TenantDb, q: UsageQuery): Promise<UsageRow[]> {
  const { sql, params } = rollupSql(q);
  const rows = await db.all<SqlRow>(sql, ...params);
  return rows.map((r) => ({ ...sumsOf(r), values: q.groups.map((_, i) => r[`g${i}`] ?? null) }));
}

/** The sums of all calls in range under the filters (no groups): zero sums when there were none. */
export async function totalRollups(
  db: TenantDb,
  q: Omit<UsageQuery, "groups" | "order" | "limit">,
): Promise<UsageSums> {
  const { sql, params } = rollupSql({ ...q, groups: [] });
  const row = await db.first<SqlRow>(sql, ...params);
  return row ? sumsOf(row) : emptySums();
}

/** The dimension values with the highest cost over [from, to), across every dimension name. The
 * names come first (an index skip-scan), so each name's rows are one index range on the hours. */
export async function topDimensionValues(
  db: TenantDb,
  from: number,
  to: number,
  limit: number,
): Promise<(UsageSums & { name: string; value: string })[]> {
  const names = await dimensionNames(db);
  if (names.length === 0) return [];
  const rows = await db.all<SqlRow & { dim_name: string; dim_value: string }>(
    `SELECT dim_name, dim_value, SUM(requests) AS requests, SUM(input_tokens) AS input_tokens,
       SUM(cached_input_tokens) AS cached_input_tokens, SUM(cache_write_tokens) AS cache_write_tokens,
       SUM(output_tokens) AS output_tokens, SUM(reasoning_tokens) AS reasoning_tokens,
       CAST(SUM(cost_nano_usd) AS TEXT) AS cost, SUM(unpriced_requests) AS unpriced_requests
     FROM usage_rollups_hourly WHERE tenant_id = ?1 AND dim_name IN (SELECT value FROM json_each(?4))
       AND hour >= ?2 AND hour < ?3
     GROUP BY dim_name, dim_value HAVING SUM(requests) > 0 ORDER BY SUM(cost_nano_usd) DESC, dim_name, dim_value LIMIT ?5`,
    from,
    to,
    JSON.stringify(names),
    limit,
  );
  return rows.map((r) => ({ ...sumsOf(r), name: r.dim_name, value: r.dim_value }));
}

/** The dimension names the tenant's rollups hold (an index skip-scan: one seek per name). */
export async function dimensionNames(db: TenantDb, limit = 100): Promise<string[]> {
  const rows = await db.all<{ name: string }>(
    `WITH RECURSIVE names(name) AS (
       SELECT MIN(dim_name) FROM usage_rollups_hourly WHERE tenant_id = ?1 AND dim_name > ''
       UNION ALL
       SELECT (SELECT MIN(dim_name) FROM usage_rollups_hourly WHERE tenant_id = ?1 AND dim_name > names.name)
       FROM names WHERE names.name IS NOT NULL
     ) SELECT name FROM names WHERE name IS NOT NULL LIMIT ?2`,
    limit,
  );
  return rows.map((r) => r.name);
}
