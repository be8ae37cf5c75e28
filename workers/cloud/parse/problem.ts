// What can be wrong with a bill file, as values (docs/architecture.md "Errors"): a problem with
// a stable code, a message a person can act on, and where it is (data row, header column).

export type BillProblemCode =
  /** the file has no bytes, or only a header / blank lines where a header is expected */
  | "empty"
  /** binary, HTML, JSON, a damaged Parquet file: not a CSV or Parquet bill */
  | "not_a_bill"
  /** a header none of the supported schemas matches */
  | "unknown_schema"
  /** the file was cut: gzip stream or Parquet footer missing, last CSV record incomplete */
  | "truncated"
  /** one row that cannot be read (warning; the row is skipped) */
  | "bad_row"
  /** more than 1% of the rows (and at least 10) are bad */
  | "too_many_bad_rows"
  /** one CSV record over the size limit (usually a stray quote swallowing the file) */
  | "record_too_large";

export type BillProblem = {
  code: BillProblemCode;
  message: string;
  /** 1-based data row (the header is row 0), when the problem has one */
  row: number | null;
  /** the header name of the column at fault, when there is one */
  column: string | null;
};

export function problem(
  code: BillProblemCode,
  message: string,
  row: number | null = null,
  column: string | null = null,
): BillProblem {
  return { code, message, row, column };
}

export function isProblem(value: object): value is BillProblem {
  return "code" in value && "message" in value;
}
