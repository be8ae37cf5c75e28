// Passes an upstream body to the client chunk by chunk (never buffered) while a meter reads
// usage on the side. Pull-based, so a client abort cancels the upstream read at once. The end
// of the body, however it comes (complete, upstream cut, client abort), calls `onEnd` once.
import { createParser, type EventSourceParser } from "eventsource-parser";
import { utf8 } from "../../shared/encoding.ts";
import type { StreamMeter } from "./providers/types.ts";

export type BodyEnd = "complete" | "upstream_cut" | "client_abort";

/** JSON bodies are kept in memory (never stored) up to this size to read their usage. */
export const MAX_METERED_JSON_BYTES = 16 * 1024 * 1024;

export type MeterMode =
  | { kind: "sse"; meter: StreamMeter; strip: boolean }
  | { kind: "json"; onJson: (text: string) => void }
  | { kind: "none" };

export type MeteredBodyOptions = {
  mode: MeterMode;
  onFirstByte: () => void;
  onEnd: (end: BodyEnd) => void;
};

export function meteredBody(
  upstream: ReadableStream<Uint8Array>,
  options: MeteredBodyOptions,
): ReadableStream<Uint8Array> {
  const reader = upstream.getReader();
  const decoder = new TextDecoder();
  const { mode } = options;
  let ended = false;
  let sawFirstByte = false;
  let jsonChunks: Uint8Array[] | null = mode.kind === "json" ? [] : null;
  let jsonSize = 0;
  let pending: string[] = [];

  const end = (how: BodyEnd) => {
    if (ended) return;
    ended = true;
    if (how === "complete" && mode.kind === "json" && jsonChunks) {
      const all = new Uint8Array(jsonSize);
      let offset = 0;
      for (const chunk of jsonChunks) {
        all.set(chunk, offset);
        offset += chunk.byteLength;
      }
      jsonChunks = null;
      mode.onJson(decoder.decode(all));
    }
    options.onEnd(how);
  };

  let parser: EventSourceParser | null = null;
  if (mode.kind === "sse") {
    parser = createParser({
      onEvent(message) {
        const forward = mode.meter.onEvent(message.event, message.data);
        if (mode.strip && forward) {
          pending.push(`${message.event ? `event: ${message.event}\n` : ""}data: ${message.data}\n\n`);
        }
      },
    });
  }

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
            if (parser) parser.reset({ consume: true });
            if (pending.length > 0) controller.enqueue(utf8.encode(pending.join("")));
            end("complete");
            controller.close();
            return;
          }
          const chunk = result.value;
          if (!sawFirstByte) {
            sawFirstByte = true;
            options.onFirstByte();
          }
          if (mode.kind === "sse" && mode.strip && parser) {
            parser.feed(decoder.decode(chunk, { stream: true }));
            if (pending.length === 0) continue;
            controller.enqueue(utf8.encode(pending.join("")));
            pending = [];
            return;
          }
          controller.enqueue(chunk);
          if (parser) parser.feed(decoder.decode(chunk, { stream: true }));
          else if (jsonChunks) {
            jsonSize += chunk.byteLength;
            if (jsonSize > MAX_METERED_JSON_BYTES) jsonChunks = null;
            else jsonChunks.push(chunk);
          }
          return;
        }
      },
      async cancel(reason) {
        // SDKs may stop reading at the stream's end marker (the openai SDK at [DONE]) and cancel
        // the body before its close: that client had the whole response.
        end(mode.kind === "sse" && mode.meter.sawEnd() ? "complete" : "client_abort");
        await reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}
