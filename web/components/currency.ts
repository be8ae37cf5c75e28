// Money in any currency, formatted as the dashboard formats USD (web/format.ts): exact nano-units
// through Intl's decimal-string formatting, two decimals for large amounts and up to six for
// small ones. Cloud bills carry their own currency per line; two currencies are never added.
import { formatDecimal } from "../../shared/money.ts";

const ISO_4217 = /^[A-Z]{3}$/;

/** A formatter for nano-units of `currency` in `locale`; a code Intl does not know is written after the amount. */
export function currencyFormat(locale: string, currency: string): (nano: bigint) => string {
  const money = (fraction: number) => {
    try {
      if (!ISO_4217.test(currency)) return null;
      return new Intl.NumberFormat(locale, {
        style: "currency",
        currency,
        minimumFractionDigits: 2,
        maximumFractionDigits: fraction,
      });
    } catch {
      return null;
    }
  };
  const large = money(2);
  const small = money(6);
  return (nano) => {
    const isSmall = nano !== 0n && (nano < 0n ? -nano : nano) < 10_000_000n;
    const format = isSmall ? small : large;
    const exact = formatDecimal(nano, 9, 9) as Intl.StringNumericLiteral;
    return format ? format.format(exact) : `${formatDecimal(nano, 9, 2)} ${currency}`;
  };
}

/** An exact decimal string as the spend API writes it ("-2.50", "0.000000001") to nano-units. */
export function nanoOf(decimal: string): bigint {
  const negative = decimal.startsWith("-");
  const [whole = "0", fraction = ""] = (negative ? decimal.slice(1) : decimal).split(".");
  const nano = BigInt(whole || "0") * 1_000_000_000n + BigInt(fraction.slice(0, 9).padEnd(9, "0") || "0");
  return negative ? -nano : nano;
}
