// Money is integer nano-USD (1e-9 USD). Prices are integer nano-USD per million tokens, which
// holds every catalog rate exactly (catalog rates have at most 9 decimals per million tokens).
// Per-event costs fit a JS number (below $9M); sums are read from SQL as text and added as bigint.

export const NANO_PER_USD = 1_000_000_000n;

/** "2.5" -> 2500000000n (scale 9). Returns null for anything that is not a plain non-negative decimal. */
export function parseDecimal(text: string, scale = 9): bigint | null {
  const match = /^(\d{1,15})(?:\.(\d{1,18}))?$/.exec(text.trim());
  if (!match) return null;
  const whole = match[1] ?? "0";
  const fraction = match[2] ?? "";
  if (fraction.length > scale && /[1-9]/.test(fraction.slice(scale))) return null;
  return BigInt(whole) * 10n ** BigInt(scale) + BigInt(fraction.slice(0, scale).padEnd(scale, "0"));
}

/** A catalog number (a JS number written as a decimal literal) to scaled integer, exactly. */
export function decimalNumberToScaled(value: number, scale = 9): bigint | null {
  if (!Number.isFinite(value) || value < 0) return null;
  // toPrecision(15) undoes binary noise without inventing digits for catalog literals like 0.0375.
  const text = Number(value.toPrecision(15)).toFixed(Math.min(scale + 2, 20));
  return parseDecimal(text.replace(/0+$/, "").replace(/\.$/, ""), scale);
}

/** 2500000000n (scale 9) -> "2.5"; keeps at least `minDecimals` decimals. */
export function formatDecimal(value: bigint, scale = 9, minDecimals = 0): string {
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const base = 10n ** BigInt(scale);
  const whole = abs / base;
  let fraction = (abs % base).toString().padStart(scale, "0").replace(/0+$/, "");
  if (fraction.length < minDecimals) fraction = fraction.padEnd(minDecimals, "0");
  return `${negative ? "-" : ""}${whole}${fraction ? `.${fraction}` : ""}`;
}

/** nano-USD to a decimal USD string with all nine decimals kept exact ("0.003250000"). */
export function formatUsd(nano: bigint): string {
  return formatDecimal(nano, 9, 9);
}

/** Integer division rounding half away from zero (for non-negative operands). */
export function divideRounded(numerator: bigint, denominator: bigint): bigint {
  return (numerator * 2n + denominator) / (denominator * 2n);
}
