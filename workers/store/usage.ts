// The usage rollups (usage_rollups_daily for whole UTC days, usage_rollups_hourly for the hours
// around them, see rollupParts): sums grouped by provider, model, key, day, hour or one dimension,
// with filters, cost exact as bigint nano-USD. GET /api/v1/usage and the dashboard both read usage
// through it, so neither scans raw events for these answers. The question's shape and the rules
// on what the rollups can answer are shared/usage-query.ts; the zone arithmetic shared/zoned-time.ts.
//
// A rollup row is tenant x hour (UTC) x provider x model x key x (dim_name, dim_value); the rows
// with dim_name = '' are the totals and each event also adds to one row per dimension it has.
// Days follow a time zone: an hour belongs to the local day its start falls in.
import { DAY_MS, HOUR_MS } from "../../shared/time.ts";
import {
  emptySums,
  isTimeGroup,
  rollupProblem,
  type UsageGroup,
  type UsageQuery,
  type UsageRow,
  type UsageSums,
} from "../../shared/usage-query.ts";
import { dayShifts, hourSegments, type DayShift } from "../../shared/zoned-time.ts";
import type { TenantDb } from "./tenant-db.ts";

/** SQL of the local day of the instant `at` (an SQL expression, `hour` by default) in [from, to):
 * its date's midnight, as UTC epoch ms. Whole-number literals only. */
export function localDaySql(tz: string, from: number, to: number, at = "hour"): string {
  const segments = hourSegments(tz, from, to);
  const int = (n: number) => {
    if (!Number.isSafeInteger(n)) throw new RangeError(`not an integer: ${n}`);
    return String(n);
  };
  const shift =
    segments.length === 1
      ? int(segments[0]?.offset ?? 0)
      : `CASE ${segments
          .slice(1)
          .map((s, i) => `WHEN ${at} < ${int(s.start)} THEN ${int(segments[i]?.offset ?? 0)}`)
          .join(" ")} ELSE ${int(segments[segments.length - 1]?.offset ?? 0)} END`;
  if (shift === "0") return `(${at} / ${DAY_MS}) * ${DAY_MS}`;
  return `((${at} + ${shift}) / ${DAY_MS}) * ${DAY_MS}`;
}

/** A UTC day's daily rows count in the local day of its noon (the day most of its hours are in). */
const DAILY_ROW_AT = `(day + ${12 * HOUR_MS})`;

type Sql = { sql: string; params: unknown[] };

/** A rollup's summed columns and their names in a query. */
const SUM_COLUMNS = [
  ["requests", "requests"],
  ["input_tokens", "input_tokens"],
  ["cached_input_tokens", "cached_input_tokens"],
  ["cache_write_tokens", "cache_write_tokens"],
  ["output_tokens", "output_tokens"],
  ["reasoning_tokens", "reasoning_tokens"],
  ["cost_nano_usd", "cost_n"],
  ["unpriced_requests", "unpriced_requests"],
] as const;

/** Where a range's rows are read: whole UTC days from the daily rollups, the hours at either end
 * from the hourly ones. Day groups in a zone whose days are not UTC days add a "shift" part: each
 * daily row counts in the local day of its noon, and the hourly rows of the hours that belong to
 * another local day are moved there (dayShifts). Hour groups need every hour. Either way the sums
 * are the same; the daily rows are ~24 times fewer. */
export function rollupParts(q: Pick<UsageQuery, "from" | "to" | "groups" | "timeZone">): RollupPart[] {
  const hourly = (from: number, to: number): RollupPart => ({ table: "usage_rollups_hourly", time: "hour", from, to });
  const first = Math.ceil(q.from / DAY_MS) * DAY_MS;
  const last = Math.floor(q.to / DAY_MS) * DAY_MS;
  if (q.groups.some((g) => g.kind === "hour") || last <= first) return [hourly(q.from, q.to)];
  const parts: RollupPart[] = [];
  if (q.from < first) parts.push(hourly(q.from, first));
  parts.push({ table: "usage_rollups_daily", time: "day", from: first, to: last });
  const shifts = q.groups.some((g) => g.kind === "day") ? dayShifts(q.timeZone ?? "UTC", first, last) : [];
  if (shifts.length > 0) parts.push({ table: "usage_rollups_hourly", time: "shift", from: first, to: last, shifts });
  if (last < q.to) parts.push(hourly(last, q.to));
  return parts;
}

