// Bill timestamps to epoch milliseconds UTC. Forms seen in bills: FOCUS `2024-09-01 00:00:00`
// (no zone: UTC), CUR `2023-11-01T00:00:00.000Z` and `2023-11-01T00:00:00Z`, a bare date, and
// offsets such as `+00:00`. Read by character tests, not a regex per cell.

function digitsAt(text: string, at: number, count: number): number {
  let value = 0;
  for (let i = at; i < at + count; i++) {
    const code = text.charCodeAt(i) - 48;
    if (code < 0 || code > 9) return -1;
    value = value * 10 + code;
  }
  return value;
}

/** Epoch ms of a bill timestamp, or null when the text is not one. */
export function parseTimestamp(text: string): number | null {
  const end = text.length;
  if (end < 10 || text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return null;
  const year = digitsAt(text, 0, 4);
  const month = digitsAt(text, 5, 2);
  const day = digitsAt(text, 8, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 31) return null;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let millis = 0;
  let i = 10;
  if (i < end && (text[i] === "T" || text[i] === " ") && end >= i + 6 && text.charCodeAt(i + 3) === 58) {
    hour = digitsAt(text, i + 1, 2);
    minute = digitsAt(text, i + 4, 2);
    i += 6;
    if (i < end && text.charCodeAt(i) === 58) {
      second = digitsAt(text, i + 1, 2);
      i += 3;
      if (i < end && text.charCodeAt(i) === 46) {
        i++;
        let scale = 100;
        while (i < end) {
          const d = text.charCodeAt(i) - 48;
          if (d < 0 || d > 9) break;
          millis += d * scale;
          scale /= 10;
          i++;
        }
        millis = Math.floor(millis);
      }
    }
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 60) return null;
  }
  let offsetMinutes = 0;
  if (i < end) {
    const zone = text[i];
    if ((zone === "Z" || zone === "z") && i + 1 === end) {
      i = end;
    } else if ((zone === "+" || zone === "-") && (end - i === 6 || end - i === 5 || end - i === 3)) {
      const oh = digitsAt(text, i + 1, 2);
      const om = end - i === 3 ? 0 : digitsAt(text, end - 2, 2);
      if (oh < 0 || om < 0 || (end - i === 6 && text.charCodeAt(i + 3) !== 58)) return null;
      offsetMinutes = (zone === "+" ? 1 : -1) * (oh * 60 + om);
    } else if (text.slice(i) !== " UTC") {
      return null;
    }
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  if (new Date(ms).getUTCDate() !== day) return null; // 2024-02-30
  return ms - offsetMinutes * 60_000;
}

/** "YYYY-MM-DD" of an epoch-ms instant (UTC). */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
