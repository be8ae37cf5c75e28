// Budget windows: the stretch of time a spend counts against, as [start, end) in UTC epoch ms.
// Calendar windows (day, ISO week from Monday, month) follow the tenant's IANA time zone, read
// with Intl.DateTimeFormat alone and exact across DST changes and 30/45-minute offsets. Rolling
// windows are ROLLING_BUCKETS epoch-aligned buckets, so a rolling window moves one bucket at a time.
import { DAY_MS, HOUR_MS } from "./time.ts";

export type BudgetWindow =
  | { kind: "daily" }
  | { kind: "weekly" } // ISO weeks: start Monday 00:00 local
  | { kind: "monthly" }
  | { kind: "lifetime" }
  | { kind: "rolling"; hours: number }; // integer 1..8760

export const ROLLING_BUCKETS = 60;

/** Euclidean remainder: mod(-1, 7) is 6, so floors work before 1970 too. */
function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** True when `tz` is an IANA zone name the runtime knows (Intl), e.g. "Europe/Berlin", "UTC". */
export function isTimeZone(tz: string): boolean {
  // Zone names start with a letter; this also turns away offsets like "+05:30", which Intl accepts.
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(tz)) return false;
  try {
    // Not cached: user input in any letter case must not grow the per-zone cache.
    return new Intl.DateTimeFormat("en-US", { timeZone: tz }).resolvedOptions().timeZone.length > 0;
  } catch {
    return false;
  }
}

/** Width of one rolling bucket: hours * 3_600_000 / ROLLING_BUCKETS (1/60 of the window). */
export function rollingBucketMs(hours: number): number {
  if (!Number.isInteger(hours) || hours < 1 || hours > 8760) throw new RangeError(`rolling hours ${hours}`);
  return (hours * HOUR_MS) / ROLLING_BUCKETS;
}

const formats = new Map<string, Intl.DateTimeFormat>();

function format(tz: string): Intl.DateTimeFormat {
  let f = formats.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: tz,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formats.set(tz, f);
  }
  return f;
}

/** The local wall-clock time at `at` in `tz`, written as epoch ms as if the wall clock were UTC. */
function wallClock(tz: string, at: number): number {
  const f = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const { type, value } of format(tz).formatToParts(at)) {
    if (type in f) f[type as keyof typeof f] = Number(value);
  }
  return Date.UTC(f.year, f.month - 1, f.day, f.hour, f.minute, f.second) + mod(at, 1000);
}

/** The zone's UTC offset in ms at the instant `at` (exported for views that read hours as local days). */
export function offset(tz: string, at: number): number {
  return wallClock(tz, at) - at;
}

/**
 * The first instant of the local day whose midnight reads `day` on the wall clock. Offsets a day
 * either side bracket any change near that midnight (offsets stay within ±14 h): the earlier
 * candidate that reads exactly midnight wins, so a repeated midnight counts from its first
 * occurrence. A midnight skipped by a jump forward has neither; the day then starts at the jump.
 */
function dayStart(tz: string, day: number): number {
  const before = offset(tz, day - DAY_MS);
  const after = offset(tz, day + DAY_MS);
  const early = day - Math.max(before, after);
  if (wallClock(tz, early) === day) return early;
  const late = day - Math.min(before, after);
  if (wallClock(tz, late) === day) return late;
  // In the gap: offset(lo) is `before`, offset(hi) is `after`; bisect to the first ms of `after`.
  let lo = day - after;
  let hi = day - before;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (offset(tz, mid) === after) hi = mid;
    else lo = mid;
  }
  return hi;
}

type CalendarKind = "daily" | "weekly" | "monthly";

/** The wall-clock midnights that open and close the calendar window around wall-clock `wall`. */
function calendarDays(kind: CalendarKind, wall: number): [number, number] {
  const today = wall - mod(wall, DAY_MS);
  if (kind === "daily") return [today, today + DAY_MS];
  if (kind === "weekly") {
    const monday = today - mod(new Date(today).getUTCDay() - 1, 7) * DAY_MS;
    return [monday, monday + 7 * DAY_MS];
  }
  const date = new Date(today);
  return [
    Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1),
    Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1),
  ];
}

function checkInstant(at: number): void {
  if (!Number.isSafeInteger(at)) throw new RangeError(`instant ${at} is not an integer of ms`);
}

function bucketStart(hours: number, at: number): number {
  return at - mod(at, rollingBucketMs(hours));
}

/**
 * The window that contains `at`, as [start, end) in UTC epoch ms.
 * - daily/weekly/monthly: local calendar boundaries in `tz` (local midnight; when local midnight does not
 *   exist because of a DST jump at 00:00, the window starts at the first instant of that local day).
 * - lifetime: { start: 0, end: Number.MAX_SAFE_INTEGER }.
 * - rolling: spend is counted in buckets of rollingBucketMs(hours) aligned to the epoch; the window is the
 *   ROLLING_BUCKETS buckets ending with the one containing `at`: start = bucketStart(at) - (ROLLING_BUCKETS-1)*width,
 *   end = bucketStart(at) + width.
 */
export function windowRange(window: BudgetWindow, tz: string, at: number): { start: number; end: number } {
  checkInstant(at);
  if (window.kind === "lifetime") return { start: 0, end: Number.MAX_SAFE_INTEGER };
  if (window.kind === "rolling") {
    const width = rollingBucketMs(window.hours);
    const bucket = bucketStart(window.hours, at);
    return { start: bucket - (ROLLING_BUCKETS - 1) * width, end: bucket + width };
  }
  const [first, next] = calendarDays(window.kind, wallClock(tz, at));
  return { start: dayStart(tz, first), end: dayStart(tz, next) };
}

/** The key a spend made at `at` is booked under: calendar -> window start; lifetime -> 0; rolling -> bucket start. */
export function windowKey(window: BudgetWindow, tz: string, at: number): number {
  checkInstant(at);
  if (window.kind === "lifetime") return 0;
  if (window.kind === "rolling") return bucketStart(window.hours, at);
  return dayStart(tz, calendarDays(window.kind, wallClock(tz, at))[0]);
}
