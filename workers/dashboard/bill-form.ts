// The cloud page's upload form (POST /cloud/imports, multipart/form-data, RFC 7578) read as a
// stream: the text fields before the file (the CSRF token) are read first, then the file's bytes
// are passed on as they arrive, never held whole in memory. The file must be the form's last
// part (the page's form puts it last, as browsers send fields in the form's order): its length is
// the request's Content-Length less what comes before it and the closing delimiter
// `\r\n--<boundary>--\r\n`. Its last bytes are released only once that delimiter has been seen,
// and a delimiter within its bytes errors the stream: a body that ends otherwise (cut short, another
// part after the file) stores nothing.
import { AppError } from "../../shared/errors.ts";

/** Everything before the file's bytes (the fields and the part headers) fits in this. */
const HEAD_MAX = 16 * 1024;
const FIELD_MAX = 1024;

export type BillForm = {
  fields: Record<string, string>;
  fileName: string;
  length: number;
  file: ReadableStream<Uint8Array>;
};

const utf8 = new TextEncoder();
const text = new TextDecoder();

function indexOf(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0];
  for (let i = haystack.indexOf(first ?? 0, from); i !== -1 && i + needle.length <= haystack.length;) {
    let match = true;
    for (let j = 1; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) {
        match = false;
        break;
      }
    }
    if (match) return i;
    i = haystack.indexOf(first ?? 0, i + 1);
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function boundaryOf(contentType: string): string | null {
  const match = /^multipart\/form-data\s*;.*\bboundary=(?:"([^"]{1,70})"|([^;\s]{1,70}))/i.exec(contentType);
  return match?.[1] ?? match?.[2] ?? null;
}

/** A part's name and file name from its Content-Disposition header. */
function disposition(headers: string): { name: string; fileName: string | null } | null {
  const line = headers.split("\r\n").find((l) => /^content-disposition:/i.test(l));
  if (!line) return null;
  const name = /;\s*name="([^"]*)"/i.exec(line)?.[1];
  const fileName = /;\s*filename="([^"]*)"/i.exec(line)?.[1] ?? null;
  return name === undefined ? null : { name, fileName };
}

const badForm = (message: string) => new AppError("bad_request", message);

/**
 * Reads the form up to the file part named `file`, at most `maxFile` bytes of file. The answer's
 * `file` stream yields exactly `length` bytes, or errors if the body does not end as it must.
 */
export async function readBillForm(request: Request, maxFile: number): Promise<BillForm | AppError> {
  const boundary = boundaryOf(request.headers.get("content-type") ?? "");
  if (!boundary) return new AppError("unsupported_media_type", "Send the bill with the page's upload form.");
  const declared = request.headers.get("content-length");
  if (declared === null || !/^\d{1,15}$/.test(declared) || request.body === null) {
    return badForm("The upload's length was not sent; use the page's upload form.");
  }
  const total = Number(declared);
  const tail = utf8.encode(`\r\n--${boundary}--\r\n`);
  if (total > maxFile + HEAD_MAX + tail.length) {
    return new AppError(
      "payload_too_large",
      `The form takes files up to ${maxFile / (1024 * 1024)} MiB; with JavaScript on, the page sends larger files in parts.`,
    );
  }
  const reader = request.body.getReader();
  const fail = async (error: AppError) => {
    await reader.cancel().catch(() => undefined);
    return error;
  };
  const open = utf8.encode(`--${boundary}\r\n`);
  const delimiter = utf8.encode(`\r\n--${boundary}`);
  let buffer: Uint8Array = new Uint8Array(0);
  let pos = 0;
  const fields: Record<string, string> = {};
  /** Reads until `needle` is found from `from`; its index, or -1 at the end of the body. */
  const find = async (needle: Uint8Array, from: number): Promise<number> => {
    for (;;) {
      const at = indexOf(buffer, needle, from);
      if (at !== -1) return at;
      if (buffer.length > HEAD_MAX) return -1;
      const { done, value } = await reader.read();
      if (done) return -1;
      buffer = concat(buffer, value);
    }
  };
  if ((await find(open, 0)) !== 0) return fail(badForm("This is not the page's upload form."));
  pos = open.length;
  for (;;) {
    const headerEnd = await find(utf8.encode("\r\n\r\n"), pos);
    if (headerEnd === -1) return fail(badForm("This is not the page's upload form."));
    const part = disposition(text.decode(buffer.subarray(pos, headerEnd)));
    const start = headerEnd + 4;
    if (part === null) return fail(badForm("This is not the page's upload form."));
    if (part.fileName !== null) {
      if (part.name !== "file") return fail(badForm("This is not the page's upload form."));
      const length = total - start - tail.length;
      if (length <= 0) return fail(badForm("Choose a bill file to upload."));
      if (length > maxFile) return fail(badForm(`The form takes files up to ${maxFile} bytes.`));
      return {
        fields,
        fileName: part.fileName,
        length,
        file: fileStream(reader, buffer.subarray(start), length, { tail, delimiter }),
      };
    }
    const end = await find(delimiter, start);
    if (end === -1 || end - start > FIELD_MAX) return fail(badForm("This is not the page's upload form."));
    fields[part.name] = text.decode(buffer.subarray(start, end));
    pos = end + delimiter.length;
    const next = await find(utf8.encode("\r\n"), pos);
    if (next !== pos) return fail(badForm("Choose a bill file to upload."));
    pos += 2;
  }
}

/** The file's `length` bytes: `first` (already read), then the rest of the body. A delimiter
 * inside them (another part after the file) errors the stream, and the last chunk is held back
 * until the body has ended with exactly `tail`. */
function fileStream(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  first: Uint8Array,
  length: number,
  marks: { tail: Uint8Array; delimiter: Uint8Array },
): ReadableStream<Uint8Array> {
  const { tail, delimiter } = marks;
  let left = length;
  let held: Uint8Array | null = null;
  let pending: Uint8Array | null = first;
  let after: Uint8Array = new Uint8Array(0);
  /** The file's last bytes seen, for a delimiter that spans two chunks. */
  let carry: Uint8Array = new Uint8Array(0);
  const hasDelimiter = (chunk: Uint8Array) => {
    const seam = concat(carry, chunk.subarray(0, delimiter.length - 1));
    const found = indexOf(seam, delimiter, 0) !== -1 || indexOf(chunk, delimiter, 0) !== -1;
    const keep = delimiter.length - 1;
    carry = chunk.length >= keep ? chunk.slice(-keep) : concat(carry, chunk).slice(-keep);
    return found;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let chunk = pending;
        pending = null;
        if (chunk === null) {
          const { done, value } = await reader.read();
          if (done) {
            const whole = after.length === tail.length && indexOf(after, tail, 0) === 0 && left === 0;
            if (!whole) {
              controller.error(new Error("the form's body did not end with its closing delimiter"));
              return;
            }
            if (held) controller.enqueue(held);
            controller.close();
            return;
          }
          chunk = value;
        }
        const mine = chunk.subarray(0, Math.min(left, chunk.length));
        left -= mine.length;
        const rest = chunk.subarray(mine.length);
        if (rest.length > 0) {
          if (after.length + rest.length > tail.length) {
            controller.error(new Error("the form's body goes on after its file"));
            await reader.cancel().catch(() => undefined);
            return;
          }
          after = concat(after, rest);
        }
        if (mine.length > 0 && hasDelimiter(mine)) {
          controller.error(new Error("the form has another part after its file"));
          await reader.cancel().catch(() => undefined);
          return;
        }
        if (mine.length > 0) {
          const out = held;
          held = mine;
          if (out) {
            controller.enqueue(out);
            return;
          }
        }
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
