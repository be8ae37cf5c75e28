// Parquet bills with hyparquet (+ hyparquet-compressors for ZSTD, Brotli, LZ4, GZIP): the footer
// by ranged reads, then one row group at a time (in slices of ROWS_PER_READ rows when the file
// has offset indexes) and only the columns the schema's map uses, so memory is bounded by a
// slice, or at worst a row group, of the used columns. Values become text for row.ts: timestamps
// (INT96, INT64, strings) as ISO text, DECIMAL from its unscaled integer (hyparquet would divide
// it into a double, so the decimal annotation is taken off before reading and applied here
// exactly), doubles by their shortest round-trip string.
import {
  parquetMetadataAsync,
  parquetRead,
  parquetSchema,
  type AsyncBuffer,
  type FileMetaData,
  type SchemaElement,
} from "hyparquet";
import { PARQUET_COMPRESSORS } from "./compressors.ts";
import { decimalText } from "./money.ts";
import { problem, type BillProblem } from "./problem.ts";
import type { ParquetPlace, RowEvent } from "./rows.ts";
import type { BillSource } from "./source.ts";

export type ParquetFile = {
  header: readonly string[];
  /** rows of the named top-level columns, cells in the order of `columns`; from a place's row on */
  rows(columns: readonly string[], from?: ParquetPlace): AsyncGenerator<RowEvent>;
  bytesRead(): number;
  /** right after a slice's last row: the next slice's first row (rows.ts); null elsewhere */
  place(): ParquetPlace | null;
};

function isDecimal(element: SchemaElement): boolean {
  return element.converted_type === "DECIMAL" || element.logical_type?.type === "DECIMAL";
}

function bigEndianSigned(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  if (bytes.length > 0 && (bytes[0] ?? 0) & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return value;
}

/** A Parquet value as the text a CSV would hold (null for null). */
function cellText(value: unknown, scale: number | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (scale !== undefined) {
    if (typeof value === "bigint") return decimalText(value, scale);
    if (typeof value === "number") return decimalText(BigInt(value), scale);
    if (value instanceof Uint8Array) return decimalText(bigEndianSigned(value), scale);
  }
  if (typeof value === "string") return value;
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "NaN";
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "invalid" : value.toISOString();
  if (value instanceof Uint8Array) return new TextDecoder().decode(value);
  return JSON.stringify(value, (_key, inner: unknown) => (typeof inner === "bigint" ? inner.toString() : inner));
}

/** Rows decoded at once within a row group whose pages can be located (an offset index). */
export const ROWS_PER_READ = 50_000;
/** A column chunk without an offset index this small may be decoded again for each slice. */
const SMALL_CHUNK_BYTES = 1 << 20;

export async function openParquet(source: BillSource, rowsPerRead = ROWS_PER_READ): Promise<ParquetFile | BillProblem> {
  let consumed = 0;
  const file: AsyncBuffer = {
    byteLength: source.size,
    slice: async (start, end) => {
      const length = (end ?? source.size) - start;
      const bytes = await source.read(start, length);
      consumed += bytes.byteLength;
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    },
  };
  let metadata: FileMetaData;
  try {
    metadata = await parquetMetadataAsync(file);
  } catch {
    return problem("not_a_bill", "The Parquet footer is damaged: the file cannot be read.");
  }
  const top = parquetSchema(metadata).children;
  const header = top.map((child) => child.element.name);
  const totalRows = metadata.row_groups.reduce((sum, group) => sum + Number(group.num_rows), 0);
  let place: ParquetPlace | null = null;

  async function* rows(columns: readonly string[], from?: ParquetPlace): AsyncGenerator<RowEvent> {
    const firstRow = from?.row ?? 0;
    // Decimal columns read as unscaled integers; their scale applied in cellText.
    const wanted = new Set(columns);
    const scales = columns.map((name) => {
      const element = top.find((child) => child.element.name === name)?.element;
      return element !== undefined && isDecimal(element) ? (element.scale ?? 0) : undefined;
    });
    const plain: FileMetaData = {
      ...metadata,
      schema: metadata.schema.map((element) =>
        wanted.has(element.name) && isDecimal(element)
          ? { ...element, converted_type: undefined, logical_type: undefined }
          : element,
      ),
    };
    let groupStart = 0;
    for (const group of metadata.row_groups) {
      const groupEnd = groupStart + Number(group.num_rows);
      if (groupEnd <= firstRow) {
        groupStart = groupEnd;
        continue;
      }
      // With an offset index, hyparquet fetches only the pages of a row range, so a large row
      // group is read in slices. A used column without one is decoded again for every slice:
      // fine for a small chunk (one page, say), not for a large one; then the group is read whole.
      const used = group.columns.filter((chunk) => wanted.has(chunk.meta_data?.path_in_schema[0] ?? ""));
      const indexed = (chunk: (typeof used)[number]): boolean => chunk.offset_index_offset !== undefined;
      const cheap = (chunk: (typeof used)[number]): boolean =>
        indexed(chunk) ||
        Number(chunk.meta_data?.total_uncompressed_size ?? Number.MAX_SAFE_INTEGER) <= SMALL_CHUNK_BYTES;
      const pageable = used.some(indexed) && used.every(cheap);
      const step = pageable ? Math.max(1, rowsPerRead) : Math.max(1, groupEnd - groupStart);
      for (let rowStart = Math.max(groupStart, firstRow); rowStart < groupEnd; rowStart += step) {
        const rowEnd = Math.min(groupEnd, rowStart + step);
        let values: unknown[][] = [];
        try {
          await parquetRead({
            file,
            metadata: plain,
            columns: [...columns],
            rowStart,
            rowEnd,
            compressors: PARQUET_COMPRESSORS,
            onComplete: (read: unknown[][]) => {
              values = read;
            },
          });
        } catch {
          yield {
            kind: "error",
            problem: problem("not_a_bill", `The Parquet data from row ${rowStart + 1} is damaged.`, rowStart + 1, null),
          };
          return;
        }
        for (let i = 0; i < values.length; i++) {
          const rowValues = values[i] ?? [];
          const cells = rowValues.map((value, c) => cellText(value, scales[c]));
          place = i === values.length - 1 && rowEnd < totalRows ? { kind: "parquet", row: rowEnd } : null;
          yield { kind: "row", row: rowStart + i + 1, cells };
        }
        place = null;
      }
      groupStart = groupEnd;
    }
  }

  return { header, rows, bytesRead: () => consumed, place: () => place };
}
