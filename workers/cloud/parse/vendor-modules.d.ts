// Types of hyparquet-compressors' inner modules (compressors.ts imports them, not its entry).
declare module "hyparquet-compressors/src/brotli.js" {
  export function decompressBrotli(input: Uint8Array, outputLength: number): Uint8Array;
}
declare module "hyparquet-compressors/src/gzip.js" {
  export function gunzip(input: Uint8Array, output: Uint8Array): Uint8Array;
}
declare module "hyparquet-compressors/src/lz4.js" {
  export function decompressLz4(input: Uint8Array, outputLength: number): Uint8Array;
  export function decompressLz4Raw(input: Uint8Array, outputLength: number): Uint8Array;
}
// papaparse's low-level parser (csv.ts uses only this part of it). Imported by file: the package's
// "browser" build is papaparse.min.js, which wrangler.toml's Text rule (`**/*.min.js`) would load as text.
declare module "papaparse/papaparse.js" {
  type ParserConfig = { delimiter: string; newline: "\n" | "\r\n" | "\r"; quoteChar: string };
  type ParseError = { type: string; code: string; message: string; row?: number; index?: number };
  type ParseResult = { data: string[][]; errors: ParseError[]; meta: { cursor: number } };
  class Parser {
    constructor(config: ParserConfig);
    parse(input: string, baseIndex: number, ignoreLastRow: boolean): ParseResult;
  }
  const Papa: { Parser: typeof Parser };
  export default Papa;
}
