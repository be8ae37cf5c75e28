// Usage events (usage_packs): a call's metadata is kept in a pack, one row per queue message's
// events of one UTC minute of their start, gzipped NDJSON (migration 0012; d1/SCHEMA.md). The
// usage consumer writes packs with the rollups they add to (writeUsageParts), in one batch (one
// transaction); readers walk the events newest first (GET /api/v1/usage/events) or oldest first
// (exports), and sum them for questions the rollups cannot answer (two dimensions at once).
//
// A pack is stored once: its rows are keyed by (pack id, minute, part). `part` -1 is all the
// pack's events of that minute; a pack that could not be written whole is written event by event
// (`part` = the event's index), and a pack already there in either form is not written again:
// only the events of it still missing are.
import { DAY_MS, HOUR_MS } from "../../shared/time.ts";
import type { PackedUsage, UsageEvent } from "../../shared/usage.ts";
import type { UsageFilters, UsageGroup, UsageRow } from "../../shared/usage-query.ts";
import { newId } from "../../shared/ids.ts";
import { FIRST_READ, nextRead, packBody, unpackBody } from "./packed.ts";
import type { TenantDb } from "./tenant-db.ts";
import { emptySums } from "../../shared/usage-query.ts";

/** A row holds events that started within one UTC minute: readers look this far past a bound. */
export const BUCKET_MS = 60_000;
/** The part of a row that holds all of its pack's events of that minute. */
const WHOLE = -1;

/** One row to store: events of one pack and minute, all of them (part -1) or the one at `part`. */
export type UsageRowToStore = { packId: string; bucket: number; part: number; events: UsageEvent[] };

const bucketOf = (e: UsageEvent) => Math.floor(e.startedAt / BUCKET_MS);
const rowKey = (packId: string, bucket: number, part: number) => `${packId}\u0000${bucket}\u0000${part}`;

/** The rows of these packs stored already, as rowKey()s. */
async function storedRows(db: TenantDb, packIds: readonly string[]): Promise<Set<string>> {
  const rows = await db.all<{ pack_id: string; bucket: number; part: number }>(
    "SELECT pack_id, bucket, part FROM usage_packs WHERE tenant_id = ?1 AND pack_id IN (SELECT value FROM json_each(?2))",
    JSON.stringify([...new Set(packIds)]),
  );
  return new Set(rows.map((r) => rowKey(r.pack_id, r.bucket, r.part)));
}

/**
 * The rows that store what of these events is not stored yet. A pack all of whose events are here
 * (and none came back alone) is stored as one row per minute; an event that came alone, or whose
 * pack is here only in part (a pack split across writes), as a row of its own. A minute already
 * stored whole takes nothing more; one stored event by event takes the events it lacks.
 */
export async function missingRows(db: TenantDb, items: readonly PackedUsage[]): Promise<UsageRowToStore[]> {
  const stored = await storedRows(
    db,
    items.map((i) => i.packId),
  );
  // One item per event of a pack: a message delivered twice in one batch, or a pack and an event
  // of it sent back alone, carry it more than once.
  const packs = new Map<string, Map<number, PackedUsage>>();
  for (const item of items) {
    const group = packs.get(item.packId) ?? new Map<number, PackedUsage>();
    const had = group.get(item.index);
    if (!had || (had.alone && !item.alone)) group.set(item.index, item);
    packs.set(item.packId, group);
  }
  const rows: UsageRowToStore[] = [];
  for (const [packId, byIndex] of packs) {
    const group = [...byIndex.values()];
    const whole = group.every((i) => !i.alone && i.count === group.length) ? group : [];
    const buckets = new Map<number, UsageEvent[]>();
    for (const { event } of whole) {
      const bucket = bucketOf(event);
      const events = buckets.get(bucket) ?? [];
      events.push(event);
      buckets.set(bucket, events);
    }
    const singles = (bucket: number) =>
      [...stored].some((k) => k.startsWith(`${packId}\u0000${bucket}\u0000`) && !k.endsWith(`\u0000${WHOLE}`));
    for (const [bucket, events] of buckets) {
      if (stored.has(rowKey(packId, bucket, WHOLE))) continue;
      if (!singles(bucket)) {
        rows.push({ packId, bucket, part: WHOLE, events });
        continue;
      }
      for (const item of group) {
        if (bucketOf(item.event) === bucket && !stored.has(rowKey(packId, bucket, item.index)))
          rows.push({ packId, bucket, part: item.index, events: [item.event] });
      }
    }
    if (whole.length > 0) continue;
    for (const item of group) {
      const bucket = bucketOf(item.event);
      if (stored.has(rowKey(packId, bucket, WHOLE)) || stored.has(rowKey(packId, bucket, item.index))) continue;
      rows.push({ packId, bucket, part: item.index, events: [item.event] });
    }
  }
  return rows;
}

