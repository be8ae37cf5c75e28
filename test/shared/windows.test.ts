import { describe, expect, it } from "vitest";
import {
  type BudgetWindow,
  ROLLING_BUCKETS,
  isTimeZone,
  rollingBucketMs,
  windowKey,
  windowRange,
} from "../../shared/windows.ts";
import { seededRandom } from "../random.ts";

const DAILY: BudgetWindow = { kind: "daily" };
const WEEKLY: BudgetWindow = { kind: "weekly" };
const MONTHLY: BudgetWindow = { kind: "monthly" };
const LIFETIME: BudgetWindow = { kind: "lifetime" };
const CALENDAR: BudgetWindow[] = [DAILY, WEEKLY, MONTHLY];
const HOUR = 3_600_000;

const ms = (iso: string) => Date.parse(iso);

/** The window around `at` as ISO strings, so a failure reads as dates. */
function range(window: BudgetWindow, tz: string, at: string) {
  const { start, end } = windowRange(window, tz, ms(at));
  return [new Date(start).toISOString(), new Date(end).toISOString()];
}

function hoursLong(window: BudgetWindow, tz: string, at: string): number {
  const { start, end } = windowRange(window, tz, ms(at));
  return (end - start) / HOUR;
}

describe("calendar windows", () => {
  it("keeps a month's last local half hour in that month although UTC has moved on", () => {
    // 2026-01-31 23:30 in New York is 2026-02-01 04:30 UTC.
    expect(range(MONTHLY, "America/New_York", "2026-02-01T04:30:00Z")).toEqual([
      "2026-01-01T05:00:00.000Z",
      "2026-02-01T05:00:00.000Z",
    ]);
    expect(range(MONTHLY, "America/New_York", "2026-02-01T05:00:00Z")).toEqual([
      "2026-02-01T05:00:00.000Z",
      "2026-03-01T05:00:00.000Z",
    ]);
    expect(range(MONTHLY, "UTC", "2026-02-01T04:30:00Z")).toEqual([
      "2026-02-01T00:00:00.000Z",
      "2026-03-01T00:00:00.000Z",
    ]);
  });

  it("turns the year at local midnight, also in zones 30 and 45 minutes off the hour", () => {
    // Asia/Kolkata is UTC+05:30: 2027-01-01 00:00 there is 2026-12-31 18:30 UTC.
    expect(range(MONTHLY, "Asia/Kolkata", "2026-12-31T18:29:59.999Z")).toEqual([
      "2026-11-30T18:30:00.000Z",
      "2026-12-31T18:30:00.000Z",
    ]);
    expect(range(MONTHLY, "Asia/Kolkata", "2026-12-31T18:30:00Z")).toEqual([
      "2026-12-31T18:30:00.000Z",
      "2027-01-31T18:30:00.000Z",
    ]);
    expect(range(DAILY, "Asia/Kolkata", "2026-12-31T18:30:00Z")).toEqual([
      "2026-12-31T18:30:00.000Z",
      "2027-01-01T18:30:00.000Z",
    ]);
    // Asia/Kathmandu is UTC+05:45.
    expect(range(DAILY, "Asia/Kathmandu", "2026-12-31T18:14:59.999Z")).toEqual([
      "2026-12-30T18:15:00.000Z",
      "2026-12-31T18:15:00.000Z",
    ]);
    expect(range(MONTHLY, "Asia/Kathmandu", "2026-12-31T18:15:00Z")).toEqual([
      "2026-12-31T18:15:00.000Z",
      "2027-01-31T18:15:00.000Z",
    ]);
  });

  it("gives DST days their true length in New York", () => {
    // Spring forward 2026-03-08 02:00 -> 03:00: the day has 23 hours.
    expect(range(DAILY, "America/New_York", "2026-03-08T12:00:00Z")).toEqual([
      "2026-03-08T05:00:00.000Z",
      "2026-03-09T04:00:00.000Z",
    ]);
    // Fall back 2026-11-01 02:00 -> 01:00: 25 hours, and both 01:30s belong to it.
    expect(range(DAILY, "America/New_York", "2026-11-01T12:00:00Z")).toEqual([
      "2026-11-01T04:00:00.000Z",
      "2026-11-02T05:00:00.000Z",
    ]);
    expect(hoursLong(DAILY, "America/New_York", "2026-11-01T05:30:00Z")).toBe(25);
    expect(hoursLong(DAILY, "America/New_York", "2026-11-01T06:30:00Z")).toBe(25);
    expect(hoursLong(DAILY, "America/New_York", "2026-11-02T12:00:00Z")).toBe(24);
  });

  it("gives DST days their true length in Berlin", () => {
    expect(range(DAILY, "Europe/Berlin", "2026-03-29T12:00:00Z")).toEqual([
      "2026-03-28T23:00:00.000Z",
      "2026-03-29T22:00:00.000Z",
    ]);
    expect(range(DAILY, "Europe/Berlin", "2026-10-25T12:00:00Z")).toEqual([
      "2026-10-24T22:00:00.000Z",
      "2026-10-25T23:00:00.000Z",
    ]);
    // The month holding the spring change is an hour short.
    expect(hoursLong(MONTHLY, "Europe/Berlin", "2026-03-15T00:00:00Z")).toBe(31 * 24 - 1);
  });

  it("follows Lord Howe's half-hour DST shift", () => {
    // UTC+10:30 standard, UTC+11 in summer; the clock moves at 02:00 local.
    expect(range(DAILY, "Australia/Lord_Howe", "2026-10-04T00:00:00Z")).toEqual([
      "2026-10-03T13:30:00.000Z",
      "2026-10-04T13:00:00.000Z",
    ]);
    expect(range(DAILY, "Australia/Lord_Howe", "2026-04-05T00:00:00Z")).toEqual([
      "2026-04-04T13:00:00.000Z",
      "2026-04-05T13:30:00.000Z",
    ]);
  });

  it("starts a day whose midnight DST skips at its first instant", () => {
    // Santiago 2026-09-06: 00:00 -04 jumps to 01:00 -03, so the day starts at 01:00 local (04:00 UTC).
    expect(range(DAILY, "America/Santiago", "2026-09-06T12:00:00Z")).toEqual([
      "2026-09-06T04:00:00.000Z",
      "2026-09-07T03:00:00.000Z",
    ]);
    expect(range(DAILY, "America/Santiago", "2026-09-06T03:59:59.999Z")).toEqual([
      "2026-09-05T04:00:00.000Z",
      "2026-09-06T04:00:00.000Z",
    ]);
    // Havana 2026-03-08: 00:00 -05 jumps to 01:00 -04.
    expect(range(DAILY, "America/Havana", "2026-03-08T12:00:00Z")).toEqual([
      "2026-03-08T05:00:00.000Z",
      "2026-03-09T04:00:00.000Z",
    ]);
    expect(windowKey(DAILY, "America/Havana", ms("2026-03-08T05:00:00Z"))).toBe(ms("2026-03-08T05:00:00Z"));
  });

  it("starts a day whose midnight happens twice at the first one", () => {
    // Havana 2026-11-01: 01:00 -04 falls back to 00:00 -05, so midnight comes at 04:00 and again at 05:00 UTC.
    expect(range(DAILY, "America/Havana", "2026-11-01T04:30:00Z")).toEqual([
      "2026-11-01T04:00:00.000Z",
      "2026-11-02T05:00:00.000Z",
    ]);
    expect(range(DAILY, "America/Havana", "2026-11-01T05:30:00Z")).toEqual([
      "2026-11-01T04:00:00.000Z",
      "2026-11-02T05:00:00.000Z",
    ]);
    // Santiago 2026-04-05: 00:00 -03 falls back to 23:00 -04 the day before, which gets 25 hours.
    expect(range(DAILY, "America/Santiago", "2026-04-05T03:30:00Z")).toEqual([
      "2026-04-04T03:00:00.000Z",
      "2026-04-05T04:00:00.000Z",
    ]);
  });

  it("runs weeks from Monday 00:00 local", () => {
    // Wednesday 2026-03-04 to Sunday 2026-03-08: one week, across New York's spring change (167 hours).
    for (const at of ["2026-03-04T12:00:00Z", "2026-03-02T05:00:00Z", "2026-03-09T03:59:59.999Z"]) {
      expect(range(WEEKLY, "America/New_York", at)).toEqual(["2026-03-02T05:00:00.000Z", "2026-03-09T04:00:00.000Z"]);
    }
    expect(range(WEEKLY, "America/New_York", "2026-03-09T04:00:00Z")[0]).toBe("2026-03-09T04:00:00.000Z");
    // Berlin's autumn change: 169 hours.
    expect(range(WEEKLY, "Europe/Berlin", "2026-10-25T12:00:00Z")).toEqual([
      "2026-10-18T22:00:00.000Z",
      "2026-10-25T23:00:00.000Z",
    ]);
    // Thursday 2026-01-01: the week began Monday 2025-12-29, across the month and the year.
    expect(range(WEEKLY, "Europe/Berlin", "2026-01-01T10:00:00Z")).toEqual([
      "2025-12-28T23:00:00.000Z",
      "2026-01-04T23:00:00.000Z",
    ]);
    // The Sunday the Santiago midnight is skipped: the next week starts at Monday midnight as usual.
    expect(range(WEEKLY, "America/Santiago", "2026-09-06T12:00:00Z")).toEqual([
      "2026-08-31T04:00:00.000Z",
      "2026-09-07T03:00:00.000Z",
    ]);
  });

  it("keys a calendar spend by its window's start", () => {
    for (const window of CALENDAR) {
      for (const tz of ["America/New_York", "Asia/Kathmandu", "America/Havana"]) {
        const at = ms("2026-11-01T04:30:00Z");
        expect(windowKey(window, tz, at)).toBe(windowRange(window, tz, at).start);
      }
    }
  });
});

