// GET /api/v1/usage?from=&to=&group_by=&provider=&model=&key=&dimension=  — sums from the hourly
// and daily rollups (workers/store/usage.ts; raw events when more than one dimension is involved),
// days and hours in UTC, cost_usd an exact decimal string.
// GET /api/v1/usage/events?limit=&cursor=  — raw metadata events, newest first.
import { Hono } from "hono";
import { AppError } from "../../shared/errors.ts";
import { formatUsd } from "../../shared/money.ts";
import { DIMENSION_NAME } from "../../shared/dimensions.ts";
import type { ApiEnv } from "./auth.ts";
import { apiError } from "./errors.ts";
import { DAY_MS, HOUR_MS, isoDay, isoHour, parseInstant } from "../../shared/time.ts";
import {
  groupName,
  parseGroupName,
  rollupProblem,
  type UsageFilters,
  type UsageGroup,
  type UsageRow,
} from "../../shared/usage-query.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { queryRollups, SUM_EVENTS_MAX, sumUsageEvents, TooManyEvents, usageEventsPage } from "../store/index.ts";
import { usageValues } from "../services/index.ts";

function parseGroups(text: string | undefined): UsageGroup[] | AppError {
  if (!text) return [];
  const groups: UsageGroup[] = [];
  for (const raw of text.split(",")) {
    const name = raw.trim();
    const group = parseGroupName(name);
    if (!group) {
      return new AppError(
        "bad_request",
        `group_by "${name.slice(0, 40)}" is not one of provider, model, key, day, hour, dimension:<name>.`,
        "group_by",
      );
    }
    if (groups.some((g) => groupName(g) === name)) {
      return new AppError("bad_request", `group_by names "${name}" twice.`, "group_by");
    }
    groups.push(group);
  }
  return groups;
}

/** provider=, model=, key=: comma lists (or the parameter repeated); dimension=<name> (calls that
 * have it) or dimension=<name>=<value>, repeated for several values of the one name. */
function parseFilters(c: { req: { queries(name: string): string[] | undefined } }): UsageFilters | AppError {
  const list = (name: string) =>
    (c.req.queries(name) ?? [])
      .flatMap((v) => v.split(","))
      .map((v) => v.trim())
      .filter(Boolean);
  const filters: UsageFilters = {};
  for (const [field, values] of [
    ["provider", list("provider")],
    ["model", list("model")],
    ["key", list("key")],
  ] as const) {
    if (values.length > 50 || values.some((v) => v.length > 200)) {
      return new AppError("bad_request", `${field} takes at most 50 names of at most 200 characters.`, field);
    }
    if (values.length === 0) continue;
    if (field === "provider") filters.providers = values;
    else if (field === "model") filters.models = values;
    else filters.keys = values;
  }
  const dims = c.req.queries("dimension") ?? [];
  if (dims.length > 0) {
    const parsed = dims.map((d) => {
      const eq = d.indexOf("=");
      return eq < 0 ? { name: d.trim(), value: null } : { name: d.slice(0, eq).trim(), value: d.slice(eq + 1) };
    });
    const name = parsed[0]?.name ?? "";
    if (!DIMENSION_NAME.test(name) || parsed.some((p) => p.name !== name) || dims.length > 50) {
      return new AppError(
        "bad_request",
        "dimension is <name> or <name>=<value>, repeated only for more values of the same name.",
        "dimension",
      );
    }
    const values = parsed.flatMap((p) => (p.value === null ? [] : [p.value]));
    filters.dimension = values.length > 0 ? { name, values } : { name };
  }
  return filters;
}

function present(groups: UsageGroup[], row: UsageRow) {
  const out: Record<string, unknown> = {};
  groups.forEach((g, i) => {
    const value = row.values[i] ?? null;
    out[groupName(g)] =
      value === null
        ? null
        : g.kind === "day"
          ? isoDay(Number(value))
          : g.kind === "hour"
            ? isoHour(Number(value))
            : value;
  });
  out.requests = row.requests;
  out.input_tokens = row.inputTokens;
  out.cached_input_tokens = row.cachedInputTokens;
  out.cache_write_tokens = row.cacheWriteTokens;
  out.output_tokens = row.outputTokens;
  out.reasoning_tokens = row.reasoningTokens;
  out.cost_usd = formatUsd(row.costNano);
  out.unpriced_requests = row.unpricedRequests;
  return out;
}

