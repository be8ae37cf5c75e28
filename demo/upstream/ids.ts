// Random identifiers shaped like the providers' own.

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const HEX = "0123456789abcdef";

function randomChars(alphabet: string, length: number): string {
  const bytes = new Uint8Array(length);
  crypto.getRandomValues(bytes);
  let out = "";
  for (const byte of bytes) out += alphabet[byte % alphabet.length] ?? "0";
  return out;
}

/** `prefix` followed by `length` random base62 characters. */
export function base62Id(prefix: string, length: number): string {
  return prefix + randomChars(BASE62, length);
}

/** `prefix` followed by `length` random lowercase hex digits. */
export function hexId(prefix: string, length: number): string {
  return prefix + randomChars(HEX, length);
}

/** Unix time in whole seconds. */
export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
