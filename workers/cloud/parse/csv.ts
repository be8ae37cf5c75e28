// CSV and CSV.gz bills, streamed: the stored file's stream, through node:zlib's gunzip when
// gzipped (inflating only as fast as it is read, gunzip.ts), decoded as UTF-8 (a BOM dropped) and
// split by papaparse's low-level `Parser` one slice at a time (README.md says why that parser).
// Each slice is parsed with its last, possibly cut, record held back and prepended to the next
// slice, as papaparse's own streamers do; only one slice's records are held at a time.
//
// Slices end on a UTF-8 character boundary, so between two slices the text held back is exactly
// the bytes from the next record's start: that byte offset is a place (rows.ts) to go on from.
// Going on from a place reads a plain CSV from that offset (a ranged read); a gzipped one is
// inflated again from its start and the bytes before the offset are dropped unparsed (a deflate
// stream cannot be entered in the middle).
import Papa from "papaparse/papaparse.js";
import { sniffText, SNIFF_BYTES } from "./detect.ts";
import { gunzipOnDemand } from "./gunzip.ts";
import { problem, type BillProblem } from "./problem.ts";
import type { CsvNewline, CsvPlace, RowEvent, RowSource } from "./rows.ts";
import type { BillSource } from "./source.ts";

/** One record may not exceed this many characters (a stray quote would swallow the file). */
const MAX_RECORD_CHARS = 1 << 20;
/** Bytes decoded and parsed at once, so one large stream chunk cannot yield a flood of records. */
const PARSE_SLICE = 256 * 1024;

type CsvOptions = {
  /** go on from this place (from an earlier reading of the same file) instead of the start */
  from?: CsvPlace;
  /** bytes per slice (tests make it small to have many places) */
  sliceBytes?: number;
};

/**
 * The records of one slice; `bad` holds indexes of records with malformed quotes; `unterminated`
 * when the file ends inside a quoted field (its last record is cut); `offset`: where the text held
 * back for the next slice starts, or null when that cannot be said (see `heldBackOffset`).
 */
type Batch = {
  records: string[][];
  bad: ReadonlySet<number>;
  last: boolean;
  unterminated: boolean;
  offset: number | null;
};

function gzipProblem(): BillProblem {
  return problem("truncated", "The gzip stream ends early or is damaged: the file was cut short or is not whole.");
}

function isBlank(record: readonly string[]): boolean {
  return record.length === 1 && (record[0] ?? "").trim() === "";
}

/** The record separator, from the text up to the first line break (null: none seen yet). */
function newlineOf(text: string, atEnd: boolean): CsvNewline | null {
  const lf = text.indexOf("\n");
  const cr = text.indexOf("\r");
  if (lf < 0 && cr < 0) return atEnd ? "\n" : null;
  if (cr >= 0 && (lf < 0 || cr < lf)) return cr + 1 === lf ? "\r\n" : cr + 1 < text.length || atEnd ? "\r" : null;
  return "\n";
}

/** How many of `bytes` end on a whole UTF-8 character: an unfinished sequence at the end is left out. */
function wholeCharacters(bytes: Uint8Array): number {
  const end = bytes.byteLength;
  let lead = end - 1;
  while (lead >= 0 && end - lead <= 3 && ((bytes[lead] ?? 0) & 0xc0) === 0x80) lead -= 1;
  if (lead < 0) return end;
  const first = bytes[lead] ?? 0;
  const length = first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
  return end - lead < length ? lead : end;
}

function joined(a: Uint8Array, b: Uint8Array): Uint8Array {
  const both = new Uint8Array(a.byteLength + b.byteLength);
  both.set(a, 0);
  both.set(b, a.byteLength);
  return both;
}

const encoder = new TextEncoder();

