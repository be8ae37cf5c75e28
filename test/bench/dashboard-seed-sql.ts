// The SQL of the dashboard benchmark's seeding (dashboard-seed.ts runs it), all of it inside
// SQLite: the events of a range of the plan's hours, drawn from integer hashes of the event
// number, go into a staging table of one row per event (bench_events, shaped like the old
// usage_events); from there they are rolled up as the usage consumer rolls them up (hourly and
// daily rollups, the keys' last use) and stored as packs (usage_packs) the way migration 0012
// stored the old rows: up to 100 events of one UTC minute a row, the body a JSON array (TEXT).
import { DAY_MS, HOUR_MS, SLOTS } from "./dashboard-data.ts";
import { BUCKET_MS, rollupUpsert } from "../../workers/store/usage-events.ts";

const BASE32 = "abcdefghijklmnopqrstuvwxyz234567";
const U32 = 4_294_967_296;

/** `chars` base32 characters of the integer `expr`, most significant first (as shared/ids.ts). */
function base32(expr: string, chars: number): string {
  const parts = Array.from({ length: chars }, (_, k) => {
    const shift = 5 * (chars - 1 - k);
    return `substr('${BASE32}', ((${expr} >> ${shift}) & 31) + 1, 1)`;
  });
  return parts.join(" || ");
}

/** A 16-bit hash of the event number (multiplicative hashing, high bits). */
function hash16(n: string, multiplier: number, add: number): string {
  return `(((${n} * ${multiplier} + ${add}) % ${U32}) >> 16)`;
}

const N = "(h.n0 + q.i)";
/** Rows of the chunk's hours: the event number, its time, six independent 16-bit draws. */
const DRAWS = `SELECT ${N} AS n,
    h.hour + (((${N} * 2246822519 + 7) % ${U32}) >> 4) % ${HOUR_MS} AS t,
    ${hash16(N, 2654435761, 1)} AS r1, ${hash16(N, 3266489917, 3)} AS r2, ${hash16(N, 668265263, 5)} AS r3,
    ${hash16(N, 374761393, 11)} AS r4, ${hash16(N, 2869860233, 13)} AS r5, ${hash16(N, 3432918353, 17)} AS r6,
    ${hash16(N, 461845907, 19)} AS r7
  FROM bench_hours h JOIN bench_seq q ON q.i < h.cnt WHERE h.i >= ?2 AND h.i < ?3`;

// 0.4% of calls fail upstream (no tokens, no cost); the rest have token counts drawn from
// skewed distributions scaled per model.
const FAILED = "(g.r6 % 1000 < 4)";
const INP = `(CASE WHEN ${FAILED} THEN 0 ELSE 8 + (g.r2 * g.r2 / 1100000) * c.in_scale / 100 END)`;
const CACHED = `(${INP} * (CASE WHEN g.r3 % 100 < c.cache_pct THEN 20 + g.r3 % 70 ELSE 0 END) / 100)`;
const CWRITE = `(CASE WHEN c.cache_writes = 1 AND g.r3 % 17 = 0 THEN (${INP} - ${CACHED}) / 2 ELSE 0 END)`;
const OUTP = `(CASE WHEN ${FAILED} OR c.out_scale = 0 THEN 0 ELSE 4 + (g.r4 * g.r4 / 7000000) * c.out_scale / 100 END)`;
const REAS = `(CASE WHEN c.reasoning = 1 THEN ${OUTP} * (30 + g.r5 % 50) / 100 ELSE 0 END)`;
const FIRST_BYTE = `(CASE WHEN ${FAILED} THEN NULL ELSE 120 + g.r7 % 900 END)`;

/** The staging table: one row per event, the columns of the old usage_events (no unpriced: an
 * event is unpriced when its cost is NULL, as the consumer counts it). */