export type RollupPart = {
  table: "usage_rollups_hourly" | "usage_rollups_daily";
  /** the table's time column, or "shift": the hourly rows of `shifts` only */
  time: "hour" | "day" | "shift";
  from: number;
  to: number;
  shifts?: DayShift[];
};

/** The statement for a query; ?1 is the tenant (bound by TenantDb), the rest are in `params`. */
export function rollupSql(q: UsageQuery): Sql {
  const problem = rollupProblem(q.groups, q.filters);
  if (problem) throw new RangeError(problem);
  const params: unknown[] = [];
  const bind = (value: unknown) => `?${params.push(value) + 1}`;
  const f = q.filters ?? {};
  const filters: string[] = [];
  const list = (column: string, values: readonly string[] | undefined) => {
    if (values && values.length > 0)
      filters.push(`${column} IN (SELECT value FROM json_each(${bind(JSON.stringify(values))}))`);
  };
  list("provider", f.providers);
  list("model", f.models);
  list("key_id", f.keys);
  const grouped = q.groups.find((g) => g.kind === "dimension");
  const dimName = f.dimension?.name ?? (grouped?.kind === "dimension" ? grouped.dim : null);
  const dimParam = dimName === null ? null : bind(dimName);
  const values = f.dimension?.values;
  const valueFilter =
    values && values.length > 0
      ? ` AND dim_value IN (SELECT value FROM json_each(${bind(JSON.stringify(values))}))`
      : "";

  const tz = q.timeZone ?? "UTC";
  /** The local day of a row, by the part's time column (a shift carries its hours' local day). */
  const dayOf = q.groups.some((g) => g.kind === "day")
    ? { hour: localDaySql(tz, q.from, q.to), day: localDaySql(tz, q.from, q.to, DAILY_ROW_AT), shift: "j.value ->> 2" }
    : null;
  const expr = (g: UsageGroup, part: RollupPart) => {
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
        return dayOf?.[part.time] ?? "NULL";
      case "dimension":
        return "dim_value";
    }
  };
  /** `nullDimension`: SQL that is true for rows counted in the dimension's null group; `sign`:
   * SQL of +1 or -1 the row's sums are multiplied by. */
  const select = (part: RollupPart, nullDimension: string, sign: string) =>
    [
      ...q.groups.map((g, i) =>
        g.kind === "dimension" && nullDimension !== "FALSE"
          ? `CASE WHEN ${nullDimension} THEN NULL ELSE dim_value END AS g${i}`
          : `${expr(g, part)} AS g${i}`,
      ),
      ...SUM_COLUMNS.map(([column, alias]) => `${sign}${column} AS ${alias}`),
      ...(part.time === "shift" ? ["j.value ->> 3 AS counted"] : []),
    ].join(", ");
  // One SELECT per part (D1 allows only a few terms in a compound SELECT).
  const rowsOf = (part: RollupPart) => {
    const shifts = part.shifts?.map((r) => [r.from, r.to, r.day, r.counted]);
    const table = shifts ? `json_each(${bind(JSON.stringify(shifts))}) AS j CROSS JOIN ${part.table}` : part.table;
    const range = shifts
      ? ["hour >= j.value ->> 0", "hour < j.value ->> 1"]
      : [`${part.time} >= ${bind(part.from)}`, `${part.time} < ${bind(part.to)}`];
    const where = [`tenant_id = ?1`, ...range, ...filters].join(" AND ");
    if (dimParam === null) return `SELECT ${select(part, "FALSE", "")} FROM ${table} WHERE ${where} AND dim_name = ''`;
    if (grouped && !f.dimension) {
      // Calls without the dimension form the null group: the totals (dim_name '') minus the calls
      // that have it. Each of the dimension's rows is read twice (m.s = 1: its value's group;
      // m.s = -1: taken from the null group), each totals row once.
      return `SELECT ${select(part, "(dim_name = '' OR m.s = -1)", "m.s * ")}
        FROM ${table}, (SELECT 1 AS s UNION ALL SELECT -1) AS m
        WHERE ${where} AND dim_name IN ('', ${dimParam}) AND (dim_name = ${dimParam} OR m.s = 1)`;
    }
    return `SELECT ${select(part, "FALSE", "")} FROM ${table} WHERE ${where} AND dim_name = ${dimParam}${valueFilter}`;
  };
  const by = q.groups.map((_, i) => `g${i}`);
  /** The shifted hours are summed per group first; each sum then counts in its local day (sh.s =
   * 1) and is taken from the day its daily rows counted in (sh.s = -1). */
  const partSource = (part: RollupPart) => {
    if (part.time !== "shift") return rowsOf(part);
    const sums = SUM_COLUMNS.map(([, alias]) => alias);
    const keys = [...by, "counted"].join(", ");
    return `SELECT ${[
      ...q.groups.map(
        (g, i) => `${g.kind === "day" ? `CASE WHEN sh.s = 1 THEN g${i} ELSE counted END` : `g${i}`} AS g${i}`,
      ),
      ...sums.map((alias) => `sh.s * ${alias} AS ${alias}`),
    ].join(", ")}
      FROM (SELECT ${keys}, ${sums.map((alias) => `SUM(${alias}) AS ${alias}`).join(", ")} FROM (${rowsOf(part)}) GROUP BY ${keys})
      CROSS JOIN (SELECT 1 AS s UNION ALL SELECT -1) AS sh`;
  };
  const source = rollupParts(q).map(partSource).join(" UNION ALL ");

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
 * names come first (an index skip-scan), so each name's rows are one index range on the days and
 * hours. */