describe("lifetime window", () => {
  it("spans all time under key 0", () => {
    expect(windowRange(LIFETIME, "Europe/Berlin", ms("2026-05-01T00:00:00Z"))).toEqual({
      start: 0,
      end: Number.MAX_SAFE_INTEGER,
    });
    expect(windowKey(LIFETIME, "Europe/Berlin", ms("2026-05-01T00:00:00Z"))).toBe(0);
  });
});

describe("rolling windows", () => {
  it("uses buckets of a sixtieth of the window", () => {
    expect(ROLLING_BUCKETS).toBe(60);
    expect(rollingBucketMs(1)).toBe(60_000);
    expect(rollingBucketMs(24)).toBe(24 * 60_000);
    expect(rollingBucketMs(8760)).toBe(146 * HOUR);
    for (const bad of [0, -1, 1.5, 8761, Number.NaN]) expect(() => rollingBucketMs(bad)).toThrow(RangeError);
  });

  it("books spend in epoch-aligned buckets", () => {
    const window: BudgetWindow = { kind: "rolling", hours: 24 };
    const width = rollingBucketMs(24);
    const at = ms("2026-01-01T12:30:15.123Z");
    const key = windowKey(window, "Asia/Kolkata", at);
    expect(key % width).toBe(0);
    expect(key).toBeLessThanOrEqual(at);
    expect(at - key).toBeLessThan(width);
    expect(windowKey(window, "UTC", key)).toBe(key);
    expect(windowKey(window, "UTC", key + width - 1)).toBe(key);
    expect(windowKey(window, "UTC", key + width)).toBe(key + width);
    // 24-minute buckets divide the day, so the 12:24 bucket holds 12:30.
    expect(key).toBe(ms("2026-01-01T12:24:00Z"));
  });

  it("spans the sixty buckets ending with the current one, whatever the zone", () => {
    const window: BudgetWindow = { kind: "rolling", hours: 24 };
    const width = rollingBucketMs(24);
    const at = ms("2026-01-01T12:30:15.123Z");
    const { start, end } = windowRange(window, "America/New_York", at);
    expect(end).toBe(ms("2026-01-01T12:48:00Z"));
    expect(start).toBe(end - 24 * HOUR);
    expect(start).toBe(windowKey(window, "UTC", at) - (ROLLING_BUCKETS - 1) * width);
    expect(windowRange(window, "Europe/Berlin", at)).toEqual({ start, end });
    // A spend 1 ms before the start is in a bucket the window leaves out; one at the start is in.
    expect(windowKey(window, "UTC", start - 1)).toBeLessThan(start);
    expect(windowKey(window, "UTC", start)).toBe(start);
    expect(windowKey(window, "UTC", end - 1)).toBeLessThan(end);
    // The window slides a bucket at a time.
    expect(windowRange(window, "UTC", end)).toEqual({ start: start + width, end: end + width });
  });

  it("aligns one-hour and one-year windows too", () => {
    const hour = windowRange({ kind: "rolling", hours: 1 }, "UTC", ms("2026-06-01T10:00:30Z"));
    expect(hour).toEqual({ start: ms("2026-06-01T09:01:00Z"), end: ms("2026-06-01T10:01:00Z") });
    const year = windowRange({ kind: "rolling", hours: 8760 }, "UTC", ms("2026-06-01T10:00:30Z"));
    expect(year.end - year.start).toBe(8760 * HOUR);
    expect(year.end % rollingBucketMs(8760)).toBe(0);
  });
});