export const STAGING_TABLE = `CREATE TABLE bench_events (tenant_id TEXT NOT NULL, request_id TEXT NOT NULL,
  key_id TEXT NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, endpoint TEXT NOT NULL, stream INTEGER NOT NULL,
  status INTEGER NOT NULL, outcome TEXT NOT NULL, input_tokens INTEGER NOT NULL, cached_input_tokens INTEGER NOT NULL,
  cache_write_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
  usage_source TEXT NOT NULL, cost_nano_usd INTEGER, price TEXT, started_at INTEGER NOT NULL, first_byte_ms INTEGER,
  total_ms INTEGER NOT NULL, dimensions TEXT NOT NULL)`;

const STAGING_COLUMNS = `tenant_id, request_id, key_id, provider, model, endpoint, stream, status, outcome, input_tokens,
    cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, usage_source, cost_nano_usd, price,
    started_at, first_byte_ms, total_ms, dimensions`;

/** Stages stored events (?2: a JSON array of UsageEvent objects) for tenant ?1: the refused calls
 * made through the gateway, taken out of usage_packs to be stored again at their new times. */
export const STAGE_EVENTS_SQL = `INSERT INTO bench_events (${STAGING_COLUMNS})
  SELECT ?1, json_extract(value, '$.requestId'), json_extract(value, '$.keyId'), json_extract(value, '$.provider'),
    json_extract(value, '$.model'), json_extract(value, '$.endpoint'), json_extract(value, '$.stream'),
    json_extract(value, '$.status'), json_extract(value, '$.outcome'), json_extract(value, '$.usage.inputTokens'),
    json_extract(value, '$.usage.cachedInputTokens'), json_extract(value, '$.usage.cacheWriteTokens'),
    json_extract(value, '$.usage.outputTokens'), json_extract(value, '$.usage.reasoningTokens'),
    json_extract(value, '$.usageSource'), json_extract(value, '$.costNanoUsd'), json_extract(value, '$.price'),
    json_extract(value, '$.startedAt'), json_extract(value, '$.firstByteMs'), json_extract(value, '$.totalMs'),
    json_extract(value, '$.dimensions')
  FROM json_each(?2)`;

/** Stages the events of the plan's hours [?2, ?3) for tenant ?1. */
export const EVENTS_SQL = `INSERT INTO bench_events (${STAGING_COLUMNS})
  SELECT ?1, 'req_' || ${base32("g.t", 11)} || ${base32("g.r1 * 512 + g.r7 % 512", 5)} || ${base32("g.n", 5)},
    c.key_id, c.provider, c.model, c.endpoint,
    CASE WHEN c.endpoint <> 'embeddings' AND g.r5 % 3 = 0 THEN 1 ELSE 0 END,
    CASE WHEN ${FAILED} THEN 500 ELSE 200 END,
    CASE WHEN ${FAILED} THEN 'upstream_error' ELSE 'ok' END,
    ${INP}, ${CACHED}, ${CWRITE}, ${OUTP}, ${REAS},
    CASE WHEN ${FAILED} THEN 'none' ELSE 'provider' END,
    CASE WHEN ${FAILED} THEN 0 WHEN c.priced = 0 THEN NULL
      ELSE (${INP} - ${CACHED} - ${CWRITE}) * c.p_in + ${CACHED} * c.p_cached + ${CWRITE} * c.p_cw + ${OUTP} * c.p_out END,
    CASE WHEN ${FAILED} THEN NULL ELSE c.price END,
    g.t, ${FIRST_BYTE},
    COALESCE(${FIRST_BYTE}, 300) + ${OUTP} * (20 + g.r5 % 40) / 10,
    c.dims
  FROM (${DRAWS}) g
  JOIN bench_slots s ON s.s = g.r1 % ${SLOTS}
  JOIN bench_combos c ON c.c = s.combo`;

const ROLLUP_SUMS = `COUNT(*), SUM(input_tokens), SUM(cached_input_tokens), SUM(cache_write_tokens), SUM(output_tokens),
  SUM(reasoning_tokens), COALESCE(SUM(cost_nano_usd), 0), SUM(cost_nano_usd IS NULL)`;
