// CSV and CSV.gz bills, streamed: the stored file's stream, through node:zlib's gunzip when
// gzipped (inflating only as fast as it is read, gunzip.ts), decoded as UTF-8 (a BOM dropped) and
// split by papaparse's low-level `Parser` one chunk at a time (README.md says why that parser).
// Each chunk is parsed with its last, possibly cut, record held back and prepended to the next
// chunk, as papaparse's own streamers do; only one chunk's records are held at a time.
import Papa from "papaparse/papaparse.js";
import { sniffText, SNIFF_BYTES } from "./detect.ts";
import { gunzipOnDemand } from "./gunzip.ts";
import { problem, type BillProblem } from "./problem.ts";
import type { RowEvent, RowSource } from "./rows.ts";
import type { BillSource } from "./source.ts";

/** One record may not exceed this many characters (a stray quote would swallow the file). */
const MAX_RECORD_CHARS = 1 << 20;
/** Bytes decoded and parsed at once, so one large stream chunk cannot yield a flood of records. */
const PARSE_SLICE = 256 * 1024;

type Newline = "\n" | "\r\n" | "\r";

/**
 * The records of one chunk; `bad` holds indexes of records with malformed quotes; `unterminated`
 * when the file ends inside a quoted field (its last record is cut).
 */
type Batch = { records: string[][]; bad: ReadonlySet<number>; last: boolean; unterminated: boolean };

function gzipProblem(): BillProblem {
  return problem("truncated", "The gzip stream ends early or is damaged: the file was cut short or is not whole.");
}

function isBlank(record: readonly string[]): boolean {
  return record.length === 1 && (record[0] ?? "").trim() === "";
}

/** The record separator, from the text up to the first line break (null: none seen yet). */
function newlineOf(text: string, atEnd: boolean): Newline | null {
  const lf = text.indexOf("\n");
  const cr = text.indexOf("\r");
  if (lf < 0 && cr < 0) return atEnd ? "\n" : null;
  if (cr >= 0 && (lf < 0 || cr < lf)) return cr + 1 === lf ? "\r\n" : cr + 1 < text.length || atEnd ? "\r" : null;
  return "\n";
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
  const bytes = (gzipped ? gunzipOnDemand(counted) : counted).getReader();
  const readProblem = (): BillProblem =>
    gzipped ? gzipProblem() : problem("truncated", "The file could not be read to its end.");

  /** The next chunk of the file, or null when reading it failed (cut or damaged). */
  const readChunk = async (): Promise<ReadableStreamReadResult<Uint8Array> | null> => {
    try {
      return await bytes.read();
    } catch {
      return null;
    }
  };

  // The first bytes: plainly not a bill?
  const start: Uint8Array[] = [];
  let startLength = 0;
  let startDone = false;
  while (startLength < SNIFF_BYTES) {
    const chunk = await readChunk();
    if (chunk === null) return readProblem();
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

  const decoder = new TextDecoder();
  let pendingBytes: Uint8Array | null = head.byteLength > 0 ? head : null;
  let pendingDone = startDone;
  let leftover = "";
  let newline: Newline | null = null;
  let finished = false;

  /** The next chunk's whole records, or a problem; null once the file has ended. */
  const nextBatch = async (): Promise<Batch | BillProblem | null> => {
    for (;;) {
      if (finished) return null;
      let text: string;
      let last: boolean;
      if (pendingBytes === null) {
        const chunk = await readChunk();
        if (chunk === null) return readProblem();
        if (chunk.done) {
          pendingDone = true;
        } else {
          pendingBytes = chunk.value;
        }
      }
      if (pendingBytes !== null) {
        // At most PARSE_SLICE bytes at a time, whatever size the stream's chunks have.
        const slice = pendingBytes.subarray(0, PARSE_SLICE);
        pendingBytes = pendingBytes.byteLength > PARSE_SLICE ? pendingBytes.subarray(PARSE_SLICE) : null;
        last = pendingBytes === null && pendingDone;
        text = leftover + decoder.decode(slice, { stream: !last });
      } else {
        last = true;
        text = leftover + decoder.decode();
      }
      finished = last;
      newline ??= newlineOf(text, last);
      if (newline === null) {
        leftover = text;
        if (leftover.length > MAX_RECORD_CHARS)
          return problem("record_too_large", `The header is over ${MAX_RECORD_CHARS} characters.`, 0);
        continue;
      }
      const parsed = new Papa.Parser({ delimiter: ",", newline, quoteChar: '"' }).parse(text, 0, !last);
      leftover = last ? "" : text.slice(parsed.meta.cursor);
      const bad = new Set<number>();
      let missingQuote = false;
      for (const error of parsed.errors) {
        if (error.code === "MissingQuotes") missingQuote = true;
        else if (error.row !== undefined) bad.add(error.row);
      }
      if (leftover.length > MAX_RECORD_CHARS) {
        return problem("record_too_large", `A row is over ${MAX_RECORD_CHARS} characters (a stray quote?).`);
      }
      return { records: parsed.data, bad, last, unterminated: missingQuote };
    }
  };

  // The header: the first non-blank record.
  let batch: Batch | null = null;
  let index = 0;
  let header: string[] | null = null;
  while (header === null) {
    const next = await nextBatch();
    if (next === null) return problem("empty", "The file has no header and no rows.");
    if ("code" in next) return next;
    if (next.unterminated && next.records.length <= 1)
      return problem("truncated", "The header ends inside a quoted field: the file was cut short.", 0);
    batch = next;
    index = 0;
    while (index < next.records.length && header === null) {
      const record = next.records[index] as string[];
      index += 1;
      if (!isBlank(record)) header = record;
    }
  }
  const columns = header;

  type Pending = { record: string[]; row: number; malformed: boolean; unterminated: boolean };

  /** A record's event; only the file's last record can show that the file was cut. */
  const settle = (pending: Pending, isLast: boolean): RowEvent => {
    const { record, row } = pending;
    const width = columns.length;
    if (pending.unterminated) {
      const message = `Row ${row} ends inside a quoted field at the end of the file: the file was cut short.`;
      return { kind: "error", problem: problem("truncated", message, row, null) };
    }
    if (pending.malformed) {
      return { kind: "bad", problem: problem("bad_row", `Row ${row} has a malformed quoted field.`, row, null) };
    }
    if (record.length === width) return { kind: "row", row, cells: record };
    if (isLast && record.length < width) {
      const message = `The last row (${row}) has ${record.length} of ${width} fields: the file was cut short.`;
      return { kind: "error", problem: problem("truncated", message, row, null) };
    }
    const message = `Row ${row} has ${record.length} fields; the header has ${width}.`;
    return { kind: "bad", problem: problem("bad_row", message, row, null) };
  };

  async function* rows(): AsyncGenerator<RowEvent> {
    let row = 0;
    // Each record waits for the next one: only then is it known not to be the file's last.
    let pending: Pending | null = null;
    let current = batch;
    let at = index;
    while (current !== null) {
      const records = current.records;
      for (; at < records.length; at++) {
        const record = records[at] as string[];
        if (isBlank(record)) continue;
        row += 1;
        if (pending !== null) yield settle(pending, false);
        pending = {
          record,
          row,
          malformed: current.bad.has(at),
          unterminated: current.unterminated && at === records.length - 1,
        };
      }
      if (current.last) break;
      const next = await nextBatch();
      if (next !== null && "code" in next) {
        yield { kind: "error", problem: { ...next, row: next.row ?? row + 1 } };
        return;
      }
      current = next;
      at = 0;
    }
    if (pending !== null) yield settle(pending, true);
  }

  return { header: columns, rows, bytesRead: () => consumed };
}