describe("time zones", () => {
  it("knows IANA zone names", () => {
    for (const tz of ["Europe/Berlin", "UTC", "Asia/Kathmandu", "America/Argentina/Buenos_Aires", "Etc/GMT+5"]) {
      expect(isTimeZone(tz)).toBe(true);
    }
  });

  it("refuses what is not one", () => {
    for (const tz of ["Mars/Olympus", "", "+05:30", "Europe/Berlin ", "Europe/", "../UTC"]) {
      expect(isTimeZone(tz)).toBe(false);
    }
  });

  it("treats an unknown zone or a bad instant as a bug", () => {
    expect(() => windowRange(DAILY, "Mars/Olympus", 0)).toThrow(RangeError);
    expect(() => windowRange(DAILY, "UTC", Number.NaN)).toThrow(RangeError);
    expect(() => windowKey({ kind: "rolling", hours: 24 }, "UTC", 1.5)).toThrow(RangeError);
  });
});

describe("windows tile the time line", () => {
  const ZONES = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/Santiago",
    "America/Havana",
    "Pacific/Chatham",
  ];
  const FROM = ms("2025-01-01T00:00:00Z");
  const TO = ms("2028-01-01T00:00:00Z");

  it("puts every instant in a window that is the same from its start and ends where the next begins", () => {
    const next = seededRandom(20_260_101);
    for (const tz of ZONES) {
      for (let i = 0; i < 60; i++) {
        const at = FROM + Math.floor(next() * (TO - FROM));
        for (const window of CALENDAR) {
          const { start, end } = windowRange(window, tz, at);
          expect(start).toBeLessThanOrEqual(at);
          expect(at).toBeLessThan(end);
          expect(windowRange(window, tz, start)).toEqual({ start, end });
          expect(windowRange(window, tz, end - 1)).toEqual({ start, end });
          expect(windowRange(window, tz, end).start).toBe(end);
          expect(windowKey(window, tz, at)).toBe(start);
        }
        for (const window of [LIFETIME, { kind: "rolling", hours: 1 + Math.floor(next() * 8760) } as const]) {
          const { start, end } = windowRange(window, tz, at);
          const key = windowKey(window, tz, at);
          expect(start).toBeLessThanOrEqual(key);
          expect(key).toBeLessThanOrEqual(at);
          expect(at).toBeLessThan(end);
        }
      }
    }
  });

  it("walks every day, week and month from 2025 to 2027 without a gap or overlap", () => {
    const dayLengths = new Set<number>();
    for (const tz of ZONES) {
      for (const window of CALENDAR) {
        let current: { start: number; end: number } = windowRange(window, tz, FROM);
        while (current.end < TO) {
          const following = windowRange(window, tz, current.end);
          expect(following.start).toBe(current.end);
          expect(windowRange(window, tz, current.end - 1)).toEqual(current);
          if (window === DAILY) dayLengths.add((current.end - current.start) / HOUR);
          current = following;
        }
      }
    }
    // Ordinary days, DST days, and Lord Howe's half-hour DST days; nothing else.
    expect([...dayLengths].sort((a, b) => a - b)).toEqual([23, 23.5, 24, 24.5, 25]);
  });
});
