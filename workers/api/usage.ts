// GET /api/v1/usage?from=&to=&group_by=  — sums from the hourly rollups (raw events when more
// than one dimension is grouped), cost_usd an exact decimal string.
// GET /api/v1/usage/events?limit=&cursor=  — raw metadata events, newest first.
import { Hono } from "hono";
import { AppError } from "../../shared/errors.ts";
import { formatUsd } from "../../shared/money.ts";
import { DIMENSION_NAME } from "../gateway/dimensions.ts";
import type { ApiEnv } from "./auth.ts";
import { apiError } from "./errors.ts";
import { DAY_MS, HOUR_MS, isoDay, isoHour, parseInstant } from "./time.ts";

type Group = { name: string; kind: "provider" | "model" | "key" | "day" | "hour" | "dimension"; dim?: string };

const SUMS = [
  "requests",
  "input_tokens",
  "cached_input_tokens",
  "cache_write_tokens",
  "output_tokens",
  "reasoning_tokens",
];

function parseGroups(text: string | undefined): Group[] | AppError {
  if (!text) return [];
  const groups: Group[] = [];
  for (const raw of text.split(",")) {
    const name = raw.trim();
    if (name === "provider" || name === "model" || name === "key" || name === "day" || name === "hour") {
      groups.push({ name, kind: name });
    } else if (name.startsWith("dimension:") && DIMENSION_NAME.test(name.slice(10))) {
      groups.push({ name, kind: "dimension", dim: name.slice(10) });
    } else {
      return new AppError(
        "bad_request",
        `group_by "${name.slice(0, 40)}" is not one of provider, model, key, day, hour, dimension:<name>.`,
        "group_by",
      );
    }
    if (groups.filter((g) => g.name === name).length > 1) {
      return new AppError("bad_request", `group_by names "${name}" twice.`, "group_by");
    }
  }
  return groups;
}

/** SQL expression of a group over the rollups (r) or raw events (e). */
function groupExpr(g: Group, source: "rollup" | "event", dimIndex: number): string {
  const time = source === "rollup" ? "hour" : "started_at";
  switch (g.kind) {
    case "provider":
      return "provider";
    case "model":
      return "model";
    case "key":
      return "key_id";
    case "hour":
      return `(${time} / ${HOUR_MS}) * ${HOUR_MS}`;
    case "day":
      return `(${time} / ${DAY_MS}) * ${DAY_MS}`;
    case "dimension":
      return source === "rollup" ? "dim_value" : `json_extract(dimensions, '$.' || ?${dimIndex})`;
  }
}

type UsageRow = Record<string, string | number | null>;

