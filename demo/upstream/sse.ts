// Real streams: frames are produced lazily, one per read (a ReadableStream with a pull source),
// optionally delayed, cut off with an error, or cancelled by a client that went away.

import type { DemoRequestRecord } from "./request-log.ts";

export interface Frame {
  /** SSE `event:` line (Anthropic, OpenAI Responses); omitted for `data:`-only streams. */
  event?: string;
  /** JSON payload, or a raw string such as "[DONE]". */
  data: object | string;
  /** `delta` frames carry output; `final` frames end the response (never sent when cut). */
  kind: "meta" | "delta" | "final";
  /** Output pieces (words, fragments) this frame delivers. */
  pieces?: number;
  /** Usage object this frame reports; the log keeps the last one sent. */
  usage?: object;
}

/** `sse`: `\n\n`-terminated events; `sse-crlf`: Google's `\r\n\r\n`; `json-array`: Gemini without alt=sse. */
export type Framing = "sse" | "sse-crlf" | "json-array";

export interface StreamControls {
  record: DemoRequestRecord;
  framing: Framing;
  /** Delay before each frame, in ms. */
  delayMs: number;
  /** Scenario `cut`: after 3 delta frames, or before the first final frame, error the stream. */
  cut: boolean;
  /** Scenario `bad_json`: the first delta frame carries malformed JSON. */
  corrupt: boolean;
}

/** Delivered deltas before a `cut` stream is aborted. */
export const CUT_AFTER_DELTAS = 3;
/** Pause before aborting, so the frames before the cut are flushed to the socket first. */
export const CUT_FLUSH_MS = 25;

/** The error a `cut` response body fails with. */
export class UpstreamCutError extends Error {
  constructor() {
    super("demo upstream: connection cut (scenario cut)");
    this.name = "UpstreamCutError";
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const encoder = new TextEncoder();

function payload(frame: Frame, corrupt: boolean): string {
  const json = typeof frame.data === "string" ? frame.data : JSON.stringify(frame.data);
  return corrupt ? `${json.slice(0, Math.ceil(json.length / 2))}<<demo: malformed json` : json;
}

function render(frame: Frame, framing: Framing, index: number, corrupt: boolean): string {
  const data = payload(frame, corrupt);
  if (framing === "json-array") return `${index === 0 ? "[" : ",\r\n"}${data}`;
  const event = frame.event === undefined ? "" : `event: ${frame.event}\n`;
  return `${event}data: ${data}${framing === "sse-crlf" ? "\r\n\r\n" : "\n\n"}`;
}

/**
 * A byte stream of `frames`, produced one frame per pull. The record tracks what was delivered:
 * `outputChunks`, the last `usage`, and `completed` (true only when the stream ended cleanly).
 */
export function frameStream(frames: Iterable<Frame>, controls: StreamControls): ReadableStream<Uint8Array> {
  const { record, framing, delayMs, cut } = controls;
  const iterator = frames[Symbol.iterator]();
  let index = 0;
  let deltas = 0;
  let corruptPending = controls.corrupt;
  let finished = false;
  const stop = (): void => {
    finished = true;
    iterator.return?.();
  };
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (finished) return;
        const next = iterator.next();
        if (next.done === true) {
          stop();
          if (framing === "json-array") controller.enqueue(encoder.encode(index === 0 ? "[]" : "]"));
          record.completed = true;
          controller.close();
          return;
        }
        const frame = next.value;
        if (cut && (deltas >= CUT_AFTER_DELTAS || frame.kind === "final")) {
          stop();
          await sleep(CUT_FLUSH_MS);
          record.completed = false;
          controller.error(new UpstreamCutError());
          return;
        }
        if (delayMs > 0) {
          await sleep(delayMs);
          if (finished) return;
        }
        const corrupt = corruptPending && frame.kind === "delta";
        if (corrupt) corruptPending = false;
        controller.enqueue(encoder.encode(render(frame, framing, index, corrupt)));
        index += 1;
        if (frame.kind === "delta") deltas += 1;
        record.outputChunks += frame.pieces ?? 0;
        if (frame.usage !== undefined) record.usage = frame.usage;
      },
      cancel() {
        stop();
        record.completed = false;
      },
    },
    { highWaterMark: 0 },
  );
}

/** A JSON body cut in half, then failing: the client sees a truncated body and a network error. */
export function cutBody(text: string): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(encoder.encode(text.slice(0, Math.floor(text.length / 2))));
          return;
        }
        await sleep(CUT_FLUSH_MS);
        controller.error(new UpstreamCutError());
      },
    },
    { highWaterMark: 0 },
  );
}

/** A malformed version of a JSON text (first half, then garbage). */
export function malformedJson(text: string): string {
  return `${text.slice(0, Math.ceil(text.length / 2))}<<demo: malformed json`;
}
