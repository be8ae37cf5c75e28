// The SQL that writes the dashboard benchmark's usage events (dashboard-seed.ts runs it): the
// events of a range of the plan's hours, drawn from integer hashes of the event number, stored
// as the usage consumer stores them, not rolled up yet (dashboard-seed.ts rolls each chunk up).
import { HOUR_MS, SLOTS } from "./dashboard-data.ts";

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

export const EVENTS_SQL = `INSERT INTO usage_events (tenant_id, request_id, key_id, provider, model, endpoint, stream, status,
    outcome, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens, usage_source,
    cost_nano_usd, unpriced, price, started_at, first_byte_ms, total_ms, dimensions)
  SELECT ?1, 'req_' || ${base32("g.t", 11)} || ${base32("g.r1 * 512 + g.r7 % 512", 5)} || ${base32("g.n", 5)},
    c.key_id, c.provider, c.model, c.endpoint,
    CASE WHEN c.endpoint <> 'embeddings' AND g.r5 % 3 = 0 THEN 1 ELSE 0 END,
    CASE WHEN ${FAILED} THEN 500 ELSE 200 END,
    CASE WHEN ${FAILED} THEN 'upstream_error' ELSE 'ok' END,
    ${INP}, ${CACHED}, ${CWRITE}, ${OUTP}, ${REAS},
    CASE WHEN ${FAILED} THEN 'none' ELSE 'provider' END,
    CASE WHEN ${FAILED} THEN 0 WHEN c.priced = 0 THEN NULL
      ELSE (${INP} - ${CACHED} - ${CWRITE}) * c.p_in + ${CACHED} * c.p_cached + ${CWRITE} * c.p_cw + ${OUTP} * c.p_out END,
    CASE WHEN ${FAILED} THEN 0 ELSE 1 - c.priced END,
    CASE WHEN ${FAILED} THEN NULL ELSE c.price END,
    g.t, ${FIRST_BYTE},
    COALESCE(${FIRST_BYTE}, 300) + ${OUTP} * (20 + g.r5 % 40) / 10,
    c.dims
  FROM (${DRAWS}) g
  JOIN bench_slots s ON s.s = g.r1 % ${SLOTS}
  JOIN bench_combos c ON c.c = s.combo`;
