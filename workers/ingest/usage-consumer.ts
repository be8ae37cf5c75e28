// Usage queue consumer: settles events with the tenant's ledger (reconciliation), then writes raw
// events, hourly and daily (UTC) rollups and each key's last use to D1 in one batch (one transaction) per tenant. Idempotent by request
// id: an event already stored is ignored, and rollups only take events not yet rolled up, so a
// redelivered batch changes nothing.
import { tenantDb, type TenantDb } from "../store/index.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { perTenant } from "./batches.ts";
import { DAY_MS, HOUR_MS } from "../../shared/time.ts";

function isUsageEvent(body: unknown): body is UsageEvent {
  if (typeof body !== "object" || body === null) return false;
  const e = body as Partial<UsageEvent>;
  return e.v === 1 && typeof e.tenantId === "string" && typeof e.requestId === "string" && typeof e.usage === "object";
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

export async function writeUsage(db: D1Database, tenantId: string, events: UsageEvent[]): Promise<void> {
  const tdb = tenantDb(db, tenantId);
  const inserts = events.map((e) =>
    tdb.prepare(
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
  await tdb.batch([...inserts, ...rollUp(tdb)]);
}

/** The statements that roll a tenant's events not yet rolled up into the hourly and daily (UTC)
 * rollups (the totals row and one per dimension), move each key's last use, and mark the events
 * rolled up. Run in the same batch as the inserts; the benchmark's seeding runs them too. */
export function rollUp(tdb: TenantDb): D1PreparedStatement[] {
  const rollups = (["hour", "day"] as const).flatMap((time) => {
    const table = time === "hour" ? "usage_rollups_hourly" : "usage_rollups_daily";
    const size = time === "hour" ? HOUR_MS : DAY_MS;
    const start = `(started_at / ${size}) * ${size}`;
    const columns = ROLLUP_COLUMNS.replace("hour", time);
    return [
      tdb.prepare(
        `INSERT INTO ${table} ${columns}
         SELECT tenant_id, ${start}, provider, model, key_id, '', '', ${ROLLUP_SUMS}
         FROM usage_events WHERE tenant_id = ?1 AND rolled_up = 0 GROUP BY 2, 3, 4, 5 ${rollupUpsert(time)}`,
      ),
      tdb.prepare(
        `INSERT INTO ${table} ${columns}
         SELECT e.tenant_id, ${start}, provider, model, key_id, d.key, d.value, ${ROLLUP_SUMS}
         FROM usage_events e, json_each(e.dimensions) d WHERE e.tenant_id = ?1 AND e.rolled_up = 0
         GROUP BY 2, 3, 4, 5, 6, 7 ${rollupUpsert(time)}`,
      ),
    ];
  });
  return [
    ...rollups,
    // Each key's latest call, for the key list (a late event never moves it back).
    tdb.prepare(
      `UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), latest.at)
       FROM (SELECT key_id, MAX(started_at) AS at FROM usage_events WHERE tenant_id = ?1 AND rolled_up = 0 GROUP BY key_id) AS latest
       WHERE api_keys.tenant_id = ?1 AND api_keys.id = latest.key_id`,
    ),
    tdb.prepare("UPDATE usage_events SET rolled_up = 1 WHERE tenant_id = ?1 AND rolled_up = 0"),
  ];
}

/**
 * Settles the events the ledger may not have seen (the gateway settles each call as it ends; if
 * that was lost, this books the call and releases or reconciles its hold), then stores them.
 * Events already in D1 were settled when first stored; the ledger ignores a settle it has had.
 */
async function settleAndWrite(env: Env, tenantId: string, events: UsageEvent[]): Promise<void> {
  const stored = await tenantDb(env.DB, tenantId).all<{ request_id: string }>(
    "SELECT request_id FROM usage_events WHERE tenant_id = ?1 AND request_id IN (SELECT value FROM json_each(?2))",
    JSON.stringify(events.map((e) => e.requestId)),
  );
  const known = new Set(stored.map((r) => r.request_id));
  const fresh = events.filter((e) => !known.has(e.requestId));
  if (fresh.length > 0) await env.TENANT_LEDGER.get(env.TENANT_LEDGER.idFromName(tenantId)).settle(fresh);
  await writeUsage(env.DB, tenantId, events);
}

export function consumeUsage(batch: MessageBatch, env: Env): Promise<void> {
  return perTenant(batch, env, "usage", isUsageEvent, settleAndWrite);
}