export async function topDimensionValues(
  db: TenantDb,
  from: number,
  to: number,
  limit: number,
): Promise<(UsageSums & { name: string; value: string })[]> {
  const names = await dimensionNames(db);
  if (names.length === 0) return [];
  const params: unknown[] = [JSON.stringify(names)];
  const bind = (value: unknown) => `?${params.push(value) + 1}`;
  const source = rollupParts({ from, to, groups: [] })
    .map(
      (part) =>
        `SELECT dim_name, dim_value, requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens,
           reasoning_tokens, cost_nano_usd, unpriced_requests FROM ${part.table}
         WHERE tenant_id = ?1 AND dim_name IN (SELECT value FROM json_each(?2))
           AND ${part.time} >= ${bind(part.from)} AND ${part.time} < ${bind(part.to)}`,
    )
    .join(" UNION ALL ");
  const rows = await db.all<SqlRow & { dim_name: string; dim_value: string }>(
    `SELECT dim_name, dim_value, SUM(requests) AS requests, SUM(input_tokens) AS input_tokens,
       SUM(cached_input_tokens) AS cached_input_tokens, SUM(cache_write_tokens) AS cache_write_tokens,
       SUM(output_tokens) AS output_tokens, SUM(reasoning_tokens) AS reasoning_tokens,
       CAST(SUM(cost_nano_usd) AS TEXT) AS cost, SUM(unpriced_requests) AS unpriced_requests
     FROM (${source})
     GROUP BY dim_name, dim_value HAVING SUM(requests) > 0 ORDER BY SUM(cost_nano_usd) DESC, dim_name, dim_value
     LIMIT ${bind(limit)}`,
    ...params,
  );
  return rows.map((r) => ({ ...sumsOf(r), name: r.dim_name, value: r.dim_value }));
}

/** The dimension names the tenant's rollups hold (an index skip-scan of the daily rollups, which
 * hold every name the hourly ones do: one seek per name). */
export async function dimensionNames(db: TenantDb, limit = 100): Promise<string[]> {
  const rows = await db.all<{ name: string }>(
    `WITH RECURSIVE names(name) AS (
       SELECT MIN(dim_name) FROM usage_rollups_daily WHERE tenant_id = ?1 AND dim_name > ''
       UNION ALL
       SELECT (SELECT MIN(dim_name) FROM usage_rollups_daily WHERE tenant_id = ?1 AND dim_name > names.name)
       FROM names WHERE names.name IS NOT NULL
     ) SELECT name FROM names WHERE name IS NOT NULL LIMIT ?2`,
    limit,
  );
  return rows.map((r) => r.name);
}

/** Whether the tenant's rollups hold any call at all. */
export async function hasRollups(db: TenantDb): Promise<boolean> {
  const row = await db.first<{ one: number }>(
    "SELECT 1 AS one FROM usage_rollups_hourly WHERE tenant_id = ?1 AND dim_name = '' LIMIT 1",
  );
  return row !== null;
}
