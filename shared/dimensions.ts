// Attribution dimensions: bound to the key at creation (a request cannot override them), the
// OpenAI `user` field, and headers `x-outlay-dimension-<name>: <value>`. Limits are documented
// in docs/gateway.md and enforced here with a message that names the offending dimension.
import { AppError } from "./errors.ts";

export const DIMENSION_HEADER = "x-outlay-dimension-";
export const MAX_DIMENSIONS = 10;
export const MAX_DIMENSION_VALUE = 128;
export const DIMENSION_NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const VALUE = /^[\x20-\x7e]+$/;

export function checkDimension(name: string, value: string): AppError | null {
  if (!DIMENSION_NAME.test(name)) {
    return new AppError(
      "invalid_dimension",
      `Dimension name "${name.slice(0, 40)}" must be 1-32 characters of a-z, 0-9, "_" or "-", starting with a letter or digit.`,
    );
  }
  if (value.length === 0 || value.length > MAX_DIMENSION_VALUE || !VALUE.test(value)) {
    return new AppError(
      "invalid_dimension",
      `Dimension "${name}" must have a value of 1-${MAX_DIMENSION_VALUE} printable ASCII characters.`,
    );
  }
  return null;
}

/** The request's own dimensions (body, then headers). The key's bound ones are added by the
 * ledger, which refuses a request that tries to change one. */
export function collectDimensions(
  headers: Headers,
  fromBody: Record<string, string>,
): Record<string, string> | AppError {
  const out: Record<string, string> = { ...fromBody };
  for (const [header, raw] of headers) {
    if (!header.startsWith(DIMENSION_HEADER)) continue;
    const name = header.slice(DIMENSION_HEADER.length);
    const value = raw.trim();
    const problem = checkDimension(name, value);
    if (problem) return problem;
    out[name] = value;
  }
  if (Object.keys(out).length > MAX_DIMENSIONS) {
    return new AppError("invalid_dimension", `A call may carry at most ${MAX_DIMENSIONS} dimensions.`);
  }
  return out;
}

/** A form's dimension list, "team=search, project=x" (between commas or on separate lines) →
 * { team: "search", project: "x" }; a part without "name=" or a name given twice is refused with
 * an AppError naming the part (param "dimensions"). Names and values are checked later
 * (checkDimension, or the API's schema). */
export function parseDimensionList(text: string): Record<string, string> | AppError {
  const out: Record<string, string> = {};
  for (const part of text
    .split(/[,\n]/)
    .map((p) => p.trim())
    .filter(Boolean)) {
    const eq = part.indexOf("=");
    if (eq <= 0) {
      return new AppError(
        "bad_request",
        `Write each dimension as name=value (“${part.slice(0, 40)}” is not).`,
        "dimensions",
      );
    }
    const name = part.slice(0, eq).trim();
    if (Object.hasOwn(out, name)) {
      return new AppError("bad_request", `The dimension “${name.slice(0, 40)}” is given twice.`, "dimensions");
    }
    // An own property even for "__proto__", which plain assignment would drop silently (and with
    // it a budget's scope); the checks then refuse the name.
    Object.defineProperty(out, name, { value: part.slice(eq + 1).trim(), enumerable: true, writable: true });
  }
  return out;
}
