// CSV and CSV.gz bills, streamed: the stored file's stream, through `DecompressionStream("gzip")`
// when gzipped, into csv-parse (README.md says why that parser). Records come out of the parser
// through its synchronous `on_record`/`on_skip` hooks, so rows, skipped records and the end of
// the file arrive in file order; only the current chunk's records are ever held.
import { parse } from "csv-parse/stream";
import { sniffText, SNIFF_BYTES } from "./detect.ts";
import { problem, type BillProblem } from "./problem.ts";
import type { RowEvent, RowSource } from "./rows.ts";
import type { BillSource } from "./source.ts";

/** One record may not exceed this many characters (a stray quote would swallow the file). */
const MAX_RECORD_CHARS = 1 << 20;

type Parsed = { record: string[] } | { skipped: { code?: string; message: string } };

function gzipProblem(): BillProblem {
  return problem("truncated", "The gzip stream ends early or is damaged: the file was cut short or is not whole.");
}

export async function openCsv(source: BillSource, gzipped: boolean): Promise<RowSource | BillProblem> {
  let consumed = 0;
  const counted = (await source.stream()).pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        consumed += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  const bytes = (gzipped ? counted.pipeThrough(new DecompressionStream("gzip")) : counted).getReader();

  const parsed: Parsed[] = [];
  const parser = parse({
    bom: true,
    relax_column_count: true,
    relax_quotes: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    max_record_size: MAX_RECORD_CHARS,
    on_record: (record: string[]) => {
      parsed.push({ record });
      return null;
    },
    on_skip: (error: { code?: string; message: string } | undefined) => {
      parsed.push({ skipped: error ?? { message: "unreadable record" } });
    },
  });
  const writer = parser.writable.getWriter();
  const input = { ended: false };

  /** Feeds the parser one more chunk (or the end); a problem when the bytes cannot be read. */
  const feed = async (): Promise<BillProblem | null> => {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await bytes.read();
    } catch {
      return gzipped ? gzipProblem() : problem("truncated", "The file could not be read to its end.");
    }
    try {
      if (chunk.done) {
        input.ended = true;
        await writer.close();
      } else {
        await writer.write(chunk.value);
      }
    } catch {
      return problem("not_a_bill", "The file is not readable as CSV.");
    }
    return null;
  };

  // The first bytes: plainly not a bill?
  const start: Uint8Array[] = [];
  let startLength = 0;
  let startDone = false;
  while (startLength < SNIFF_BYTES) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await bytes.read();
    } catch {
      return gzipped ? gzipProblem() : problem("truncated", "The file could not be read.");
    }
    if (chunk.done) {
      startDone = true;
      break;
    }
    start.push(chunk.value);
    startLength += chunk.value.byteLength;
  }
  const head = new Uint8Array(startLength);
  let offset = 0;
  for (const part of start) {
    head.set(part, offset);
    offset += part.byteLength;
  }
  const sniffed = sniffText(head, startDone);
  if (sniffed !== null) {
    await bytes.cancel();
    return sniffed;
  }
  try {
    await writer.write(head);
    if (startDone) {
      input.ended = true;
      await writer.close();
    }
  } catch {
    return problem("not_a_bill", "The file is not readable as CSV.");
  }

  // The header: the first record.
  while (parsed.length === 0 && !input.ended) {
    const failed = await feed();
    if (failed !== null) return failed;
  }
  const first = parsed.shift();
  if (first === undefined) return problem("empty", "The file has no header and no rows.");
  if (!("record" in first)) return problem("not_a_bill", "The first line of the file is not a CSV header.");
  const header = first.record;

  async function* rows(): AsyncGenerator<RowEvent> {
    let row = 0;
    let pending: string[] | null = null;
    let pendingRow = 0;
    const width = header.length;
    const settle = (record: string[], at: number): RowEvent =>
      record.length === width
        ? { kind: "row", row: at, cells: record }
        : {
            kind: "bad",
            problem: problem("bad_row", `Row ${at} has ${record.length} fields; the header has ${width}.`, at, null),
          };
    for (;;) {
      while (parsed.length > 0) {
        const next = parsed.shift() as Parsed;
        row += 1;
        if (pending !== null) yield settle(pending, pendingRow);
        pending = null;
        if ("record" in next) {
          pending = next.record;
          pendingRow = row;
        } else if (next.skipped.code === "CSV_QUOTE_NOT_CLOSED") {
          yield {
            kind: "error",
            problem: problem(
              "truncated",
              `Row ${row} ends inside a quoted field at the end of the file: the file was cut short.`,
              row,
              null,
            ),
          };
          return;
        } else if (next.skipped.code === "CSV_MAX_RECORD_SIZE") {
          yield {
            kind: "error",
            problem: problem(
              "record_too_large",
              `Row ${row} is over ${MAX_RECORD_CHARS} characters (a stray quote?).`,
              row,
              null,
            ),
          };
          return;
        } else {
          yield { kind: "bad", problem: problem("bad_row", `Row ${row} is not valid CSV.`, row, null) };
        }
      }
      if (input.ended) break;
      const failed = await feed();
      if (failed !== null) {
        yield { kind: "error", problem: failed };
        return;
      }
    }
    if (pending !== null) {
      if (pending.length < width) {
        yield {
          kind: "error",
          problem: problem(
            "truncated",
            `The last row (${pendingRow}) has ${pending.length} of ${width} fields: the file was cut short.`,
            pendingRow,
            null,
          ),
        };
        return;
      }
      yield settle(pending, pendingRow);
    }
  }

  return { header, rows, bytesRead: () => consumed };
}
