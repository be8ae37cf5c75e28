// Passes an SSE body to the client chunk by chunk (never buffered) while a meter reads each
// event on the side. Pull-based, so a client abort cancels the upstream read at once. The end
// of the body, however it comes (complete, upstream cut, client abort), calls `onEnd` once.
// With `strip`, events are forwarded one by one so that the meter can drop one (the usage chunk
// the proxy asked for on the client's behalf).
import { createParser } from "eventsource-parser";
import { utf8 } from "../../shared/encoding.ts";
import type { StreamMeter } from "./providers/types.ts";

export type BodyEnd = "complete" | "upstream_cut" | "client_abort";

export type MeteredBodyOptions = {
  meter: StreamMeter;
  strip: boolean;
  onFirstByte: () => void;
  onEnd: (end: BodyEnd) => void;
};

export function meteredBody(
  upstream: ReadableStream<Uint8Array>,
  options: MeteredBodyOptions,
): ReadableStream<Uint8Array> {
  const { meter, strip } = options;
  const reader = upstream.getReader();
  const decoder = new TextDecoder();
  let ended = false;
  let sawFirstByte = false;
  let pending: string[] = [];

  const end = (how: BodyEnd) => {
    if (ended) return;
    ended = true;
    options.onEnd(how);
  };

  const parser = createParser({
    onEvent(message) {
      const forward = meter.onEvent(message.event, message.data);
      if (strip && forward)
        pending.push(`${message.event ? `event: ${message.event}\n` : ""}data: ${message.data}\n\n`);
    },
  });

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
            parser.reset({ consume: true });
            if (pending.length > 0) controller.enqueue(utf8.encode(pending.join("")));
            end("complete");
            controller.close();
            return;
          }
          if (!sawFirstByte) {
            sawFirstByte = true;
            options.onFirstByte();
          }
          if (!strip) {
            controller.enqueue(result.value);
            parser.feed(decoder.decode(result.value, { stream: true }));
            return;
          }
          parser.feed(decoder.decode(result.value, { stream: true }));
          if (pending.length === 0) continue;
          controller.enqueue(utf8.encode(pending.join("")));
          pending = [];
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