export const usage = new Hono<ApiEnv>();

usage.get("/", async (c) => {
  const groups = parseGroups(c.req.query("group_by"));
  if (groups instanceof AppError) return apiError(c, groups);
  const now = Date.now();
  const to = parseInstant(c.req.query("to"), "to");
  if (to instanceof AppError) return apiError(c, to);
  const from = parseInstant(c.req.query("from"), "from");
  if (from instanceof AppError) return apiError(c, from);
  const filters = parseFilters(c);
  if (filters instanceof AppError) return apiError(c, filters);
  const end = to ?? now;
  const start = from ?? end - 30 * DAY_MS;
  if (start >= end) return apiError(c, new AppError("bad_request", "from must be before to.", "from"));
  // Rollups are hourly: the range widens to whole hours.
  const fromHour = Math.floor(start / HOUR_MS) * HOUR_MS;
  const toHour = Math.ceil(end / HOUR_MS) * HOUR_MS;
  let rows: UsageRow[];
  try {
    rows = rollupProblem(groups, filters)
      ? await sumUsageEvents(c.var.db, groups, filters, fromHour, toHour)
      : await queryRollups(c.var.db, { from: fromHour, to: toHour, groups, filters });
  } catch (error) {
    if (!(error instanceof TooManyEvents)) throw error;
    const most = SUM_EVENTS_MAX.toLocaleString("en-US");
    const message = `Two or more dimensions at once are summed from the calls themselves, at most ${most} of them: narrow from and to.`;
    return apiError(c, new AppError("bad_request", message, "from"));
  }
  return c.json({
    from: new Date(fromHour).toISOString(),
    to: new Date(toHour).toISOString(),
    rows: rows.map((r) => present(groups, r)),
  });
});

/** An event's fields in the answer of GET /api/v1/usage/events, in order (docs/api.md). */
const EVENT_FIELDS = [
  "request_id",
  "key_id",
  "provider",
  "model",
  "endpoint",
  "stream",
  "status",
  "outcome",
  "input_tokens",
  "cached_input_tokens",
  "cache_write_tokens",
  "output_tokens",
  "reasoning_tokens",
  "usage_source",
  "cost_usd",
  "unpriced",
  "price",
  "started_at",
  "first_byte_ms",
  "total_ms",
  "dimensions",
] as const;

function encodeCursor(e: UsageEvent): string {
  return btoa(`${e.startedAt}:${e.requestId}`).replace(/=+$/, "");
}

function decodeCursor(text: string): { at: number; id: string } | null {
  try {
    const [at, id] = atob(text).split(":");
    return at && id && /^\d+$/.test(at) && /^req_[a-z2-7]+$/.test(id) ? { at: Number(at), id } : null;
  } catch {
    return null;
  }
}

usage.get("/events", async (c) => {
  const limitText = c.req.query("limit") ?? "50";
  const limit = Number(limitText);
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > 500) {
    return apiError(c, new AppError("bad_request", "limit must be a whole number from 1 to 500.", "limit"));
  }
  const cursorText = c.req.query("cursor");
  const cursor = cursorText ? decodeCursor(cursorText) : null;
  if (cursorText && !cursor)
    return apiError(c, new AppError("bad_request", "cursor is not one this API gave out.", "cursor"));
  const rows = await usageEventsPage(c.var.db, { order: "desc", cursor, limit: limit + 1 });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return c.json({
    events: page.map((e) => {
      const values = usageValues(c.var.db.tenantId, e);
      return Object.fromEntries(EVENT_FIELDS.map((name) => [name, values[name]]));
    }),
    next_cursor: rows.length > limit && last ? encodeCursor(last) : null,
  });
});
