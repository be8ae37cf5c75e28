// Records kept several to a row (usage_packs, audit_call_runs): gzipped NDJSON in a BLOB, or,
// in rows a migration made from one-row-per-record tables, a JSON array as TEXT. The platform's
// zlib (workerd's nodejs_compat) is called synchronously: in workerd, per usage event of a
// 100-event pack, gzip 1.5 µs and gunzip 0.6 µs against 2.4 and 1.1 µs through
// CompressionStream / DecompressionStream (measured in the test runtime, 30,000 events).
import { gunzipSync, gzipSync } from "node:zlib";

/** How many rows a walk over packed rows reads first; it doubles while it needs more, up to
 * MAX_READ (a page of a few events reads a row or two, an export page larger steps). */
export const FIRST_READ = 2;
const MAX_READ = 32;
export const nextRead = (take: number): number => Math.min(take * 2, MAX_READ);

/** The records as a row's body: gzipped NDJSON. */
export function packBody(records: readonly unknown[]): Uint8Array {
  return gzipSync(records.map((r) => JSON.stringify(r)).join("\n"));
}

/** A row's records: from gzipped NDJSON (a BLOB, which D1 returns as an array of bytes) or a JSON
 * array (TEXT). The records are the store's own writing, not checked again. */
export function unpackBody<T>(body: unknown): T[] {
  if (typeof body === "string") return JSON.parse(body) as T[];
  const bytes =
    body instanceof ArrayBuffer
      ? new Uint8Array(body)
      : body instanceof Uint8Array
        ? body
        : Uint8Array.from(body as number[]);
  return gunzipSync(bytes)
    .toString("utf8")
    .split("\n")
    .map((line) => JSON.parse(line) as T);
}