const rollupColumns = (time: "hour" | "day") => `(tenant_id, ${time}, provider, model, key_id, dim_name, dim_value,
  requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_nano_usd,
  unpriced_requests)`;

/**
 * Roll the staged events of tenant ?1 into the hourly and daily (UTC) rollups (the totals row,
 * dim_name '', and one row per dimension through json_each) and move each key's last use: what
 * the usage consumer adds for the same events (writeUsageRows, workers/store/usage-events.ts;
 * dashboard-seed.test.ts checks that the two agree).
 */
export const ROLLUP_SQL: string[] = [
  ...(["hour", "day"] as const).flatMap((time) => {
    const table = time === "hour" ? "usage_rollups_hourly" : "usage_rollups_daily";
    const size = time === "hour" ? HOUR_MS : DAY_MS;
    const start = `(started_at / ${size}) * ${size}`;
    return [
      `INSERT INTO ${table} ${rollupColumns(time)}
       SELECT ?1, ${start}, provider, model, key_id, '', '', ${ROLLUP_SUMS}
       FROM bench_events GROUP BY 2, 3, 4, 5 ${rollupUpsert(time)}`,
      `INSERT INTO ${table} ${rollupColumns(time)}
       SELECT ?1, ${start}, provider, model, key_id, d.key, d.value, ${ROLLUP_SUMS}
       FROM bench_events e, json_each(e.dimensions) d GROUP BY 2, 3, 4, 5, 6, 7 ${rollupUpsert(time)}`,
    ];
  }),
  // Each key's latest call, for the key list (a late event never moves it back).
  `UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), latest.at)
   FROM (SELECT key_id, MAX(started_at) AS at FROM bench_events GROUP BY key_id) AS latest
   WHERE api_keys.tenant_id = ?1 AND api_keys.id = latest.key_id`,
];

/** Events a seeded pack row holds at most (as migration 0012's rows). */
export const PACK_EVENTS = 100;

/**
 * Stores the staged events of tenant ?1 in usage_packs as migration 0012 stored the old rows: the
 * events of one UTC minute of their start (`bucket`), in (start, request id) order, up to
 * PACK_EVENTS a row, each row a whole pack (part -1, nonce 0) with id 'seed-<chunk ?2>-<bucket>-<n>'
 * and a body that is a JSON array of UsageEvent objects (TEXT; the app writes gzipped NDJSON
 * BLOBs, and its readers take either). D1 binds a number as REAL: hence the CAST of ?2.
 */
export const PACK_SQL = `INSERT INTO usage_packs (tenant_id, pack_id, bucket, part, first_at, last_at, n, nonce, body)
  SELECT ?1, 'seed-' || CAST(?2 AS INTEGER) || '-' || bucket || '-' || grp, bucket, -1, MIN(started_at),
    MAX(started_at), COUNT(*), 0, json_group_array(json(event))
  FROM (
    SELECT started_at, started_at / ${BUCKET_MS} AS bucket,
      (ROW_NUMBER() OVER (PARTITION BY started_at / ${BUCKET_MS} ORDER BY started_at, request_id) - 1) / ${PACK_EVENTS} AS grp,
      json_object(
        'v', 1, 'requestId', request_id, 'tenantId', tenant_id, 'keyId', key_id, 'provider', provider,
        'model', model, 'endpoint', endpoint, 'stream', json(CASE WHEN stream THEN 'true' ELSE 'false' END),
        'status', status, 'outcome', outcome,
        'usage', json_object('inputTokens', input_tokens, 'cachedInputTokens', cached_input_tokens,
          'cacheWriteTokens', cache_write_tokens, 'outputTokens', output_tokens, 'reasoningTokens', reasoning_tokens),
        'usageSource', usage_source, 'costNanoUsd', cost_nano_usd, 'price', json(price), 'startedAt', started_at,
        'firstByteMs', first_byte_ms, 'totalMs', total_ms, 'dimensions', json(dimensions)
      ) AS event
    FROM bench_events
  )
  GROUP BY bucket, grp`;
