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
import type { Place, RowEvent } from "./rows.ts";
import type { BillSource } from "./source.ts";

export type { BillProblem, BillProblemCode } from "./problem.ts";
export type { Place } from "./rows.ts";
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
  /**
   * Right after an event of `read()`: where a later reading can go on (`openBill`'s `from`)
   * without that event and the ones before it, when this is such a place; null elsewhere.
   */
  position(): ReadPosition | null;
};

/**
 * Where reading a bill can stop and go on later, as plain data: the container's place and the
 * counts of the rows before it (the bad-row rules count the whole file).
 */
export type ReadPosition = { place: Place; rows: number; badRows: number };

export type OpenOptions = {
  /** go on from here, a position an earlier reading of the same file gave */
  from?: ReadPosition;
  /** CSV bytes parsed at once (tests make it small) */
  sliceBytes?: number;
  /** Parquet rows decoded at once (tests make it small) */
  rowsPerRead?: number;
};

/** The counts `lines` keeps, shared with `position()`. */
type Counts = { rows: number; badRows: number };

/** Warnings listed one by one; past this, one summary warning counts the rest. */
export const MAX_LISTED_WARNINGS = 100;
/** Bad rows fail the file when there are at least this many and more than 1% of rows. */
export const MIN_BAD_ROWS_TO_FAIL = 10;

async function* lines(
  rows: AsyncGenerator<RowEvent>,
  readRow: ReturnType<typeof rowReader>,
  counts: Counts,
): AsyncGenerator<BillEvent> {
  const warn = (found: BillProblem): BillEvent | null => {
    counts.badRows += 1;
    return counts.badRows <= MAX_LISTED_WARNINGS ? { kind: "warning", problem: found } : null;
  };
  for await (const event of rows) {
    if (event.kind === "error") {
      yield event;
      return;
    }
    counts.rows += 1;
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
  const { rows: total, badRows: bad } = counts;
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

/** The opened bill's reading and position, over a container's rows and places. */
function reading(
  rows: () => AsyncGenerator<RowEvent>,
  place: () => Place | null,
  readRow: ReturnType<typeof rowReader>,
  from: ReadPosition | undefined,
): Pick<OpenedBill, "read" | "position"> {
  const counts: Counts = { rows: from?.rows ?? 0, badRows: from?.badRows ?? 0 };
  return {
    read: () => lines(rows(), readRow, counts),
    position: () => {
      const at = place();
      return at === null ? null : { place: at, rows: counts.rows, badRows: counts.badRows };
    },
  };
}

/** Opens a stored bill, at its start or (`from`) where an earlier reading of it stopped. */
export async function openBill(source: BillSource, options: OpenOptions = {}): Promise<OpenedBill | BillProblem> {
  const from = options.from;
  const format = await detectFormat(source);
  if (typeof format !== "string") return format;
  if (from !== undefined && (from.place.kind === "parquet") !== (format === "parquet")) {
    throw new Error("a position of another file");
  }
  if (format === "parquet") {
    const parquet = await openParquet(source, options.rowsPerRead);
    if (isProblem(parquet)) return parquet;
    const verdict = detectSchema(parquet.header);
    if (verdict.kind === "unknown") return problem("unknown_schema", verdict.message);
    const used = usedColumns(verdict.map, parquet.header);
    const usedVerdict = detectSchema(used);
    if (usedVerdict.kind === "unknown") throw new Error("the used columns lost a required one");
    const fromRow = from?.place.kind === "parquet" ? from.place : undefined;
    return {
      format,
      schema: verdict.map.schema,
      columns: parquet.header,
      bytesRead: () => parquet.bytesRead(),
      ...reading(
        () => parquet.rows(used, fromRow),
        () => parquet.place(),
        rowReader(usedVerdict.map),
        from,
      ),
    };
  }
  const fromPlace = from?.place.kind === "csv" ? from.place : undefined;
  const csv = await openCsv(source, format === "csv.gz", { from: fromPlace, sliceBytes: options.sliceBytes });
  if (isProblem(csv)) return csv;
  const verdict = detectSchema(csv.header);
  if (verdict.kind === "unknown") return problem("unknown_schema", verdict.message);
  return {
    format,
    schema: verdict.map.schema,
    columns: csv.header,
    bytesRead: () => csv.bytesRead(),
    ...reading(
      () => csv.rows(),
      () => csv.place(),
      rowReader(verdict.map),
      from,
    ),
  };
}