const SUM_COLUMNS = `requests, input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens,
  cost_nano_usd, unpriced_requests`;
/** How a rollup insert adds to the row already there (the benchmark's seed uses it too). */
export const rollupUpsert = (
  time: "hour" | "day",
) => `ON CONFLICT (tenant_id, dim_name, ${time}, provider, model, key_id, dim_value) DO UPDATE SET
  requests = requests + excluded.requests, input_tokens = input_tokens + excluded.input_tokens,
  cached_input_tokens = cached_input_tokens + excluded.cached_input_tokens,
  cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens, output_tokens = output_tokens + excluded.output_tokens,
  reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens, cost_nano_usd = cost_nano_usd + excluded.cost_nano_usd,
  unpriced_requests = unpriced_requests + excluded.unpriced_requests`;

/** A rollup row's share from one stored row: [pack, minute, part, time, provider, model, key,
 * dimension name, value, then the sums in SUM_COLUMNS' order]. */
type Share = [string, number, number, number, string, string, string, string, string, ...number[]];

/** What each row adds to the hourly or daily rollups: the totals row and one per dimension. */
function sharesOf(rows: readonly UsageRowToStore[], size: number): Share[] {
  const shares = new Map<string, Share>();
  for (const row of rows) {
    for (const e of row.events) {
      const time = Math.floor(e.startedAt / size) * size;
      const head = [row.packId, row.bucket, row.part, time, e.provider, e.model, e.keyId] as const;
      for (const [name, value] of [["", ""], ...Object.entries(e.dimensions)]) {
        const key = JSON.stringify([...head, name, value]);
        const share = shares.get(key) ?? ([...head, name, value, 0, 0, 0, 0, 0, 0, 0, 0] as Share);
        const sums = [
          1,
          e.usage.inputTokens,
          e.usage.cachedInputTokens,
          e.usage.cacheWriteTokens,
          e.usage.outputTokens,
          e.usage.reasoningTokens,
          e.costNanoUsd ?? 0,
          e.costNanoUsd === null ? 1 : 0,
        ];
        sums.forEach((n, i) => {
          share[9 + i] = (share[9 + i] as number) + n;
        });
        shares.set(key, share);
      }
    }
  }
  return [...shares.values()];
}

/**
 * Stores the rows (each only if nothing of it is stored yet) and adds them to the hourly and daily
 * (UTC) rollups and each key's last use, in one batch (one transaction). The rollups take a row's
 * share only when this write inserted it (its nonce), so two writes of one pack that raced add it
 * once.
 */
export async function writeUsageRows(db: TenantDb, rows: readonly UsageRowToStore[]): Promise<void> {
  if (rows.length === 0) return;
  const nonce = Math.floor(Math.random() * Number.MAX_SAFE_INTEGER);
  const inserts = rows.map((row) =>
    db.prepare(
      `INSERT INTO usage_packs (tenant_id, pack_id, bucket, part, first_at, last_at, n, nonce, body)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE NOT EXISTS (SELECT 1 FROM usage_packs
           WHERE tenant_id = ?1 AND pack_id = ?2 AND bucket = ?3 AND (?4 < 0 OR part < 0 OR part = ?4))`,
      row.packId,
      row.bucket,
      row.part,
      Math.min(...row.events.map((e) => e.startedAt)),
      Math.max(...row.events.map((e) => e.startedAt)),
      row.events.length,
      nonce,
      packBody(row.events),
    ),
  );
  const rollups = (["hour", "day"] as const).map((time) => {
    const table = time === "hour" ? "usage_rollups_hourly" : "usage_rollups_daily";
    const share = (i: number) => `json_extract(s.value, '$[${i}]')`;
    const sums = SUM_COLUMNS.split(",")
      .map((_, i) => `SUM(${share(9 + i)})`)
      .join(", ");
    return db.prepare(
      `INSERT INTO ${table} (tenant_id, ${time}, provider, model, key_id, dim_name, dim_value, ${SUM_COLUMNS})
       SELECT ?1, ${share(3)}, ${share(4)}, ${share(5)}, ${share(6)}, ${share(7)}, ${share(8)}, ${sums}
       FROM json_each(?2) s
       WHERE EXISTS (SELECT 1 FROM usage_packs p WHERE p.tenant_id = ?1 AND p.pack_id = ${share(0)}
         AND p.bucket = ${share(1)} AND p.part = ${share(2)} AND p.nonce = ?3)
       GROUP BY 2, 3, 4, 5, 6, 7 ${rollupUpsert(time)}`,
      JSON.stringify(sharesOf(rows, time === "hour" ? HOUR_MS : DAY_MS)),
      nonce,
    );
  });
  const latest = new Map<string, number>();
  for (const e of rows.flatMap((r) => r.events)) latest.set(e.keyId, Math.max(latest.get(e.keyId) ?? 0, e.startedAt));
  // Each key's latest call, for the key list (a late event never moves it back).
  const lastUse = db.prepare(
    `UPDATE api_keys SET last_used_at = MAX(COALESCE(last_used_at, 0), latest.at)
     FROM (SELECT json_extract(value, '$[0]') AS key_id, json_extract(value, '$[1]') AS at FROM json_each(?2)) AS latest
     WHERE api_keys.tenant_id = ?1 AND api_keys.id = latest.key_id`,
    JSON.stringify([...latest]),
  );
  await db.batch([...inserts, ...rollups, lastUse]);
}

