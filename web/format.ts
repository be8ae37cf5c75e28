// How numbers and times read on the dashboard: money from exact nano-USD (never through a float:
// Intl formats the decimal string), in the organisation's locale; times in its time zone.
import { DEFAULT_LOCALE } from "../shared/locale.ts";
import { formatUsd } from "../shared/money.ts";

/** Formats for one organisation: its locale and time zone, fixed once per request. */
export type Format = {
  locale: string;
  timeZone: string;
  /** $1,234.56 for large amounts; small ones keep up to 6 decimals so a cent fraction shows. */
  usd(nano: bigint): string;
  /** A count: 1,234,567 */
  count(n: number): string;
  dateTime(ms: number): string;
  date(ms: number): string;
  /** "Nov 23, 15:00": the start of an hour (usage is rolled up by the hour). */
  hour(ms: number): string;
};

export function formatFor(locale: string, timeZone: string): Format {
  const money = (fraction: number) =>
    new Intl.NumberFormat(locale, {
      style: "currency",
      currency: "USD",
      minimumFractionDigits: 2,
      maximumFractionDigits: fraction,
    });
  const large = money(2);
  const small = money(6);
  const counts = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
  const dateTimes = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short", timeZone });
  const dates = new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeZone });
  const hours = new Intl.DateTimeFormat(locale, {
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZone,
  });
  return {
    locale,
    timeZone,
    usd(nano) {
      const isSmall = nano !== 0n && (nano < 0n ? -nano : nano) < 10_000_000n;
      // Intl.NumberFormat formats a decimal string exactly (ECMA-402 "string as exact decimal").
      return (isSmall ? small : large).format(formatUsd(nano) as Intl.StringNumericLiteral);
    },
    count: (n) => counts.format(n),
    dateTime: (ms) => dateTimes.format(ms),
    date: (ms) => dates.format(ms),
    hour: (ms) => hours.format(ms),
  };
}

/** en-US in UTC: for pages outside an organisation. */
export const plainFormat = formatFor(DEFAULT_LOCALE, "UTC");
