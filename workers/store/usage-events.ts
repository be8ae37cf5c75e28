// Raw usage events (usage_events): one row per proxied call, written by the usage consumer in one
// batch with the rollups they add to (rollUp), read newest first by GET /api/v1/usage/events, and
// summed directly only for questions the rollups cannot answer (two dimensions at once, API only).
import { z } from "zod";
import { DAY_MS, HOUR_MS } from "../../shared/time.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import type { UsageFilters, UsageGroup, UsageRow } from "../../shared/usage-query.ts";
import { parseStored } from "../../shared/stored-json.ts";
import type { TenantDb } from "./tenant-db.ts";
import { sumsOf } from "./usage.ts";

/** A usage_events row as listed (cost as decimal text; price and dimensions as stored JSON). */
export type UsageEventRow = {
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

const StoredPrice = z.record(z.string(), z.unknown());
const StoredDimensions = z.record(z.string(), z.string());

/** The event's price record as stored (null when it was unpriced). */
export function eventPrice(r: Pick<UsageEventRow, "price">): Record<string, unknown> | null {
  return r.price ? parseStored(StoredPrice, r.price, "usage_events.price") : null;
}

export function eventDimensions(r: Pick<UsageEventRow, "dimensions">): Record<string, string> {
  return parseStored(StoredDimensions, r.dimensions, "usage_events.dimensions");
}

const ROLLUP_SUMS = `COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(output_tokens),
  SUM(reasoning_tokens), COALESCE(SUM(cost_nano_usd), 0), SUM(unpriced)`;
const ROLLUP_COLUMNS = `(tenant_id, hour, provider, model, key_id, dim_name, dim_value, requests, input_tokens, cached_input_tokens,
  cache_write_tokens, output_tokens, reasoning_tokens, cost_nano_usd, unpriced_requests)`;
const rollupUpsert = (
  time: "hour" | "day",
) => `ON CONFLICT (tenant_id, dim_name, ${time}, provider, model, key_id, dim_value) DO UPDATE SET
  requests = requests + excluded.requests, input_tokens = input_tokens + excluded.input_tokens,
  cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
  cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, output_tokens = output_tokens + excluded.output_tokens,
  reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, cost_nano_usd = cost_nano_usd + excluded.cost_nano_usd,
  unpriced_requests = unpriced_requests + excluded.unpriced_requests`;

/** Stores the events (one already stored is ignored) and rolls them up, in one batch (one
 * transaction): the mark, the inserts, then rollUp's statements. */
export async function writeUsageEvents(db: TenantDb, events: readonly UsageEvent[]): Promise<void> {
  const inserts = events.map((e) =>
    db.prepare(
      `INSERT INTO usage_events (tenant_id, request_id, key_id, provider, model, endpoint, stream, status, outcome,
         input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, usage_source,
         cost_nano_usd, unpriced, price, started_at, first_byte_ms, total_ms, dimensions)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)
       ON CONFLICT (tenant_id, request_id) DO NOTHING`,
      e.requestId,
      e.keyId,
      e.provider,
      e.model,
      e.endpoint,
      e.stream ? 1 : 0,
      e.status,
      e.outcome,
      e.usage.inputTokens,
      e.usage.cachedInputTokens,
      e.usage.cacheWriteTokens,
      e.usage.outputTokens,
      e.usage.reasoningTokens,
      e.usageSource,
      e.costNanoUsd,
      e.costNanoUsd === null ? 1 : 0,
      e.price ? JSON.stringify(e.price) : null,
      e.startedAt,
      e.firstByteMs,
      e.totalMs,
      JSON.stringify(e.dimensions),
    ),
  );
  await db.batch([markUsage(db), ...inserts, ...rollUp(db)]);
}

/**
 * The first statement of a usage batch: records the largest rowid of usage_events (or
 * `afterRowid`), so that rollUp, later in the same batch, takes exactly the rows inserted in
 * between — D1 runs a batch as one transaction, one writer at a time, and a new row's rowid is
 * larger than every rowid there is. An event already stored is not inserted again, so a
 * redelivered batch adds nothing to the rollups.
 */
export function markUsage(db: TenantDb, afterRowid?: number): D1PreparedStatement {
  const value = afterRowid === undefined ? "(SELECT COALESCE(MAX(rowid), 0) FROM usage_events)" : "?2";
  return db.prepare(
    `INSERT INTO usage_marks (tenant_id, after_rowid) VALUES (?1, ${value})
     ON CONFLICT (tenant_id) DO UPDATE SET after_rowid = excluded.after_rowid`,
    ...(afterRowid === undefined ? [] : [afterRowid]),
  );
}

/** The rows inserted since the tenant's mark: a rowid range (the `+` keeps SQLite from reading
 * the tenant's whole time index instead). */
const INSERTED = (alias: string) =>
  `${alias}rowid > (SELECT after_rowid FROM usage_marks WHERE tenant_id = ?1) AND +${alias}tenant_id = ?1`;

/** The statements that roll the rows inserted since the tenant's mark (markUsage) into the hourly
 * and daily (UTC) rollups (the totals row and one per dimension) and move each key's last use.
 * Run in the same batch as the mark and the inserts; the benchmark's seeding runs them too. */
export function rollUp(db: TenantDb): D1PreparedStatement[] {
  const rollups = (["hour", "day"] as const).flatMap((time) => {
    const table = time === "hour" ? "usage_rollups_hourly" : "usage_rollups_daily";
    const size = time === "hour" ? HOUR_MS : DAY_MS;
    const start = `(started_at / ${size}) * ${size}`;
    const columns = ROLLUP_COLUMNS.replace("hour", time);
    return [
      db.prepare(
        `INSERT INTO ${table} ${columns}
         SELECT tenant_id, ${start}, provider, model, key_id, '', '', ${ROLLUP_SUMS}
         FROM usage_events WHERE ${INSERTED("")} GROUP BY 2, 3, 4, 5 ${rollupUpsert(time)}`,
      ),
      db.prepare(
        `INSERT INTO ${table} ${columns}
         SELECT e.tenant_id, ${start}, provider, model, key_id, d.key, d.value, ${ROLLUP_SUMS}
         FROM usage_events e, json_each(e.dimensions) d WHERE ${INSERTED("e.")}
         GROUP BY 2, 3, 4, 5, 6, 7 ${rollupUpsert(time)}`,
      ),
    ];
  });
  return [
    ...rollups,
    // Each key's latest call, for the key list (a late event never moves it back).
    db.prepare(
      `UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), latest.at)
       FROM (SELECT key_id, MAX(started_at) AS at FROM usage_events WHERE ${INSERTED("")} GROUP BY key_id) AS latest
       WHERE api_keys.tenant_id = ?1 AND api_keys.id = latest.key_id`,
    ),
  ];
}

/** Which of these request ids are stored already. */
export async function storedRequestIds(db: TenantDb, requestIds: readonly string[]): Promise<Set<string>> {
  const stored = await db.all<{ request_id: string }>(
    "SELECT request_id FROM usage_events WHERE tenant_id = ?1 AND request_id IN (SELECT value FROM json_each(?2))",
    JSON.stringify(requestIds),
  );
  return new Set(stored.map((r) => r.request_id));
}

const EVENT_COLUMNS = `request_id, key_id, provider, model, endpoint, stream, status, outcome, input_tokens, cached_input_tokens,
    cache_write_tokens, output_tokens, reasoning_tokens, usage_source, CAST(cost_nano_usd AS TEXT) AS cost, unpriced, price,
    started_at, first_byte_ms, total_ms, dimensions`;

/** Up to `limit` events, newest first (by start, then request id), from before `cursor` if given. */
export function usageEventsBefore(
  db: TenantDb,
  cursor: { at: number; id: string } | null,
  limit: number,
): Promise<UsageEventRow[]> {
  return cursor
    ? db.all<UsageEventRow>(
        `SELECT ${EVENT_COLUMNS} FROM usage_events WHERE tenant_id = ?1 AND (started_at < ?2 OR (started_at = ?2 AND request_id < ?3))
         ORDER BY started_at DESC, request_id DESC LIMIT ?4`,
        cursor.at,
        cursor.id,
        limit,
      )
    : db.all<UsageEventRow>(
        `SELECT ${EVENT_COLUMNS} FROM usage_events WHERE tenant_id = ?1 ORDER BY started_at DESC, request_id DESC LIMIT ?2`,
        limit,
      );
}

/** Sums of the raw events of [fromHour, toHour) by the groups, under the filters, highest cost
 * first: for two or more dimensions at once, which the rollups cannot answer (days in UTC). */
export async function sumUsageEvents(
  db: TenantDb,
  groups: readonly UsageGroup[],
  filters: UsageFilters,
  fromHour: number,
  toHour: number,
): Promise<UsageRow[]> {
  const params: unknown[] = [fromHour, toHour];
  const bind = (value: unknown) => `?${params.push(value) + 1}`;
  const exprs = groups.map((g) => {
    switch (g.kind) {
      case "provider":
        return "provider";
      case "model":
        return "model";
      case "key":
        return "key_id";
      case "hour":
        return `(started_at / ${HOUR_MS}) * ${HOUR_MS}`;
      case "day":
        return `(started_at / ${DAY_MS}) * ${DAY_MS}`;
      case "dimension":
        return `json_extract(dimensions, '$.' || ${bind(g.dim)})`;
    }
  });
  const where = ["tenant_id = ?1", "started_at >= ?2", "started_at < ?3"];
  const list = (column: string, values: readonly string[] | undefined) => {
    if (values?.length) where.push(`${column} IN (SELECT value FROM json_each(${bind(JSON.stringify(values))}))`);
  };
  list("provider", filters.providers);
  list("model", filters.models);
  list("key_id", filters.keys);
  if (filters.dimension) {
    const value = `json_extract(dimensions, '$.' || ${bind(filters.dimension.name)})`;
    if (filters.dimension.values?.length) {
      where.push(`${value} IN (SELECT value FROM json_each(${bind(JSON.stringify(filters.dimension.values))}))`);
    } else {
      where.push(`${value} IS NOT NULL`);
    }
  }
  const select = exprs.map((e, i) => `${e} AS g${i}`).join(", ");
  const by = exprs.map((_, i) => `g${i}`).join(", ");
  const rows = await db.all<Record<string, string | number | null>>(
    `SELECT ${select}, COUNT(*) AS requests, SUM(input_tokens) AS input_tokens, SUM(cached_input_tokens) AS cached_input_tokens,
       SUM(cache_write_tokens) AS cache_write_tokens, SUM(output_tokens) AS output_tokens, SUM(reasoning_tokens) AS reasoning_tokens,
       CAST(COALESCE(SUM(cost_nano_usd), 0) AS TEXT) AS cost, SUM(unpriced) AS unpriced_requests
     FROM usage_events WHERE ${where.join(" AND ")}
     GROUP BY ${by} ORDER BY SUM(cost_nano_usd) DESC, ${by}`,
    ...params,
  );
  return rows.map((r) => ({ ...sumsOf(r), values: groups.map((_, i) => r[`g${i}`] ?? null) }));
}
