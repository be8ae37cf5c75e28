// The usage explorer's answer: the rollup rows of a plan (range, groups, filters) as table cells in
// the organisation's locale and zone, chart points, and CSV of exactly those rows. Read by
// routes/usage.tsx; all numbers come from the store's rollup reads (workers/store/usage.ts).
import { formatUsd } from "../../shared/money.ts";
import { offset } from "../../shared/windows.ts";
import { queryRollups, type TenantDb, totalRollups } from "../store/index.ts";
import {
  addSums,
  emptySums,
  groupName,
  isTimeGroup,
  type UsageFilters,
  type UsageGroup,
  type UsageRow,
  type UsageSums,
} from "../../shared/usage-query.ts";
import { hoursOf, localDate } from "../../shared/zoned-time.ts";
import { DAY_MS, HOUR_MS } from "../../shared/time.ts";
import type { Format } from "../../web/format.ts";
import type { FormattedSums, ResultView } from "../../web/pages/usage.tsx";

/** Rows a page (and its CSV) shows at most. */
export const ROW_CAP = 1000;

export function isoDate(date: number): string {
  return new Date(date).toISOString().slice(0, 10);
}

/** What to answer: local dates first..last, the preset that chose them (if one did), groups, filters. */
export type Plan = {
  first: number;
  last: number;
  preset: string | null;
  groups: UsageGroup[];
  filters: UsageFilters;
};

export type KeyOption = { id: string; name: string; prefix: string; revoked: boolean };

const HEADERS: Record<UsageGroup["kind"], string> = {
  provider: "Provider",
  model: "Model",
  key: "Key",
  day: "Day",
  hour: "Hour",
  dimension: "",
};

export function header(g: UsageGroup): string {
  return g.kind === "dimension" ? `Dimension “${g.dim}”` : HEADERS[g.kind];
}

/** Column names of the CSV for a group (a key is its name and its prefix). */
function csvHeaders(g: UsageGroup): string[] {
  return g.kind === "key" ? ["key", "key_prefix"] : [groupName(g)];
}

