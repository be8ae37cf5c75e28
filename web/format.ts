// How numbers and times read on the dashboard: money from exact nano-USD (never through a float:
// Intl formats the decimal string), times in the organisation's time zone.
import { formatUsd } from "../shared/money.ts";

const LOCALE = "en-US";

/** $1,234.56 for large amounts; small ones keep up to 6 decimals so a cent fraction is visible. */
export function usd(nano: bigint): string {
  const decimal = formatUsd(nano);
  const small = nano !== 0n && (nano < 0n ? -nano : nano) < 10_000_000n;
  const format = new Intl.NumberFormat(LOCALE, {
    style: "currency",
    currency: "USD",
    minimumFractionDigits: 2,
    maximumFractionDigits: small ? 6 : 2,
  });
  // Intl.NumberFormat formats a decimal string exactly (ECMA-402 "string as exact decimal").
  return format.format(decimal as Intl.StringNumericLiteral);
}

export function dateTime(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "short", timeZone }).format(ms);
}

export function date(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeZone }).format(ms);
}

/** "Nov 23, 15:00": the start of an hour (usage is rolled up by the hour). */
export function hour(ms: number, timeZone: string): string {
  return new Intl.DateTimeFormat(LOCALE, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone,
  }).format(ms);
}
