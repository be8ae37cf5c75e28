// Sums of the rollups (usage_rollups_daily for whole UTC days, usage_rollups_hourly for the hours
// around them, see rollupParts) grouped by provider, model, key, day, hour or
// one dimension, with filters, cost exact as bigint nano-USD. GET /api/v1/usage and the dashboard
// both read usage through it, so neither scans raw events for these answers.
//
// A rollup row is tenant x hour (UTC) x provider x model x key x (dim_name, dim_value); the rows
// with dim_name = '' are the totals and each event also adds to one row per dimension it has. So
// one dimension at a time (grouped, filtered, or both the same name) is answerable; two are not.
// Days follow a time zone: an hour belongs to the local day its start falls in.
import { offset, windowRange } from "../../shared/windows.ts";
import type { TenantDb } from "./tenant-db.ts";
import { DIMENSION_NAME } from "../../shared/dimensions.ts";
import { DAY_MS, HOUR_MS } from "../../shared/time.ts";

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
  if (dims.size > 1) return "The usage rollups hold one dimension at a time: group and filter by the same one.";
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

/** The zone's offsets over [from, to) from its first whole hour: what localDaySql and dayShifts read. */
function hourSegments(tz: string, from: number, to: number) {
  return offsetSegments(tz, Math.floor(from / HOUR_MS) * HOUR_MS, to);
}

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

/** Hours [from, to) of one UTC day that belong to local day `day`, while that UTC day's daily
 * rows count in local day `counted`: their sums move from `counted` to `day`. */
export type DayShift = { from: number; to: number; day: number; counted: number };

/** The hours of the UTC days [first, last) whose local day is not the one their daily rows count
 * in, as runs of whole hours: at most 12 of each day's 24, none in a zone on UTC. Each hour's
 * local day is the one localDaySql gives it. */
export function dayShifts(tz: string, first: number, last: number): DayShift[] {
  const segments = hourSegments(tz, first, last);
  const dayOf = (at: number) => {
    let off = 0;
    for (const s of segments) if (s.start <= at) off = s.offset;
    return Math.floor((at + off) / DAY_MS) * DAY_MS;
  };
  const shifts: DayShift[] = [];
  for (let utcDay = first; utcDay < last; utcDay += DAY_MS) {
    const counted = dayOf(utcDay + 12 * HOUR_MS);
    for (let hour = utcDay; hour < utcDay + DAY_MS; hour += HOUR_MS) {
      const day = dayOf(hour);
      if (day === counted) continue;
      const run = shifts[shifts.length - 1];
      if (run && run.to === hour && run.day === day && run.counted === counted) run.to += HOUR_MS;
      else shifts.push({ from: hour, to: hour + HOUR_MS, day, counted });
    }
  }
  return shifts;
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
