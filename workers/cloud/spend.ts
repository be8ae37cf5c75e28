// GET /api/v1/cloud/spend (docs/cloud.md, "API"): the organisation's classified cloud spend
// summed by any of the groupings, filtered by the same names. Amounts are exact decimal strings;
// rows of different currencies are never added together.
import { AppError } from "../../shared/errors.ts";
import { formatDecimal } from "../../shared/money.ts";
import { DAY_MS, isoDay } from "../../shared/time.ts";
import { querySpend, SPEND_DIMENSIONS, tenantDb, type SpendDimension, type SpendTime } from "../store/index.ts";
import type { CloudCaller } from "./imports.ts";

const MAX_DAYS = 1_100;
const MAX_ROWS = 5_000;
const MAX_FILTER_VALUES = 50;
const GROUPINGS: readonly (SpendDimension | SpendTime)[] = [...SPEND_DIMENSIONS, "day", "month"];

export type SpendRowView = Record<string, string | number | null>;

function parseDay(text: string | undefined, name: string): number | null | AppError {
  if (text === undefined) return null;
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  const at = match ? Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) : Number.NaN;
  if (!match || Number.isNaN(at) || isoDay(at) !== text) {
    return new AppError("bad_request", `${name} must be a date, YYYY-MM-DD.`, name);
  }
  return at;
}

function isGrouping(name: string): name is SpendDimension | SpendTime {
  return (GROUPINGS as readonly string[]).includes(name);
}

export async function cloudSpend(
  caller: CloudCaller,
  query: Record<string, string | undefined>,
  now = Date.now(),
): Promise<{ from: string; to: string; group_by: string[]; data: SpendRowView[]; truncated: boolean } | AppError> {
  const from = parseDay(query.from, "from");
  if (from instanceof AppError) return from;
  const to = parseDay(query.to, "to");
  if (to instanceof AppError) return to;
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const start = from ?? Date.UTC(new Date(today).getUTCFullYear(), new Date(today).getUTCMonth(), 1);
  // `to` is inclusive in the query string (a day), exclusive inside.
  const end = to === null ? today + DAY_MS : to + DAY_MS;
  if (end <= start) return new AppError("bad_request", "to must not be before from.", "to");
  if ((end - start) / DAY_MS > MAX_DAYS) {
    return new AppError("bad_request", `A spend query covers at most ${MAX_DAYS} days.`, "from");
  }
  const groupBy: (SpendDimension | SpendTime)[] = [];
  for (const name of (query.group_by ?? "").split(",").filter(Boolean)) {
    if (!isGrouping(name)) {
      return new AppError(
        "bad_request",
        `group_by takes ${GROUPINGS.join(", ")}; not ${name.slice(0, 40)}.`,
        "group_by",
      );
    }
    if (!groupBy.includes(name)) groupBy.push(name);
  }
  if (groupBy.includes("day") && groupBy.includes("month")) {
    return new AppError("bad_request", "group_by takes day or month, not both.", "group_by");
  }
  const filters: Partial<Record<SpendDimension, string[]>> = {};
  for (const dim of SPEND_DIMENSIONS) {
    const text = query[dim];
    if (text === undefined) continue;
    const values = text.split(",").map((v) => v.trim());
    if (values.length > MAX_FILTER_VALUES || values.some((v) => v.length > 200)) {
      return new AppError("bad_request", `${dim} takes at most ${MAX_FILTER_VALUES} values of 200 characters.`, dim);
    }
    filters[dim] = values;
  }
  const rows = await querySpend(tenantDb(caller.env.DB, caller.tenantId), {
    from: start,
    to: end,
    groupBy,
    filters,
    limit: MAX_ROWS + 1,
  });
  const data = rows.slice(0, MAX_ROWS).map((r) => {
    const view: SpendRowView = {};
    for (const g of groupBy) {
      const value = r[g];
      if (g === "day") view.day = isoDay(Number(value));
      else view[g] = value === "" || value === undefined ? null : value;
    }
    view.cost = formatDecimal(BigInt(r.cost_nano), 9, 2);
    view.currency = r.currency;
    view.usage_amount = r.usage_micro === null || r.usage_unit === "" ? null : formatDecimal(BigInt(r.usage_micro), 6);
    view.usage_unit = r.usage_unit === "" ? null : r.usage_unit;
    view.lines = r.line_count;
    return view;
  });
  return {
    from: isoDay(start),
    to: isoDay(end - DAY_MS),
    group_by: groupBy,
    data,
    truncated: rows.length > MAX_ROWS,
  };
}
