// Days and hours of a time zone over UTC epoch ms, for sums read by the hour and the day (the usage
// rollups): where a zone's offset changes in a range, which local day each UTC hour belongs to,
// and local dates. An hour belongs to the local day its start falls in. Pure arithmetic on
// shared/windows.ts's offsets (Intl), exact across DST changes and 30/45-minute offsets.
import { DAY_MS, HOUR_MS } from "./time.ts";
import { offset, windowRange } from "./windows.ts";

/** The zone's offsets over [from, to): each segment's first hour and its offset, in order. Zones
 * change offset a few times a year at most, so daily samples find each change; a bisection on
 * whole hours then finds the first hour of the new offset. */
export function offsetSegments(tz: string, from: number, to: number): { start: number; offset: number }[] {
  const segments = [{ start: from, offset: offset(tz, from) }];
  const last = Math.max(from, to - HOUR_MS);
  let previous = from;
  while (previous < last) {
    const next = Math.min(previous + DAY_MS, last);
    const now = offset(tz, next);
    if (now !== segments[segments.length - 1]?.offset) {
      let lo = previous;
      let hi = next;
      while (hi - lo > HOUR_MS) {
        const mid = lo + Math.floor((hi - lo) / 2 / HOUR_MS) * HOUR_MS;
        if (offset(tz, mid) === offset(tz, lo)) lo = mid;
        else hi = mid;
      }
      segments.push({ start: hi, offset: offset(tz, hi) });
    }
    previous = next;
  }
  return segments;
}

/** The zone's offsets over [from, to) from its first whole hour: what the store's local-day SQL
 * and dayShifts read. */
export function hourSegments(tz: string, from: number, to: number): { start: number; offset: number }[] {
  return offsetSegments(tz, Math.floor(from / HOUR_MS) * HOUR_MS, to);
}

/** Hours [from, to) of one UTC day that belong to local day `day`, while that UTC day's daily
 * rows count in local day `counted`: their sums move from `counted` to `day`. */
export type DayShift = { from: number; to: number; day: number; counted: number };

/** The hours of the UTC days [first, last) whose local day is not the one their daily rows count
 * in (the local day of the UTC day's noon), as runs of whole hours: at most 12 of each day's 24,
 * none in a zone on UTC. Each hour's local day is the one the store's localDaySql gives it. */
export function dayShifts(tz: string, first: number, last: number): DayShift[] {
  const segments = hourSegments(tz, first, last);
  const dayOf = (at: number) => {
    let off = 0;
    for (const s of segments) if (s.start <= at) off = s.offset;
    return Math.floor((at + off) / DAY_MS) * DAY_MS;
  };
  const shifts: DayShift[] = [];
  for (let utcDay = first; utcDay < last; utcDay += DAY_MS) {
    const counted = dayOf(utcDay + 12 * HOUR_MS);
    for (let hour = utcDay; hour < utcDay + DAY_MS; hour += HOUR_MS) {
      const day = dayOf(hour);
      if (day === counted) continue;
      const run = shifts[shifts.length - 1];
      if (run && run.to === hour && run.day === day && run.counted === counted) run.to += HOUR_MS;
      else shifts.push({ from: hour, to: hour + HOUR_MS, day, counted });
    }
  }
  return shifts;
}

// Local dates: a calendar day of a zone written as its midnight in UTC epoch ms (2026-11-23 is
// Date.UTC(2026, 10, 23)), the values `day` groups come back as.

/** The local date of the instant `at` in `tz`. */
export function localDate(tz: string, at: number): number {
  const wall = at + offset(tz, at);
  return wall - (((wall % DAY_MS) + DAY_MS) % DAY_MS);
}

/** The first instant of the local date `date` (its midnight, or the first instant after a skipped one). */
export function dateStart(tz: string, date: number): number {
  const noon = date + 12 * HOUR_MS;
  return windowRange({ kind: "daily" }, tz, noon - offset(tz, noon)).start;
}

/** The rollup hours of local dates first..last: the hours whose start falls in them. */
export function hoursOf(tz: string, first: number, last: number): { from: number; to: number } {
  const up = (ms: number) => Math.ceil(ms / HOUR_MS) * HOUR_MS;
  return { from: up(dateStart(tz, first)), to: up(dateStart(tz, last + DAY_MS)) };
}
