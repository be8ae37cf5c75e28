// Random access to a stored bill: R2 ranges in production, a byte array in tests.

export type BillSource = {
  size: number;
  /** bytes [offset, offset + length) */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** the whole file from the start, as a stream (an R2 get body) */
  stream(): Promise<ReadableStream<Uint8Array>>;
};

/** A source over bytes in memory (tests, small uploads). */
export function bytesSource(bytes: Uint8Array): BillSource {
  return {
    size: bytes.byteLength,
    read: async (offset, length) => bytes.subarray(offset, offset + length),
    stream: async () => new Blob([bytes]).stream(),
  };
}

/** A source over an R2 object: ranged reads for Parquet, the body stream for CSV. */
export function r2Source(bucket: R2Bucket, key: string, size: number): BillSource {
  const get = async (options?: R2GetOptions): Promise<R2ObjectBody> => {
    const object = await bucket.get(key, options);
    if (object === null) throw new Error(`bill object ${key} vanished while being read`);
    return object;
  };
  return {
    size,
    read: async (offset, length) => new Uint8Array(await (await get({ range: { offset, length } })).arrayBuffer()),
    stream: async () => (await get()).body,
  };
}
