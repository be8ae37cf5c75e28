// meteredBody in strip mode: whatever the chunk boundaries (even inside a multi-byte character
// or inside the usage event), the client gets every event but the usage chunk, byte for byte,
// and the meter reads the usage.
import { describe, expect, it } from "vitest";
import { meteredBody, type BodyEnd } from "../../workers/gateway/metered-stream.ts";
import { openaiStreamMeter } from "../../workers/gateway/providers/openai/meter.ts";

const chunk = (content: string) =>
  `data: {"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"${content}"},"finish_reason":null}],"usage":null}`;
const usageChunk =
  'data: {"id":"c1","object":"chat.completion.chunk","choices":[],"usage":{"prompt_tokens":7,"completion_tokens":3,"total_tokens":10}}';

function streamOf(text: string, sizes: number[]): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (let i = 0; at < bytes.length; i++) {
    const size = sizes[i % sizes.length] ?? 1;
    parts.push(bytes.slice(at, at + size));
    at += size;
  }
  return new ReadableStream({
    pull(controller) {
      const next = parts.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
}

async function run(text: string, sizes: number[]) {
  const meter = openaiStreamMeter("chat.completions", true);
  let ended: BodyEnd | null = null;
  const body = meteredBody(streamOf(text, sizes), {
    meter,
    strip: true,
    onFirstByte: () => undefined,
    onEnd: (how) => {
      ended = how;
    },
  });
  const out = await new Response(body).text();
  return { out, usage: meter.usage(), ended };
}

describe("meteredBody strip mode", () => {
  for (const sep of ["\n\n", "\r\n\r\n"]) {
    const events = [chunk("Héllo"), chunk(" wörld ✓"), usageChunk, "data: [DONE]"];
    const upstream = events.join(sep) + sep;
    const expected = [events[0], events[1], events[3]].join(sep) + sep;
    for (const sizes of [[1], [3, 7], [64], [upstream.length]]) {
      it(`drops only the usage chunk (${JSON.stringify(sep)}, chunks of ${sizes.join("/")})`, async () => {
        const { out, usage, ended } = await run(upstream, sizes);
        expect(out).toBe(expected);
        expect(usage).toMatchObject({ inputTokens: 7, outputTokens: 3 });
        expect(ended).toBe("complete");
      });
    }
  }

  it("hands over a last event that has no blank line after it", async () => {
    const { out, usage } = await run(`${chunk("a")}\n\n${usageChunk}\n\ndata: [DONE]`, [5]);
    expect(out).toBe(`${chunk("a")}\n\ndata: [DONE]`);
    expect(usage).toMatchObject({ outputTokens: 3 });
  });
});
