// Passes an SSE body to the client chunk by chunk (never buffered) while a meter reads each
// event on the side. Pull-based, so a client abort cancels the upstream read at once. The end
// of the body, however it comes (complete, upstream cut, client abort), calls `onEnd` once.
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

  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        // Loops until it has something to hand over: a pull that enqueues nothing is not called again.
        for (;;) {
          let result: ReadableStreamReadResult<Uint8Array>;
          try {
            result = await reader.read();
          } catch (error) {
            end("upstream_cut");
            controller.error(error);
            return;
          }
          if (result.done) {
            if (framed && carry) {
              const rest = strippedText(`${carry}\n\n`).replace(/\n\n$/, "");
              if (rest) controller.enqueue(utf8.encode(rest));
            }
            parser.reset({ consume: true });
            end("complete");
            controller.close();
            return;
          }
          if (!sawFirstByte) {
            sawFirstByte = true;
            options.onFirstByte();
          }
          if (!framed) {
            controller.enqueue(result.value);
            parser.feed(decoder.decode(result.value, { stream: true }));
            return;
          }
          const text = carry + decoder.decode(result.value, { stream: true });
          const cut = completeUpTo(text);
          carry = text.slice(cut);
          if (cut === 0) continue;
          const out = strippedText(text.slice(0, cut));
          if (credit && !(await credit.allows())) {
            // What passed was generated and is charged; the stream ends here, as the provider would.
            controller.enqueue(utf8.encode(out + meter.finish(credit.usage())));
            end("budget_cut");
            controller.close();
            await reader.cancel("budget exhausted");
            return;
          }
          if (!out) continue;
          controller.enqueue(utf8.encode(out));
          return;
        }
      },
      async cancel(reason) {
        // SDKs may stop reading at the stream's end marker (the openai SDK at [DONE]) and cancel
        // the body before its close: that client had the whole response.
        end(meter.sawEnd() ? "complete" : "client_abort");
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
