// Gzip inflated only as fast as it is read. workerd's DecompressionStream takes its input as fast as
// a pipe offers it and keeps the inflated bytes until they are read, so a bill piped into it ends
// up in memory nearly whole (7 GB for a 1 GB CSV.gz in the cloud benchmark, docs/benchmarks.md
// "Cloud bills"). Here the next compressed chunk is written only while a read waits and nothing
// inflated is ready, so what waits is at most the output of one chunk of the file.

/** A turn of the event loop: a read of inflated bytes already there has settled by then. */
const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

export function gunzipOnDemand(input: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  const inflate = new DecompressionStream("gzip");
  const writer = inflate.writable.getWriter();
  const output = inflate.readable.getReader();
  const source = input.getReader();
  let inputDone = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = output.read();
        // Set by the read's settling (the loop below awaits, so it can change between checks).
        const read = { settled: false };
        const settled = next.then(
          () => {
            read.settled = true;
          },
          () => {
            read.settled = true;
          },
        );
        await Promise.race([settled, turn()]);
        while (!read.settled && !inputDone) {
          const chunk = await source.read();
          if (chunk.done) {
            inputDone = true;
            writer.close().catch(() => undefined);
            break;
          }
          const written = writer.write(chunk.value).catch(() => undefined);
          await Promise.race([settled, written.then(turn)]);
        }
        // A damaged or cut gzip stream rejects here, and the stream errors with it.
        const result = await next;
        if (result.done) controller.close();
        else controller.enqueue(result.value);
      },
      async cancel(reason) {
        await Promise.allSettled([source.cancel(reason), output.cancel(reason), writer.abort(reason)]);
      },
    },
    { highWaterMark: 0 },
  );
}
