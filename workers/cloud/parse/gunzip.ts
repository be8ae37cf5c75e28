// Gzip inflated only as fast as it is read. workerd's DecompressionStream takes its input as fast as
// a pipe offers it and keeps the inflated bytes until they are read, so a bill piped into it ends
// up in memory nearly whole (7 GB for a 1 GB CSV.gz in the cloud benchmark, docs/benchmarks.md
// "Cloud bills"). node:zlib's gunzip (nodejs_compat) is a Node stream with a high-water mark:
// piped from the file and read through `Readable.toWeb`, it pauses its source when the reader
// has not taken what it inflated, so what waits is a few of its 16 KiB chunks.
import { pipeline, Readable } from "node:stream";
import type { ReadableStream as NodeWebReadableStream } from "node:stream/web";
import { createGunzip } from "node:zlib";

export function gunzipOnDemand(input: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const source = Readable.fromWeb(input as unknown as NodeWebReadableStream<Uint8Array>);
  // A damaged or cut gzip stream, or a failing source, errors the returned stream.
  const inflated = pipeline(source, createGunzip(), () => undefined);
  return Readable.toWeb(inflated) as unknown as ReadableStream<Uint8Array>;
}
