// Hook module of the dashboard benchmark (loaded by worker-host.ts --hook, so it runs beside
// workerd with the Worker's own D1 binding). It writes the data set of dashboard-data.ts inside
// SQLite, a chunk of the plan's hours at a time (dashboard-seed-sql.ts): the chunk's usage events
// from INSERT … SELECT into a staging table of one row per event (bench_events; a few hundred
// thousand rows per statement, no row crosses the process boundary), rolled up from there into
// the hourly and daily rollups and the keys' last use as the usage consumer rolls them up, then
// stored as packs in usage_packs (up to 100 events of one minute a row, TEXT JSON bodies, as
// migration 0012 stores old rows) and the staging table cleared. The read-only functions
// (checks, counts, query plans) are in dashboard-inspect.ts.
import type { HookDb, HookFn } from "./worker-host.ts";
import type { UsageEvent } from "../../shared/usage.ts";
import { type DataPlan, HOUR_MS } from "./dashboard-data.ts";
import { storedEvents } from "./dashboard-inspect.ts";
import { EVENTS_SQL, PACK_SQL, ROLLUP_SQL, STAGE_EVENTS_SQL, STAGING_TABLE } from "./dashboard-seed-sql.ts";

export { check, counts, explain } from "./dashboard-inspect.ts";

const HELPERS = ["bench_hours", "bench_seq", "bench_slots", "bench_combos", "bench_refusals", "bench_events"];

export type SeedArgs = {
  tenantId: string;
  plan: DataPlan;
  /** key id of each of the plan's keys, in order */
  keyIds: string[];
  /** events per INSERT statement (whole hours) */
  chunkEvents: number;
};

export type SeedResult = {
  seconds: number;
  /** generating the chunks' events into the staging table and packing them into usage_packs */
  eventSeconds: number;
  /** rolling the chunks up (rollups and the keys' last use) */
  rollupSeconds: number;
  generated: number;
  refusals: number;
  chunks: number;
  sizeBytes: number;
};

type Meta = { size_after?: number };

function metaOf(result: { meta: unknown }): Meta {
  return result.meta as Meta;
}

async function fillHelpers(db: HookDb, args: SeedArgs): Promise<void> {
  const { plan } = args;
  let n0 = 0;
  const hours = plan.hourly.map((cnt, i) => {
    const row = [plan.startHour + i * HOUR_MS, n0, cnt];
    n0 += cnt;
    return row;
  });
  const maxPerHour = Math.max(...plan.hourly);
  const combos = plan.combos.map((c) => {
    const key = plan.keys[c.keyIndex];
    const keyId = args.keyIds[c.keyIndex];
    if (!key || !keyId) throw new Error(`no key ${c.keyIndex}`);
    const p = c.nanoPerToken ?? [0, 0, 0, 0];
    return [
      keyId,
      c.provider,
      c.model,
      c.endpoint,
      JSON.stringify(key.dimensions),
      c.nanoPerToken ? 1 : 0,
      ...p,
      c.price,
      c.reasoning ? 1 : 0,
      c.cachePct,
      c.cacheWrites ? 1 : 0,
      c.inputScale,
      c.outputScale,
    ];
  });
  const col = (i: number) => `json_extract(value, '$[${i}]')`;
  await db.batch([
    ...HELPERS.map((t) => db.prepare(`DROP TABLE IF EXISTS ${t}`)),
    db.prepare(
      "CREATE TABLE bench_hours (i INTEGER PRIMARY KEY, hour INTEGER NOT NULL, n0 INTEGER NOT NULL, cnt INTEGER NOT NULL)",
    ),
    db.prepare("CREATE TABLE bench_seq (i INTEGER PRIMARY KEY)"),
    db.prepare("CREATE TABLE bench_slots (s INTEGER PRIMARY KEY, combo INTEGER NOT NULL)"),
    db.prepare(`CREATE TABLE bench_combos (c INTEGER PRIMARY KEY, key_id TEXT, provider TEXT, model TEXT, endpoint TEXT,
      dims TEXT, priced INTEGER, p_in INTEGER, p_cached INTEGER, p_cw INTEGER, p_out INTEGER, price TEXT, reasoning INTEGER,
      cache_pct INTEGER, cache_writes INTEGER, in_scale INTEGER, out_scale INTEGER)`),
    db.prepare("CREATE TABLE bench_refusals (request_id TEXT PRIMARY KEY, t INTEGER NOT NULL)"),
    db.prepare(STAGING_TABLE),
    db
      .prepare(`INSERT INTO bench_hours SELECT key, ${col(0)}, ${col(1)}, ${col(2)} FROM json_each(?1)`)
      .bind(JSON.stringify(hours)),
    db
      .prepare(
        "WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?1) INSERT INTO bench_seq SELECT i FROM s",
      )
      .bind(maxPerHour),
    db.prepare("INSERT INTO bench_slots SELECT key, value FROM json_each(?1)").bind(JSON.stringify(plan.slots)),
    db
      .prepare(
        `INSERT INTO bench_combos SELECT key, ${Array.from({ length: 16 }, (_, i) => col(i)).join(", ")} FROM json_each(?1)`,
      )
      .bind(JSON.stringify(combos)),
  ]);
}

