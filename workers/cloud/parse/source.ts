// Random access to a stored bill: R2 ranges in production, a byte array in tests.

export type BillSource = {
  size: number;
  /** bytes [offset, offset + length) */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** the file from `offset` (0: the start) to its end, as a stream */
  stream(offset?: number): Promise<ReadableStream<Uint8Array>>;
};

/** A source over bytes in memory (tests, small uploads). */
export function bytesSource(bytes: Uint8Array): BillSource {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
    stream: async (offset = 0) => new Blob([bytes.subarray(offset)]).stream(),
  };
}

/** How much of a bill one ranged read of its stream fetches. */
export const STREAM_RANGE_BYTES = 8 * 1024 * 1024;

/**
 * A source over an R2 object, read by ranges: Parquet's own reads, and CSV's stream as one ranged
 * read of `rangeBytes` after the other, each fetched only when the reader wants more (no GET held
 * open for a whole large bill, at most one range waiting in memory).
 */
export function r2Source(bucket: R2Bucket, key: string, size: number, rangeBytes = STREAM_RANGE_BYTES): BillSource {
  const get = async (options?: R2GetOptions): Promise<R2ObjectBody> => {
    const object = await bucket.get(key, options);
    if (object === null) throw new Error(`bill object ${key} vanished while being read`);
    return object;
  };
  return {
    size,
    read: async (offset, length) => new Uint8Array(await (await get({ range: { offset, length } })).arrayBuffer()),
    stream: async (from = 0) => {
      let offset = from;
      return new ReadableStream<Uint8Array>(
        {
          async pull(controller) {
            if (offset >= size) {
              controller.close();
              return;
            }
            const length = Math.min(rangeBytes, size - offset);
            const bytes = new Uint8Array(await (await get({ range: { offset, length } })).arrayBuffer());
            if (bytes.byteLength !== length) throw new Error(`bill object ${key} changed while being read`);
            offset += length;
            controller.enqueue(bytes);
          },
        },
        { highWaterMark: 0 },
      );
    },
  };
}
