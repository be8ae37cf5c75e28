// Passes an SSE body to the client chunk by chunk (never buffered) while a meter reads each
// event on the side: a pump copies the upstream into a native IdentityTransformStream, each write
// waiting for the client, so a client abort fails the next write and cancels the upstream read.
// The end of the body, however it comes (complete, upstream cut, client abort), calls `onEnd` once.
// With `strip` or `credit`, text is handed over up to the last complete event, so that an event
// the meter drops (the usage chunk the proxy asked for on the client's behalf) can be cut out
// of it, and so that a stream whose budget ran out can end between two events.
import { createParser } from "eventsource-parser";
import { utf8 } from "../../shared/encoding.ts";
import type { StreamMeter } from "./providers/types.ts";
import type { CreditMeter } from "./stream-credit.ts";

export type BodyEnd = "complete" | "upstream_cut" | "client_abort" | "budget_cut";

export type MeteredBodyOptions = {
  meter: StreamMeter;
  strip: boolean;
  /** A stream drawn down as it runs: when it may not go on, it ends with the meter's final events. */
  credit?: CreditMeter | null;
  onFirstByte: () => void;
  onEnd: (end: BodyEnd) => void;
  /** Keeps the request alive until the copy has ended (the call's `waitUntil`): a client that
   * goes away must still end the call (usage recorded, hold settled). */
  keepAlive: (copy: Promise<void>) => void;
};

const EVENT_END = /\r\n\r\n|\n\n|\r\r/g;

/** Index just past the last blank line (the end of the last complete event), or 0. */
function completeUpTo(text: string): number {
  let end = 0;
  for (const match of text.matchAll(EVENT_END)) end = match.index + match[0].length;
  return end;
}

/** Removes the events whose data is one of `dropped` from text made of complete events. */
function withoutEvents(text: string, dropped: string[]): string {
  const parts = text.split(/(\r\n\r\n|\n\n|\r\r)/);
  let out = "";
  for (let i = 0; i < parts.length; i += 2) {
    const block = parts[i] ?? "";
    if (!dropped.some((data) => block.includes(data))) out += block + (parts[i + 1] ?? "");
  }
  return out;
}

export function meteredBody(
  upstream: ReadableStream<Uint8Array>,
  options: MeteredBodyOptions,
): ReadableStream<Uint8Array> {
  const { meter, strip } = options;
  const credit = options.credit ?? null;
  // Whole events only: to cut events out (strip) or to end the stream between two (credit).
  const framed = strip || credit !== null;
  const reader = upstream.getReader();
  // The client reads a native stream: a JavaScript-backed one in the response costs far more per
  // chunk than everything the meter does (docs/benchmarks.md, "Where streaming's time goes").
  // A write resolves once the client has taken the chunk, so nothing is read ahead of it.
  const pipe = new IdentityTransformStream();
  const writer = pipe.writable.getWriter();
  const decoder = new TextDecoder();
  let ended = false;
  let sawFirstByte = false;
  let carry = "";
  let dropped: string[] = [];

  const end = (how: BodyEnd) => {
    if (ended) return;
    ended = true;
    options.onEnd(how);
  };

  const parser = createParser({
    onEvent(message) {
      if (!meter.onEvent(message.event, message.data) && strip) dropped.push(message.data);
    },
  });

  /** Text to hand over once `text` (complete events only) went through the parser. */
  const strippedText = (text: string): string => {
    parser.feed(text);
    if (dropped.length === 0) return text;
    const kept = withoutEvents(text, dropped);
    dropped = [];
    return kept;
  };

  /** Copies the upstream to the client, event by event, until either side ends. */
  const pump = async (): Promise<void> => {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        end("upstream_cut");
        await writer.abort(error);
        return;
      }
      if (result.done) {
        if (framed && carry) {
          const rest = strippedText(`${carry}\n\n`).replace(/\n\n$/, "");
          if (rest) await writer.write(utf8.encode(rest));
        }
        parser.reset({ consume: true });
        end("complete");
        await writer.close();
        return;
      }
      if (!sawFirstByte) {
        sawFirstByte = true;
        options.onFirstByte();
      }
      if (!framed) {
        if (result.value.byteLength > 0) await writer.write(result.value);
        parser.feed(decoder.decode(result.value, { stream: true }));
        continue;
      }
      const text = carry + decoder.decode(result.value, { stream: true });
      const cut = completeUpTo(text);
      carry = text.slice(cut);
      if (cut === 0) continue;
      const out = strippedText(text.slice(0, cut));
      if (credit && !(await credit.allows())) {
        // What passed was generated and is charged; the stream ends here, as the provider would.
        const last = utf8.encode(out + meter.finish(credit.usage()));
        end("budget_cut");
        await reader.cancel("budget exhausted");
        await writer.write(last);
        await writer.close();
        return;
      }
      if (out) await writer.write(utf8.encode(out));
    }
  };

  const copy = pump().catch(async (error: unknown) => {
    // The client went away (a write to its side failed). SDKs may stop reading at the stream's
    // end marker (the openai SDK at [DONE]) and cancel the body before its close: that client had
    // the whole response.
    end(meter.sawEnd() ? "complete" : "client_abort");
    await reader.cancel(error).catch(() => undefined);
  });
  options.keepAlive(copy);
  return pipe.readable;
}
