// What a container reader (csv.ts, parquet.ts) hands on: the header, then rows as text cells in
// file order, with the rows it could not split (bad) and at most one fatal problem.
import type { BillProblem } from "./problem.ts";
import type { Cells } from "./row.ts";

export type RowEvent =
  | { kind: "row"; row: number; cells: Cells }
  | { kind: "bad"; problem: BillProblem }
  | { kind: "error"; problem: BillProblem };

export type RowSource = {
  header: readonly string[];
  rows(): AsyncGenerator<RowEvent>;
  /** bytes of the stored (compressed) file consumed so far */
  bytesRead(): number;
};
