// Bills read from R2 (Miniflare's real R2) through r2Source: ranged reads for Parquet, and for
// CSV.gz a stream of ranged reads, as the import reads them; the same lines as from bytes in memory.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openBill, r2Source, type BillEvent } from "../../../workers/cloud/parse/index.ts";
import { CUR2_ROWS, toCsv, toParquet } from "../../fixtures/cloud/cur2.ts";
import { gzip, readOpened, utf8 } from "./collect.ts";

async function fromR2(key: string, bytes: Uint8Array): Promise<{ events: BillEvent[]; bytesRead: number }> {
  await env.CLOUD_BILLS.put(key, bytes);
  const bill = await openBill(r2Source(env.CLOUD_BILLS, key, bytes.byteLength));
  if ("code" in bill) throw new Error(bill.message);
  const events: BillEvent[] = [];
  for await (const event of bill.read()) events.push(event);
  return { events, bytesRead: bill.bytesRead() };
}

describe("r2Source", () => {
  it.each([
    ["CSV.gz", "parse-test/bill.csv.gz", async () => gzip(utf8(toCsv(CUR2_ROWS)))],
    [
      "Parquet",
      "parse-test/bill.parquet",
      async () => new Uint8Array(toParquet(CUR2_ROWS, { rowGroupSize: 5, pageSize: 128 })),
    ],
  ])("reads a %s bill stored in R2 like the bytes themselves", async (_name, key, make) => {
    const bytes = await make();
    const expected = await readOpened(bytes);
    const { events, bytesRead } = await fromR2(key, bytes);
    expect(events).toEqual(expected.lines.map((line) => ({ kind: "line", line })));
    expect(bytesRead).toBeGreaterThan(0);
    expect(bytesRead).toBeLessThanOrEqual(bytes.byteLength * 2);
  });

  it("streams a CSV.gz by ranges, one after the other, only as the reader asks", async () => {
    const bytes = await gzip(utf8(toCsv(CUR2_ROWS)));
    await env.CLOUD_BILLS.put("parse-test/ranged.csv.gz", bytes);
    const ranges: { offset: number; length: number }[] = [];
    // The real bucket, with its gets noted (what r2Source asks R2 for).
    const noted = {
      get: (key: string, options?: R2GetOptions) => {
        const range = options?.range as { offset: number; length: number } | undefined;
        if (range) ranges.push(range);
        return env.CLOUD_BILLS.get(key, options);
      },
    } as unknown as R2Bucket;
    const bill = await openBill(r2Source(noted, "parse-test/ranged.csv.gz", bytes.byteLength, 256));
    if ("code" in bill) throw new Error(bill.message);
    const lines: BillEvent[] = [];
    for await (const event of bill.read()) lines.push(event);
    expect(lines).toEqual((await readOpened(bytes)).lines.map((line) => ({ kind: "line", line })));
    // The first read is the format's sniff of the first bytes; the stream's ranges follow it.
    expect(ranges[0]?.offset).toBe(0);
    const streamed = ranges.slice(1);
    expect(streamed.map((r) => r.offset)).toEqual(streamed.map((_, i) => i * 256));
    expect(streamed.reduce((n, r) => n + r.length, 0)).toBe(bytes.byteLength);
  });
});
