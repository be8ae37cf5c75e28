// What a container reader (csv.ts, parquet.ts) hands on: the header, then rows as text cells in
// file order, with the rows it could not split (bad) and at most one fatal problem; and, between
// some rows, a place the reading can stop at and later go on from.
import type { BillProblem } from "./problem.ts";
import type { Cells } from "./row.ts";

export type RowEvent =
  | { kind: "row"; row: number; cells: Cells }
  | { kind: "bad"; problem: BillProblem }
  | { kind: "error"; problem: BillProblem };

export type CsvNewline = "\n" | "\r\n" | "\r";

/**
 * Where a CSV's next record starts: its byte offset in the (inflated) text, the rows before it,
 * and what was learnt from the file's start (the header, the record separator).
 */
export type CsvPlace = { kind: "csv"; offset: number; row: number; header: string[]; newline: CsvNewline };

/** Where a Parquet file's next row is: its 0-based index in the file. */
export type ParquetPlace = { kind: "parquet"; row: number };

/** Plain data (a Workflow step's result can hold it). */
export type Place = CsvPlace | ParquetPlace;

export type RowSource = {
  header: readonly string[];
  rows(): AsyncGenerator<RowEvent>;
  /** bytes of the stored (compressed) file consumed so far */
  bytesRead(): number;
  /**
   * Right after an event: where reading can go on without that event and every one before it,
   * when this is such a place (between slices of the file); null elsewhere.
   */
  place(): Place | null;
};
