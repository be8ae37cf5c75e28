// Random identifiers. Public ids are base32 (lower case, no padding) so they survive any
// transport; secrets carry at least 128 bits of randomness.
import { BASE32, base32 } from "./encoding.ts";

export function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

/** 60 bits of randomness in 12 base32 characters: enough for public ids that are never secrets. */
export function newId(): string {
  return base32(randomBytes(8)).slice(0, 12);
}

/** 160 bits of randomness in 32 base32 characters. */
export function newSecret(): string {
  return base32(randomBytes(20));
}

/** Request ids sort by time: 11 base32 chars of milliseconds, then 10 random. */
export function newRequestId(now = Date.now()): string {
  return `${requestIdFloor(now)}${base32(randomBytes(7)).slice(0, 10)}`;
}

/** Below every request id made at `at` or later, and above every one made before it. */
export function requestIdFloor(at: number): string {
  let time = "";
  let value = at;
  for (let i = 0; i < 11; i++) {
    time = BASE32[value % 32] + time;
    value = Math.floor(value / 32);
  }
  return `req_${time}`;
}

export const ID_PATTERN = /^[a-z2-7]{12}$/;
