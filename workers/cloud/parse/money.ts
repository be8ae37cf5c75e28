// Decimal text to exact integer nano-units (10⁻⁹), never through a float. Bills write costs as
// plain decimals with up to 10 places (CUR `0.0000004123`), sometimes in exponent form
// (`1.5E-7`), with a leading sign or a bare fraction (`.5`). The 10th place and beyond are
// rounded half away from zero at the 9th.

const NANO_PLACES = 9;
/** Exponents beyond this are not money (and would make huge bigints). */
const MAX_EXPONENT = 60;

const ZERO = 48;
const NINE = 57;
const DOT = 46;
const PLUS = 43;
const MINUS = 45;

function isDigit(code: number): boolean {
  return code >= ZERO && code <= NINE;
}

/** Exact nano-units of a decimal string, or null when the text is not a number. */
export function parseNano(text: string): bigint | null {
  const end = text.length;
  let i = 0;
  let negative = false;
  const first = text.charCodeAt(0);
  if (first === PLUS || first === MINUS) {
    negative = first === MINUS;
    i = 1;
  }
  let digits = "";
  let mantissaDigits = 0;
  const intStart = i;
  while (i < end && isDigit(text.charCodeAt(i))) i++;
  digits = text.slice(intStart, i);
  mantissaDigits = i - intStart;
  let fractionLength = 0;
  if (i < end && text.charCodeAt(i) === DOT) {
    i++;
    const fractionStart = i;
    while (i < end && isDigit(text.charCodeAt(i))) i++;
    fractionLength = i - fractionStart;
    digits += text.slice(fractionStart, i);
    mantissaDigits += fractionLength;
  }
  if (mantissaDigits === 0) return null;
  let exponent = 0;
  if (i < end) {
    const e = text.charCodeAt(i);
    if (e !== 69 && e !== 101) return null; // E, e
    i++;
    let exponentNegative = false;
    const sign = text.charCodeAt(i);
    if (sign === PLUS || sign === MINUS) {
      exponentNegative = sign === MINUS;
      i++;
    }
    const exponentStart = i;
    while (i < end && isDigit(text.charCodeAt(i))) i++;
    if (i === exponentStart || i !== end) return null;
    if (i - exponentStart > 4) return null;
    exponent = Number(text.slice(exponentStart, i));
    if (exponent > MAX_EXPONENT) return null;
    if (exponentNegative) exponent = -exponent;
  }
  const shift = exponent - fractionLength + NANO_PLACES;
  let value: bigint;
  if (shift >= 0) {
    value = BigInt(digits) * 10n ** BigInt(shift);
  } else if (-shift > digits.length) {
    value = 0n; // below half a nano-unit whatever the digits
  } else {
    const divisor = 10n ** BigInt(-shift);
    const whole = BigInt(digits);
    value = whole / divisor;
    if ((whole % divisor) * 2n >= divisor) value += 1n;
  }
  return negative ? -value : value;
}

/** The decimal string of an exact value `unscaled × 10^-scale` (Parquet DECIMAL). */
export function decimalText(unscaled: bigint, scale: number): string {
  if (scale <= 0) return (unscaled * 10n ** BigInt(-scale)).toString();
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, "0");
  const text = `${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
  return negative ? `-${text}` : text;
}