/** Stored events staged per statement when the refused calls are moved to the staging table. */
const STAGE_BATCH = 200;

/**
 * The refused calls made through the gateway were stored by the queue consumers at the time
 * they were made (`stored`: the tenant's usage events, all refused). Move them out of
 * usage_packs into the staging table, where the first chunk rolls them up and packs them again;
 * spread those with a call.refused audit event over the window in the order of their audit seq
 * (so seq order is time order), give the events before them (key and rule creation) a time
 * before the window, and drop their rollups and the keys' last use (rebuilt with the chunks).
 */
async function spreadRefusals(db: HookDb, args: SeedArgs, stored: readonly UsageEvent[]): Promise<number> {
  const { plan, tenantId } = args;
  const staged = [];
  for (let i = 0; i < stored.length; i += STAGE_BATCH) {
    staged.push(db.prepare(STAGE_EVENTS_SQL).bind(tenantId, JSON.stringify(stored.slice(i, i + STAGE_BATCH))));
  }
  await db.batch([...staged, db.prepare("DELETE FROM usage_packs WHERE tenant_id = ?1").bind(tenantId)]);
  const refused = await db
    .prepare(
      `SELECT request_id FROM audit_events WHERE tenant_id = ?1 AND type = 'call.refused'
         AND request_id IN (SELECT request_id FROM bench_events) ORDER BY seq`,
    )
    .bind(tenantId)
    .all<{ request_id: string }>();
  const rows = refused.results as { request_id: string }[];
  const span = plan.endHour - plan.startHour;
  const times = rows.map((r, i) => [r.request_id, plan.startHour + Math.floor(((i + 0.5) * span) / rows.length)]);
  const before = plan.startHour - 86_400_000;
  await db.batch([
    db
      .prepare(
        "INSERT INTO bench_refusals SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?1)",
      )
      .bind(JSON.stringify(times)),
    db.prepare(
      `UPDATE bench_events SET started_at = (SELECT t FROM bench_refusals b WHERE b.request_id = bench_events.request_id)
       WHERE request_id IN (SELECT request_id FROM bench_refusals)`,
    ),
    db
      .prepare(
        `UPDATE audit_events SET at = (SELECT t FROM bench_refusals b WHERE b.request_id = audit_events.request_id)
         WHERE tenant_id = ?1 AND request_id IN (SELECT request_id FROM bench_refusals)`,
      )
      .bind(tenantId),
    db
      .prepare(
        `UPDATE audit_events SET at = ?2 + seq * 1000 WHERE tenant_id = ?1
           AND seq < (SELECT COALESCE(MIN(seq), 0) FROM audit_events WHERE tenant_id = ?1 AND type = 'call.refused')`,
      )
      .bind(tenantId, before),
    db
      .prepare(
        `UPDATE api_keys SET created_at = ?2 + created_at - (SELECT MIN(created_at) FROM api_keys WHERE tenant_id = ?1)
         WHERE tenant_id = ?1`,
      )
      .bind(tenantId, before),
    db
      .prepare(
        `UPDATE ledger_rules SET created_at = ?2 + created_at - (SELECT MIN(created_at) FROM ledger_rules WHERE tenant_id = ?1),
           updated_at = ?2 + updated_at - (SELECT MIN(created_at) FROM ledger_rules WHERE tenant_id = ?1)
         WHERE tenant_id = ?1`,
      )
      .bind(tenantId, before + 3_600_000),
    // Rolled up again at their new times with the first chunk (they are staged with it).
    db.prepare("DELETE FROM usage_rollups_hourly WHERE tenant_id = ?1").bind(tenantId),
    db.prepare("DELETE FROM usage_rollups_daily WHERE tenant_id = ?1").bind(tenantId),
    db.prepare("UPDATE api_keys SET last_used_at = NULL WHERE tenant_id = ?1").bind(tenantId),
  ]);
  return rows.length;
}

