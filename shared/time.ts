// Time parameters of the management API: ISO 8601 dates/times or epoch milliseconds.
import { AppError } from "./errors.ts";

export function parseInstant(value: string | undefined, field: string): number | null | AppError {
  if (value === undefined || value === "") return null;
  if (/^\d{1,16}$/.test(value)) return Number(value);
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    return new AppError("bad_request", `${field} must be an ISO 8601 date or time, or epoch milliseconds.`, field);
  }
  const text = /^\d{4}-\d{2}-\d{2}$/.test(value)
    ? `${value}T00:00:00Z`
    : /[Z+-]\d{0,2}:?\d{0,2}$/.test(value.slice(10))
      ? value
      : `${value}Z`;
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return new AppError("bad_request", `${field} is not a valid date.`, field);
  return ms;
}

export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

export function isoHour(ms: number): string {
  return new Date(ms).toISOString().replace(/:00\.000Z$/, ":00Z");
}

/** An instant as ISO 8601 text, or null for none. */
export function isoInstant(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