export async function openCsv(
  source: BillSource,
  gzipped: boolean,
  options: CsvOptions = {},
): Promise<RowSource | BillProblem> {
  const from = options.from;
  const sliceBytes = Math.max(4, options.sliceBytes ?? PARSE_SLICE);
  // A plain CSV is read from the place's offset; a gzipped one from its start (dropped below).
  const storedStart = from !== undefined && !gzipped ? from.offset : 0;
  let consumed = storedStart;
  const counted = (await source.stream(storedStart)).pipeThrough(
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

  /** Text bytes handed to the decoder so far, counted from the file's (inflated) start. */
  let decoded = storedStart;
  let pendingBytes: Uint8Array | null = null;
  let pendingDone = false;

  if (from === undefined) {
    // The first bytes: plainly not a bill?
    const start: Uint8Array[] = [];
    let startLength = 0;
    while (startLength < SNIFF_BYTES) {
      const chunk = await readChunk();
      if (chunk === null) return readProblem();
      if (chunk.done) {
        pendingDone = true;
        break;
      }
      start.push(chunk.value);
      startLength += chunk.value.byteLength;
    }
    const head = new Uint8Array(startLength);
    let at = 0;
    for (const part of start) {
      head.set(part, at);
      at += part.byteLength;
    }
    const sniffed = sniffText(head, pendingDone);
    if (sniffed !== null) {
      await bytes.cancel();
      return sniffed;
    }
    pendingBytes = head.byteLength > 0 ? head : null;
  } else if (gzipped) {
    // Inflate again up to the place, without parsing what lies before it.
    let skipped = 0;
    while (skipped < from.offset) {
      const chunk = await readChunk();
      if (chunk === null || chunk.done) return readProblem();
      const keep = from.offset - skipped;
      skipped += Math.min(keep, chunk.value.byteLength);
      if (chunk.value.byteLength > keep) pendingBytes = chunk.value.subarray(keep);
    }
    decoded = from.offset;
  }

  // Going on mid-file, a U+FEFF there is text, not a byte order mark.
  const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: from !== undefined && from.offset > 0 });
  /** The unfinished UTF-8 character at the end of the last chunk, waiting for the next chunk. */
  let carry: Uint8Array | null = null;
  let leftover = "";
  let newline: CsvNewline | null = from?.newline ?? null;
  let finished = false;

  /**
   * Where the text held back starts, in bytes. Unknown (null) when it holds U+FFFD: invalid
   * bytes decode to that character, whose UTF-8 length need not be theirs.
   */
  const heldBackOffset = (): number | null =>
    leftover.includes("\uFFFD") ? null : decoded - encoder.encode(leftover).byteLength;

  /** The next slice's whole records, or a problem; null once the file has ended. */
  const nextBatch = async (): Promise<Batch | BillProblem | null> => {
    for (;;) {
      if (finished) return null;
      if (pendingBytes === null && !pendingDone) {
        const chunk = await readChunk();
        if (chunk === null) return readProblem();
        if (chunk.done) pendingDone = true;
        else pendingBytes = carry === null ? chunk.value : joined(carry, chunk.value);
        if (!chunk.done) carry = null;
      }
      let text: string;
      let last: boolean;
      if (pendingBytes !== null) {
        // At most sliceBytes at a time, whatever size the stream's chunks have, ending on a whole
        // character unless nothing follows.
        const taken = pendingBytes.subarray(0, sliceBytes);
        const whole = wholeCharacters(taken);
        const slice = taken.subarray(0, whole);
        // An unfinished character goes on with the rest of this chunk, or (at its end) the next one.
        if (taken.byteLength < pendingBytes.byteLength) pendingBytes = pendingBytes.subarray(whole);
        else {
          if (whole < taken.byteLength) carry = taken.slice(whole);
          pendingBytes = null;
        }
        last = pendingBytes === null && pendingDone && carry === null;
        decoded += slice.byteLength;
        text = leftover + decoder.decode(slice, { stream: !last });
      } else {
        // The end: an unfinished character there decodes as U+FFFD.
        last = true;
        if (carry !== null) decoded += carry.byteLength;
        text = leftover + decoder.decode(carry ?? new Uint8Array(0));
        carry = null;
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
      return { records: parsed.data, bad, last, unterminated: missingQuote, offset: last ? null : heldBackOffset() };
    }
  };

  // The header: the first non-blank record (known already when going on from a place).
  let batch: Batch | null = null;
  let index = 0;
  let header: string[] | null = from?.header ?? null;
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
  let place: CsvPlace | null = null;

  /** A record's event. Only the file's last non-blank record can show that the file was cut. */
  const settle = (
    record: string[],
    row: number,
    malformed: boolean,
    isLast: boolean,
    unterminated: boolean,
  ): RowEvent => {
    const width = columns.length;
    if (unterminated) {
      const message = `Row ${row} ends inside a quoted field at the end of the file: the file was cut short.`;
      return { kind: "error", problem: problem("truncated", message, row, null) };
    }
    if (malformed) {
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
    let row = from?.row ?? 0;
    // A short record with only blank lines after it in its slice may be the file's last (a sign
    // of a cut) or not: it waits for the next non-blank record or the end, and while it waits
    // there is no place.
    let waiting: { record: string[]; row: number } | null = null;
    // Going on from a place, the first slice is read when the rows are.
    let current: Batch | BillProblem | null = batch ?? (await nextBatch());
    let at = index;
    while (current !== null) {
      if ("code" in current) {
        yield { kind: "error", problem: { ...current, row: current.row ?? row + 1 } };
        return;
      }
      const { records, last, offset } = current;
      const final = records.length - 1;
      let lastFilled = final;
      while (lastFilled >= at && isBlank(records[lastFilled] as string[])) lastFilled -= 1;
      for (; at <= lastFilled; at++) {
        const record = records[at] as string[];
        if (isBlank(record)) continue;
        if (waiting !== null) {
          place = null;
          yield settle(waiting.record, waiting.row, false, false, false);
          waiting = null;
        }
        row += 1;
        const malformed = current.bad.has(at);
        if (at === lastFilled && !last && !malformed && record.length < columns.length) {
          waiting = { record, row };
          continue;
        }
        const event = settle(record, row, malformed, last && at === lastFilled, current.unterminated && at === final);
        // After a slice's last record, the next one starts where the held-back text does.
        place =
          at === lastFilled && !last && offset !== null && newline !== null
            ? { kind: "csv", offset, row, header: columns, newline }
            : null;
        yield event;
      }
      place = null;
      if (last) break;
      current = await nextBatch();
      at = 0;
    }
    if (waiting !== null) yield settle(waiting.record, waiting.row, false, true, false);
  }

  return { header: columns, rows, bytesRead: () => consumed, place: () => place };
}