function present(groups: Group[], row: UsageRow) {
  const out: Record<string, unknown> = {};
  groups.forEach((g, i) => {
    const value = row[`g${i}`] ?? null;
    out[g.name] =
      value === null
        ? null
        : g.kind === "day"
          ? isoDay(Number(value))
          : g.kind === "hour"
            ? isoHour(Number(value))
            : value;
  });
  for (const s of SUMS) out[s] = Number(row[s] ?? 0);
  out.cost_usd = formatUsd(BigInt(row.cost ?? 0));
  out.unpriced_requests = Number(row.unpriced_requests ?? 0);
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
  const end = to ?? now;
  const start = from ?? end - 30 * DAY_MS;
  if (start >= end) return apiError(c, new AppError("bad_request", "from must be before to.", "from"));
  // Rollups are hourly: the range widens to whole hours.
  const fromHour = Math.floor(start / HOUR_MS) * HOUR_MS;
  const toHour = Math.ceil(end / HOUR_MS) * HOUR_MS;
  const dims = groups.filter((g) => g.kind === "dimension");
  const db = c.var.db;

  let rows: UsageRow[];
  if (dims.length > 1) {
    const params: unknown[] = [fromHour, toHour];
    const exprs = groups.map((g) => {
      if (g.kind !== "dimension") return groupExpr(g, "event", 0);
      params.push(g.dim);
      return groupExpr(g, "event", params.length + 1);
    });
    const select = exprs.map((e, i) => `${e} AS g${i}`).join(", ");
    rows = await db.all<UsageRow>(
      `SELECT ${select}, COUNT(*) AS requests, SUM(input_tokens) AS input_tokens, SUM(cached_input_tokens) AS cached_input_tokens,
         SUM(cache_write_tokens) AS cache_write_tokens, SUM(output_tokens) AS output_tokens, SUM(reasoning_tokens) AS reasoning_tokens,
         CAST(COALESCE(SUM(cost_nano_usd), 0) AS TEXT) AS cost, SUM(unpriced) AS unpriced_requests
       FROM usage_events WHERE tenant_id = ?1 AND started_at >= ?2 AND started_at < ?3
       GROUP BY ${exprs.map((_, i) => `g${i}`).join(", ")} ORDER BY cost DESC`,
      ...params,
    );
  } else {
    const exprs = groups.map((g) => groupExpr(g, "rollup", 0));
    const select = exprs.map((e, i) => `${e} AS g${i}`).join(", ");
    const by = exprs.map((_, i) => `g${i}`).join(", ");
    const sums = (sign: string) =>
      `${sign}requests AS requests, ${sign}input_tokens AS input_tokens, ${sign}cached_input_tokens AS cached_input_tokens,
       ${sign}cache_write_tokens AS cache_write_tokens, ${sign}output_tokens AS output_tokens, ${sign}reasoning_tokens AS reasoning_tokens,
       ${sign}cost_nano_usd AS cost_n, ${sign}unpriced_requests AS unpriced_requests`;
    const totals = `SUM(requests) AS requests, SUM(input_tokens) AS input_tokens, SUM(cached_input_tokens) AS cached_input_tokens,
       SUM(cache_write_tokens) AS cache_write_tokens, SUM(output_tokens) AS output_tokens, SUM(reasoning_tokens) AS reasoning_tokens,
       CAST(SUM(cost_n) AS TEXT) AS cost, SUM(unpriced_requests) AS unpriced_requests`;
    const range = "tenant_id = ?1 AND hour >= ?2 AND hour < ?3";
    if (dims.length === 0) {
      rows = await db.all<UsageRow>(
        `SELECT ${by ? `${by}, ` : ""}${totals} FROM (SELECT ${select ? `${select}, ` : ""}${sums("")} FROM usage_rollups_hourly WHERE ${range} AND dim_name = '')
         ${by ? `GROUP BY ${by}` : ""} HAVING SUM(requests) > 0 ORDER BY SUM(cost_n) DESC`,
        fromHour,
        toHour,
      );
    } else {
      // Calls without the dimension form the null group: totals minus the calls that have it.
      const noDim = exprs
        .map((e, i) => (groups[i]?.kind === "dimension" ? `NULL AS g${i}` : `${e} AS g${i}`))
        .join(", ");
      rows = await db.all<UsageRow>(
        `SELECT ${by}, ${totals} FROM (
           SELECT ${select}, ${sums("")} FROM usage_rollups_hourly WHERE ${range} AND dim_name = ?4
           UNION ALL SELECT ${noDim}, ${sums("")} FROM usage_rollups_hourly WHERE ${range} AND dim_name = ''
           UNION ALL SELECT ${noDim}, ${sums("-")} FROM usage_rollups_hourly WHERE ${range} AND dim_name = ?4)
         GROUP BY ${by} HAVING SUM(requests) > 0 ORDER BY SUM(cost_n) DESC`,
        fromHour,
        toHour,
        dims[0]?.dim,
      );
    }
  }
  return c.json({
    from: new Date(fromHour).toISOString(),
    to: new Date(toHour).toISOString(),
    rows: rows.map((r) => present(groups, r)),
  });
});

type EventRow = {
  request_id: string;
  key_id: string;
  provider: string;
  model: string;
  endpoint: string;
  stream: number;
  status: number;
  outcome: string;
  input_tokens: number;
  cached_input_tokens: number;
  cache_write_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  usage_source: string;
  cost: string | null;
  unpriced: number;
  price: string | null;
  started_at: number;
  first_byte_ms: number | null;
  total_ms: number;
  dimensions: string;
};

function encodeCursor(row: EventRow): string {
  return btoa(`${row.started_at}:${row.request_id}`).replace(/=+$/, "");
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
  const columns = `request_id, key_id, provider, model, endpoint, stream, status, outcome, input_tokens, cached_input_tokens,
    cache_write_tokens, output_tokens, reasoning_tokens, usage_source, CAST(cost_nano_usd AS TEXT) AS cost, unpriced, price,
    started_at, first_byte_ms, total_ms, dimensions`;
  const rows = cursor
    ? await c.var.db.all<EventRow>(
        `SELECT ${columns} FROM usage_events WHERE tenant_id = ?1 AND (started_at < ?2 OR (started_at = ?2 AND request_id < ?3))
         ORDER BY started_at DESC, request_id DESC LIMIT ?4`,
        cursor.at,
        cursor.id,
        limit + 1,
      )
    : await c.var.db.all<EventRow>(
        `SELECT ${columns} FROM usage_events WHERE tenant_id = ?1 ORDER BY started_at DESC, request_id DESC LIMIT ?2`,
        limit + 1,
      );
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return c.json({
    events: page.map((r) => ({
      request_id: r.request_id,
      key_id: r.key_id,
      provider: r.provider,
      model: r.model,
      endpoint: r.endpoint,
      stream: r.stream === 1,
      status: r.status,
      outcome: r.outcome,
      input_tokens: r.input_tokens,
      cached_input_tokens: r.cached_input_tokens,
      cache_write_tokens: r.cache_write_tokens,
      output_tokens: r.output_tokens,
      reasoning_tokens: r.reasoning_tokens,
      usage_source: r.usage_source,
      cost_usd: r.cost === null ? null : formatUsd(BigInt(r.cost)),
      unpriced: r.unpriced === 1,
      price: r.price ? (JSON.parse(r.price) as unknown) : null,
      started_at: new Date(r.started_at).toISOString(),
      first_byte_ms: r.first_byte_ms,
      total_ms: r.total_ms,
      dimensions: JSON.parse(r.dimensions) as unknown,
    })),
    next_cursor: rows.length > limit && last ? encodeCursor(last) : null,
  });
});