/** "2026-11-23T15:00:00-05:00": an hour's start in the organisation's zone, with its offset. */
export function localIsoHour(tz: string, at: number): string {
  const off = offset(tz, at);
  const sign = off < 0 ? "-" : "+";
  const abs = Math.abs(off) / 60_000;
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${new Date(at + off).toISOString().slice(0, 19)}${sign}${hh}:${mm}`;
}

export function dateFormats(f: Format) {
  const long = new Intl.DateTimeFormat(f.locale, { dateStyle: "medium", timeZone: "UTC" });
  const short = new Intl.DateTimeFormat(f.locale, { month: "short", day: "numeric", timeZone: "UTC" });
  const hourShort = new Intl.DateTimeFormat(f.locale, {
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone: f.timeZone,
  });
  return {
    long: (d: number) => long.format(d),
    short: (d: number) => short.format(d),
    hour: (ms: number) => hourShort.format(ms),
  };
}

export type Cell = { text: string; code?: string; csv: string[]; none?: boolean };

function cellsOf(groups: UsageGroup[], row: UsageRow, f: Format, keys: Map<string, KeyOption>): Cell[] {
  const dates = dateFormats(f);
  return groups.map((g, i) => {
    const value = row.values[i] ?? null;
    if (value === null) return { text: "(without it)", csv: [""], none: true };
    switch (g.kind) {
      case "day":
        return { text: dates.long(Number(value)), csv: [isoDate(Number(value))] };
      case "hour":
        return { text: f.hour(Number(value)), csv: [localIsoHour(f.timeZone, Number(value))] };
      case "key": {
        const key = keys.get(String(value));
        return key
          ? { text: key.name, code: `${key.prefix}…`, csv: [key.name, key.prefix] }
          : { text: String(value), csv: [String(value), ""] };
      }
      default:
        return { text: String(value), csv: [String(value)] };
    }
  });
}

export function formatted(s: UsageSums, f: Format): FormattedSums {
  return {
    requests: f.count(s.requests),
    input: f.count(s.inputTokens),
    output: f.count(s.outputTokens),
    cached: f.count(s.cachedInputTokens),
    cost: f.usd(s.costNano),
    unpriced: f.count(s.unpricedRequests),
  };
}

/** The numbers of a row as the CSV writes them: plain integers and the exact decimal USD cost. */
function csvSums(s: UsageSums): string[] {
  return [
    String(s.requests),
    String(s.inputTokens),
    String(s.outputTokens),
    String(s.cachedInputTokens),
    formatUsd(s.costNano),
    String(s.unpricedRequests),
  ];
}

const SUM_HEADERS = [
  "requests",
  "input_tokens",
  "output_tokens",
  "cached_input_tokens",
  "cost_usd",
  "unpriced_requests",
];

export type Answer = {
  plan: Plan;
  rows: { cells: Cell[]; sums: UsageSums; values: (string | number | null)[] }[];
  totals: UsageSums;
  truncated: boolean;
};

/** The plan's rows (at most ROW_CAP) and the totals of all its rows. */
export async function answer(db: TenantDb, p: Plan, f: Format, keys: KeyOption[]): Promise<Answer> {
  const { from, to } = hoursOf(f.timeZone, p.first, p.last);
  const base = { from, to, filters: p.filters, timeZone: f.timeZone };
  const found = await queryRollups(db, {
    ...base,
    groups: p.groups,
    order: p.groups.some(isTimeGroup) ? "time" : "cost",
    limit: ROW_CAP + 1,
  });
  const truncated = found.length > ROW_CAP;
  const shown = found.slice(0, ROW_CAP);
  const totals = truncated ? await totalRollups(db, base) : shown.reduce((t, r) => addSums(t, r), emptySums());
  const byId = new Map(keys.map((k) => [k.id, k]));
  return {
    plan: p,
    rows: shown.map((r) => ({ cells: cellsOf(p.groups, r, f, byId), sums: r, values: r.values })),
    totals,
    truncated,
  };
}

/** The CSV of an answer: RFC 4180 quoting, CRLF lines, and cells that a spreadsheet would read
 * as a formula (starting with = + - @, tab or CR) prefixed with an apostrophe. */
export function csvCell(text: string): string {
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export function toCsv(a: Answer): string {
  const groupHeaders = a.plan.groups.flatMap(csvHeaders);
  const lines = [[...groupHeaders, ...SUM_HEADERS]];
  for (const row of a.rows) lines.push([...row.cells.flatMap((c) => c.csv), ...csvSums(row.sums)]);
  const label = groupHeaders.length > 0 ? ["Total", ...groupHeaders.slice(1).map(() => "")] : [];
  lines.push([...label, ...csvSums(a.totals)]);
  return `${lines.map((cells) => cells.map(csvCell).join(",")).join("\r\n")}\r\n`;
}

export function chartOf(a: Answer, f: Format): ResultView["chart"] {
  if (a.rows.length === 0) return null;
  const dates = dateFormats(f);
  const timeIndex = a.plan.groups.findIndex(isTimeGroup);
  const cost = (rows: Answer["rows"]) => rows.reduce((s, r) => s + r.sums.costNano, 0n);
  if (timeIndex >= 0) {
    const kind = a.plan.groups[timeIndex]?.kind;
    const byTime = new Map<number, bigint>();
    for (const r of a.rows) {
      const t = Number(r.values[timeIndex]);
      byTime.set(t, (byTime.get(t) ?? 0n) + r.sums.costNano);
    }
    const { from, to } = hoursOf(f.timeZone, a.plan.first, a.plan.last);
    let buckets: number[] = [];
    if (kind === "day") for (let d = a.plan.first; d <= a.plan.last; d += DAY_MS) buckets.push(d);
    else if ((to - from) / HOUR_MS <= ROW_CAP) for (let h = from; h < to; h += HOUR_MS) buckets.push(h);
    if (a.truncated || buckets.length === 0) buckets = [...byTime.keys()].sort((x, y) => x - y);
    const other = a.plan.groups.length > 1 ? " summed across the second grouping" : "";
    return {
      kind: "time",
      title: kind === "day" ? "Cost per day" : "Cost per hour",
      desc: `Cost of each ${kind}${other}, ${a.truncated ? "for the rows shown" : "over the whole range"}; the table lists the same numbers.`,
      points: buckets.map((t) => ({
        label: kind === "day" ? dates.long(t) : f.hour(t),
        short:
          kind === "day" ? dates.short(t) : buckets.length > 48 ? dates.short(localDate(f.timeZone, t)) : dates.hour(t),
        value: byTime.get(t) ?? 0n,
      })),
    };
  }
  // Without a time group the rows come highest cost first.
  const top = a.rows.slice(0, 20);
  return {
    kind: "bars",
    title: "Cost by group",
    desc: `The ${top.length} groups with the highest cost (of ${a.rows.length}), ${f.usd(cost(top))} in all; the table lists every group.`,
    bars: top.map((r) => ({ label: r.cells.map((c) => c.text).join(" · ") || "All calls", value: r.sums.costNano })),
  };
}

/** The query string of a request: the plan's resolved dates and filters when it has one, else the form's text. */
