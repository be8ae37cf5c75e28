// CUR 2.0 bills (fixtures in test/fixtures/cloud/cur2.ts) as CSV, CSV.gz and Parquet: every
// BillLine field mapped as line.ts documents, the three containers giving identical lines.
import { describe, expect, it } from "vitest";
import { CUR2_COLUMNS, CUR2_ROWS, toCsv, toParquet, type Cur2Row } from "../../fixtures/cloud/cur2.ts";
import { bytesSource, openBill, type BillSource } from "../../../workers/cloud/parse/index.ts";
import { gzip, readOpened, totals, utf8 } from "./collect.ts";

/** A source whose stream hands out `size`-byte chunks (R2 bodies arrive in pieces). */
function chunked(bytes: Uint8Array, size: number): BillSource {
  return {
    ...bytesSource(bytes),
    stream: async () => {
      let at = 0;
      return new ReadableStream<Uint8Array>({
        pull(controller) {
          if (at >= bytes.byteLength) controller.close();
          else controller.enqueue(bytes.slice(at, (at += size)));
        },
      });
    },
  };
}

describe("CUR 2.0", () => {
  it("reads every line of the CSV with its fields", async () => {
    const read = await readOpened(utf8(toCsv(CUR2_ROWS)));
    expect(read.bill.format).toBe("csv");
    expect(read.bill.schema).toBe("cur2");
    expect(read.error).toBeNull();
    expect(read.warnings).toEqual([]);
    expect(read.lines.map((line) => line.row)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(read.lines[0]).toEqual({
      row: 1,
      provider: "aws",
      billingPeriod: "2025-06-01",
      usageStart: Date.UTC(2025, 5, 3, 0),
      usageEnd: Date.UTC(2025, 5, 3, 1),
      account: "444455556666",
      payerAccount: "111122223333",
      region: "us-east-1",
      serviceCode: "AmazonBedrock",
      serviceName: "Amazon Bedrock",
      serviceCategory: null,
      usageType: "USE1-Claude4Sonnet-input-tokens",
      operation: "InvokeModelInference",
      lineItemType: "Usage",
      chargeClass: null,
      description: "$3.00 per million input tokens",
      instanceType: null,
      resourceId: null,
      usageAmount: "1250000",
      usageUnit: "Count",
      costNano: 3_750_000_000n,
      currency: "USD",
    });
  });

  it("keeps quoted commas, quotes and line breaks, and reads the product map when flat columns are empty", async () => {
    const { lines } = await readOpened(utf8(toCsv(CUR2_ROWS)));
    expect(lines[2]?.description).toBe('cache read, "Sonnet 4", per million');
    expect(lines[3]?.description).toBe("cache write\nsecond line, with comma");
    expect(lines[4]?.serviceName).toBe("Claude 3.5 Sonnet (Amazon Bedrock Edition)");
    expect(lines[5]?.instanceType).toBe("ml.g5.2xlarge");
    // row 7 has only the `product` map: instance type, region and name come from it
    expect([lines[6]?.instanceType, lines[6]?.region, lines[6]?.serviceName]).toEqual([
      "p5.48xlarge",
      "us-east-2",
      "Amazon Elastic Compute Cloud",
    ]);
    expect(lines.map((line) => line.lineItemType)).toEqual([
      "Usage",
      "Usage",
      "Usage",
      "Usage",
      "Usage",
      "Usage",
      "SavingsPlanCoveredUsage",
      "Usage",
      "Tax",
      "Credit",
      "Refund",
      "Usage",
    ]);
  });

  it("sums costs exactly: 10 decimals, exponents, signs, bare fractions", async () => {
    const { lines } = await readOpened(utf8(toCsv(CUR2_ROWS)));
    // python3: from decimal import Decimal as D, ROUND_HALF_UP; each cost of CUR2_ROWS as
    // int((D(x)*10**9).quantize(D(1), rounding=ROUND_HALF_UP)), summed → 103477499052
    expect(lines.map((line) => line.costNano)).toEqual([
      3750000000n,
      1470000000n,
      120000300n,
      12498750n,
      6000001n,
      1515000000n,
      98320000000n,
      503000000n,
      531000000n,
      -2500000000n,
      -250000000n,
      1n,
    ]);
    expect(totals(lines, (line) => `${line.currency} ${line.billingPeriod}`)).toEqual({
      "USD 2025-06-01": 103477499052n,
    });
  });

  it("gives the same lines from CSV, CSV.gz and the Parquet twin (one and several row groups)", async () => {
    const csv = await readOpened(utf8(toCsv(CUR2_ROWS)));
    const gz = await readOpened(await gzip(utf8(toCsv(CUR2_ROWS))));
    const parquet = await readOpened(new Uint8Array(toParquet(CUR2_ROWS, { rowGroupSize: 5 })));
    const oneGroup = await readOpened(new Uint8Array(toParquet(CUR2_ROWS, { rowGroupSize: 1000 })));
    expect(gz.bill.format).toBe("csv.gz");
    expect(parquet.bill.format).toBe("parquet");
    expect(parquet.bill.schema).toBe("cur2");
    expect(parquet.bill.columns).toEqual(CUR2_COLUMNS);
    expect(gz.lines).toEqual(csv.lines);
    expect(parquet.lines).toEqual(csv.lines);
    expect(oneGroup.lines).toEqual(csv.lines);
    expect([gz.error, parquet.error, gz.warnings.length, parquet.warnings.length]).toEqual([null, null, 0, 0]);
  });

  it("reads a Parquet DECIMAL with more digits than a double holds exactly", async () => {
    const row = { ...(CUR2_ROWS[0] as Cur2Row), line_item_unblended_cost: "12345678.9876543215" };
    const parquet = await readOpened(new Uint8Array(toParquet([row], { cost: "decimal" })));
    // 12345678.9876543215 × 10⁹ = 12345678987654321.5 → half away from zero
    expect(parquet.lines.map((line) => line.costNano)).toEqual([12_345_678_987_654_322n]);
  });

  it.each([
    ["a DOUBLE cost (exact from its shortest decimal string)", { cost: "double" }],
    ["a text cost", { cost: "string" }],
    ["`product` as a Parquet MAP", { productMap: true }],
  ] as const)("the Parquet twin with %s gives the CSV's lines", async (_name, options) => {
    const csv = await readOpened(utf8(toCsv(CUR2_ROWS)));
    const parquet = await readOpened(new Uint8Array(toParquet(CUR2_ROWS, options)));
    expect(parquet.warnings).toEqual([]);
    expect(parquet.lines).toEqual(csv.lines);
  });

  it("reads the same lines whatever the stream's chunk size (records, quotes, CRLF, UTF-8 split across chunks)", async () => {
    const rows = CUR2_ROWS.map((row, i) =>
      i === 2 ? { ...row, line_item_line_item_description: "Zürich “quoted” ✓" } : row,
    );
    const text = `\uFEFF${toCsv(rows).replaceAll("\n", "\r\n")}`;
    const whole = await readOpened(utf8(toCsv(rows)));
    expect(whole.lines[2]?.description).toBe("Zürich “quoted” ✓");
    for (const size of [1, 2, 3, 7, 64, 1000]) {
      const bill = await openBill(chunked(utf8(text), size));
      if ("code" in bill) throw new Error(bill.message);
      const lines = [];
      for await (const event of bill.read()) lines.push(event.kind === "line" ? event.line : event);
      // a line break inside a quoted field stays as written (CRLF here), the rest is equal
      expect(
        lines.map((line) =>
          "row" in line ? { ...line, description: line.description?.replaceAll("\r\n", "\n") ?? null } : line,
        ),
      ).toEqual(whole.lines);
    }
  });

  it("counts the stored bytes it consumed", async () => {
    const bytes = await gzip(utf8(toCsv(CUR2_ROWS)));
    const read = await readOpened(bytes);
    expect(read.bill.bytesRead()).toBe(bytes.byteLength);
  });
});