/** Consecutive hour ranges [from, to) of about `chunkEvents` events each. */
function chunksOf(hourly: readonly number[], chunkEvents: number): [number, number][] {
  const chunks: [number, number][] = [];
  let from = 0;
  let sum = 0;
  for (const [i, cnt] of hourly.entries()) {
    sum += cnt;
    if (sum >= chunkEvents || i === hourly.length - 1) {
      chunks.push([from, i + 1]);
      from = i + 1;
      sum = 0;
    }
  }
  return chunks;
}

/** Usage events of the tenant other than refused calls in TEXT bodies (a seed before this one
 * wrote them; the consumer writes gzipped BLOBs, which SQL cannot read: see storedEvents). */
const SEEDED_SQL = `SELECT COUNT(*) AS n
  FROM usage_packs p, json_each(CASE WHEN typeof(p.body) = 'text' THEN p.body ELSE '[]' END) e
  WHERE p.tenant_id = ?1 AND json_extract(e.value, '$.outcome') <> 'refused'`;

export const seed: HookFn = async (db, raw, log) => {
  const args = raw as SeedArgs;
  const { plan, tenantId } = args;
  const began = performance.now();
  const seeded = (await db.prepare(SEEDED_SQL).bind(tenantId).first<{ n: number }>())?.n ?? 0;
  if (seeded > 0) throw new Error(`tenant ${tenantId} already has ${seeded} usage events`);
  // What the tenant has stored is read as the app reads it (gzipped bodies): a few thousand
  // refused calls at most.
  const stored = await storedEvents(db, tenantId);
  const other = stored.filter((e) => e.outcome !== "refused").length;
  if (other > 0) throw new Error(`tenant ${tenantId} already has ${other} usage events`);
  await fillHelpers(db, args);
  const refusals = await spreadRefusals(db, args, stored);
  log(`helper tables filled; ${refusals} refused calls spread over the window`);
  let eventMs = 0;
  let rollupMs = 0;
  let done = 0;
  let size = 0;
  const chunks = chunksOf(plan.hourly, args.chunkEvents);
  // Each chunk is staged, rolled up and packed from the staging table (with the first chunk, the
  // refused calls staged above), then cleared.
  for (const [index, [from, to]] of chunks.entries()) {
    const t0 = performance.now();
    const inserted = await db.prepare(EVENTS_SQL).bind(tenantId, from, to).run();
    const t1 = performance.now();
    await db.batch(ROLLUP_SQL.map((sql) => db.prepare(sql).bind(tenantId)));
    const t2 = performance.now();
    const packed = await db.batch([db.prepare(PACK_SQL).bind(tenantId, index), db.prepare("DELETE FROM bench_events")]);
    const t3 = performance.now();
    eventMs += t1 - t0 + (t3 - t2);
    rollupMs += t2 - t1;
    done += inserted.meta.changes ?? 0;
    size = metaOf(packed.at(-1) ?? inserted).size_after ?? size;
    if (index % 5 === 4 || index === chunks.length - 1) {
      const elapsed = (performance.now() - began) / 1_000;
      log(
        `chunk ${index + 1}/${chunks.length}: ${done.toLocaleString("en")} events in ${elapsed.toFixed(0)} s ` +
          `(${Math.round(done / Math.max(1, (eventMs + rollupMs) / 1_000)).toLocaleString("en")}/s), ` +
          `database ${(size / 1e9).toFixed(2)} GB`,
      );
    }
  }
  if (done !== plan.events) throw new Error(`generated ${done} events, the plan has ${plan.events}`);
  const dropped = await db.batch(HELPERS.map((t) => db.prepare(`DROP TABLE IF EXISTS ${t}`)));
  size = metaOf(dropped.at(-1) ?? { meta: {} }).size_after ?? size;
  return {
    seconds: (performance.now() - began) / 1_000,
    eventSeconds: eventMs / 1_000,
    rollupSeconds: rollupMs / 1_000,
    generated: done,
    refusals,
    chunks: chunks.length,
    sizeBytes: size,
  } satisfies SeedResult;
};