/** Stores events as one new pack (tests and tools; the consumer stores the packs it is sent). */
export async function writeUsageEvents(db: TenantDb, events: readonly UsageEvent[]): Promise<void> {
  const packId = `w:${newId()}`;
  const items = events.map((event, index) => ({
    tenantId: db.tenantId,
    event,
    packId,
    index,
    count: events.length,
    alone: false,
  }));
  await writeUsageRows(db, await missingRows(db, items));
}

/** Where a page of events starts: after (or, newest first, before) this start and request id. */
export type UsageCursor = { at: number; id: string };

type StoredRow = { pack_id: string; bucket: number; part: number; first_at: number; last_at: number; body: unknown };

const before = (a: UsageEvent, c: UsageCursor) => a.startedAt < c.at || (a.startedAt === c.at && a.requestId < c.id);
const after = (a: UsageEvent, c: UsageCursor) => a.startedAt > c.at || (a.startedAt === c.at && a.requestId > c.id);
const newestFirst = (a: UsageEvent, b: UsageEvent) =>
  b.startedAt - a.startedAt || (a.requestId < b.requestId ? 1 : a.requestId > b.requestId ? -1 : 0);

/**
 * Up to `limit` events in (start, request id) order, newest first ("desc": before `cursor`, and
 * from `from` on) or oldest first ("asc": after `cursor`, and before `to`). Rows are read in the
 * order of their last start (newest first) or first start (oldest first), ties by key; an event
 * is placed once no row still unread can hold one that sorts before it.
 */
export async function usageEventsPage(
  db: TenantDb,
  page: { order: "desc" | "asc"; cursor: UsageCursor | null; from?: number; to?: number; limit: number },
): Promise<UsageEvent[]> {
  const desc = page.order === "desc";
  const from = page.from ?? 0;
  const to = page.to ?? Number.MAX_SAFE_INTEGER;
  const cursor = page.cursor;
  const wanted = (e: UsageEvent) =>
    e.startedAt >= from && e.startedAt < to && (!cursor || (desc ? before(e, cursor) : after(e, cursor)));
  // Rows past the bound by less than a minute may still hold events inside it.
  const bound = desc ? Math.min(to - 1, cursor?.at ?? to - 1) : Math.max(from, cursor?.at ?? from);
  const found: UsageEvent[] = [];
  let edge: StoredRow | null = null;
  const edgeParams = () => [
    edge ? (desc ? edge.last_at : edge.first_at) : null,
    edge?.pack_id ?? null,
    edge?.bucket ?? null,
    edge?.part ?? null,
  ];
  for (let take = FIRST_READ; ; take = nextRead(take)) {
    const rows: StoredRow[] = desc
      ? await db.all<StoredRow>(
          `SELECT pack_id, bucket, part, first_at, last_at, body FROM usage_packs INDEXED BY usage_packs_by_last
           WHERE tenant_id = ?1 AND last_at < ?2 AND last_at >= ?3 AND first_at <= ?4
             AND (?5 IS NULL OR (last_at, pack_id, bucket, part) < (?5, ?6, ?7, ?8))
           ORDER BY last_at DESC, pack_id DESC, bucket DESC, part DESC LIMIT ?9`,
          bound + BUCKET_MS,
          from,
          bound,
          ...edgeParams(),
          take,
        )
      : await db.all<StoredRow>(
          `SELECT pack_id, bucket, part, first_at, last_at, body FROM usage_packs INDEXED BY usage_packs_by_first
           WHERE tenant_id = ?1 AND first_at > ?2 AND first_at < ?3 AND last_at >= ?4
             AND (?5 IS NULL OR (first_at, pack_id, bucket, part) > (?5, ?6, ?7, ?8))
           ORDER BY first_at, pack_id, bucket, part LIMIT ?9`,
          bound - BUCKET_MS,
          to,
          bound,
          ...edgeParams(),
          take,
        );
    for (const row of rows) found.push(...unpackBody<UsageEvent>(row.body).filter(wanted));
    found.sort(desc ? newestFirst : (a, b) => newestFirst(b, a));
    const last = rows[rows.length - 1];
    if (!last || rows.length < take) return found.slice(0, page.limit);
    edge = last;
    const at = desc ? last.last_at : last.first_at;
    // Rows still unread start (asc) or end (desc) beyond the edge: events before it are placed.
    const placed = found.filter((e) => (desc ? e.startedAt > at : e.startedAt < at)).length;
    if (placed >= page.limit) return found.slice(0, page.limit);
  }
}

