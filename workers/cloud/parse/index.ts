// Bill parsing for the cloud-bill intake (docs/cloud.md, README.md here): a stored file in, its
// format and schema detected, `BillLine`s out in file order. Nothing throws for bad input: the
// open answers a problem, reading yields warnings (bad rows skipped) and at most one error.
import type { BillFormat, BillLine, BillSchema } from "../line.ts";
import { detectSchema, usedColumns } from "./columns.ts";
import { openCsv } from "./csv.ts";
import { detectFormat } from "./detect.ts";
import { openParquet } from "./parquet.ts";
import { isProblem, problem, type BillProblem } from "./problem.ts";
import { rowReader } from "./row.ts";
import type { RowEvent } from "./rows.ts";
import type { BillSource } from "./source.ts";

export type { BillProblem, BillProblemCode } from "./problem.ts";
export type { BillSource } from "./source.ts";
export { bytesSource, r2Source } from "./source.ts";
export { parseNano } from "./money.ts";

export type BillEvent =
  | { kind: "line"; line: BillLine }
  | { kind: "warning"; problem: BillProblem }
  | { kind: "error"; problem: BillProblem };

export type OpenedBill = {
  format: BillFormat;
  schema: BillSchema;
  /** the header as written */
  columns: readonly string[];
  /** lines in file order, bad rows as warnings; ends normally or with one `error` (call once) */
  read(): AsyncGenerator<BillEvent>;
  /** stored (compressed) bytes consumed so far, for progress against the file's size */
  bytesRead(): number;
};

/** Warnings listed one by one; past this, one summary warning counts the rest. */
export const MAX_LISTED_WARNINGS = 100;
/** Bad rows fail the file when there are at least this many and more than 1% of rows. */
export const MIN_BAD_ROWS_TO_FAIL = 10;

async function* lines(
  rows: AsyncGenerator<RowEvent>,
  readRow: ReturnType<typeof rowReader>,
): AsyncGenerator<BillEvent> {
  let total = 0;
  let bad = 0;
  const warn = (found: BillProblem): BillEvent | null => {
    bad += 1;
    return bad <= MAX_LISTED_WARNINGS ? { kind: "warning", problem: found } : null;
  };
  for await (const event of rows) {
    if (event.kind === "error") {
      yield event;
      return;
    }
    total += 1;
    if (event.kind === "bad") {
      const warning = warn(event.problem);
      if (warning !== null) yield warning;
      continue;
    }
    const line = readRow(event.cells, event.row);
    if ("code" in line) {
      const warning = warn(line);
      if (warning !== null) yield warning;
      continue;
    }
    yield { kind: "line", line };
  }
  if (bad > MAX_LISTED_WARNINGS) {
    yield {
      kind: "warning",
      problem: problem("bad_row", `${bad - MAX_LISTED_WARNINGS} more bad rows were skipped (not listed).`),
    };
  }
  if (bad >= MIN_BAD_ROWS_TO_FAIL && bad * 100 > total) {
    yield {
      kind: "error",
      problem: problem(
        "too_many_bad_rows",
        `${bad} of ${total} rows could not be read (more than 1%): the file is not imported.`,
      ),
    };
  }
}

export async function openBill(source: BillSource): Promise<OpenedBill | BillProblem> {
  const format = await detectFormat(source);
  if (typeof format !== "string") return format;
  if (format === "parquet") {
    const parquet = await openParquet(source);
    if (isProblem(parquet)) return parquet;
    const verdict = detectSchema(parquet.header);
    if (verdict.kind === "unknown") return problem("unknown_schema", verdict.message);
    const used = usedColumns(verdict.map, parquet.header);
    const usedVerdict = detectSchema(used);
    if (usedVerdict.kind === "unknown") throw new Error("the used columns lost a required one");
    const readRow = rowReader(usedVerdict.map);
    return {
      format,
      schema: verdict.map.schema,
      columns: parquet.header,
      read: () => lines(parquet.rows(used), readRow),
      bytesRead: () => parquet.bytesRead(),
    };
  }
  const csv = await openCsv(source, format === "csv.gz");
  if (isProblem(csv)) return csv;
  const verdict = detectSchema(csv.header);
  if (verdict.kind === "unknown") return problem("unknown_schema", verdict.message);
  const readRow = rowReader(verdict.map);
  return {
    format,
    schema: verdict.map.schema,
    columns: csv.header,
    read: () => lines(csv.rows(), readRow),
    bytesRead: () => csv.bytesRead(),
  };
}
