// Parquet page codecs for hyparquet: hyparquet-compressors' pure-JS GZIP, Brotli, LZ4 and its
// fzstd ZSTD. Not its package entry: that compiles hysnappy's WebAssembly at load, which workerd
// forbids ("Wasm code generation disallowed by embedder"); SNAPPY stays hyparquet's own JS.
import type { Compressors } from "hyparquet";
import { decompressBrotli } from "hyparquet-compressors/src/brotli.js";
import { gunzip } from "hyparquet-compressors/src/gzip.js";
import { decompressLz4, decompressLz4Raw } from "hyparquet-compressors/src/lz4.js";
import { decompress as decompressZstd } from "fzstd";

export const PARQUET_COMPRESSORS: Compressors = {
  GZIP: (input, length) => gunzip(input, new Uint8Array(length)),
  BROTLI: decompressBrotli,
  ZSTD: (input) => decompressZstd(input),
  LZ4: decompressLz4,
  LZ4_RAW: decompressLz4Raw,
};