/** Events the multi-dimension sums read at most in one query (they decompress every call). */
export const SUM_EVENTS_MAX = 1_000_000;

/** Thrown when a sum would read more than SUM_EVENTS_MAX events. */
export class TooManyEvents extends Error {}

/** Sums of the raw events of [fromHour, toHour) by the groups, under the filters, highest cost
 * first: for two or more dimensions at once, which the rollups cannot answer (days in UTC). */
export async function sumUsageEvents(
  db: TenantDb,
  groups: readonly UsageGroup[],
  filters: UsageFilters,
  fromHour: number,
  toHour: number,
): Promise<UsageRow[]> {
  const counted = await db.first<{ n: number | null }>(
    `SELECT SUM(n) AS n FROM usage_packs INDEXED BY usage_packs_by_first
     WHERE tenant_id = ?1 AND first_at > ?2 AND first_at < ?3 AND last_at >= ?4`,
    fromHour - BUCKET_MS,
    toHour,
    fromHour,
  );
  if ((counted?.n ?? 0) > SUM_EVENTS_MAX) throw new TooManyEvents();
  const has = (values: readonly string[] | undefined, value: string) => !values?.length || values.includes(value);
  const dimension = filters.dimension;
  const valueOf = (e: UsageEvent, g: UsageGroup): string | number | null => {
    switch (g.kind) {
      case "provider":
        return e.provider;
      case "model":
        return e.model;
      case "key":
        return e.keyId;
      case "hour":
        return Math.floor(e.startedAt / HOUR_MS) * HOUR_MS;
      case "day":
        return Math.floor(e.startedAt / DAY_MS) * DAY_MS;
      case "dimension":
        return e.dimensions[g.dim] ?? null;
    }
  };
  const sums = new Map<string, UsageRow>();
  let cursor: UsageCursor | null = null;
  for (;;) {
    const events = await usageEventsPage(db, { order: "asc", cursor, from: fromHour, to: toHour, limit: 5_000 });
    for (const e of events) {
      if (!has(filters.providers, e.provider) || !has(filters.models, e.model) || !has(filters.keys, e.keyId)) continue;
      if (dimension) {
        const value = e.dimensions[dimension.name];
        if (value === undefined || !has(dimension.values, value)) continue;
      }
      const values = groups.map((g) => valueOf(e, g));
      const key = JSON.stringify(values);
      const row = sums.get(key) ?? { ...emptySums(), values };
      row.requests += 1;
      row.inputTokens += e.usage.inputTokens;
      row.cachedInputTokens += e.usage.cachedInputTokens;
      row.cacheWriteTokens += e.usage.cacheWriteTokens;
      row.outputTokens += e.usage.outputTokens;
      row.reasoningTokens += e.usage.reasoningTokens;
      row.costNano += BigInt(e.costNanoUsd ?? 0);
      row.unpricedRequests += e.costNanoUsd === null ? 1 : 0;
      sums.set(key, row);
    }
    const last = events[events.length - 1];
    if (!last || events.length < 5_000) break;
    cursor = { at: last.startedAt, id: last.requestId };
  }
  const text = (v: string | number | null) => (v === null ? "" : String(v));
  return [...sums.values()].sort(
    (a, b) =>
      (a.costNano < b.costNano ? 1 : a.costNano > b.costNano ? -1 : 0) ||
      a.values.map(text).join("\u0000").localeCompare(b.values.map(text).join("\u0000")),
  );
}
