// Public bills nobody on this project shaped (../shared/external-data/README.md has their origin
// and licences: FOCUS-Sample-Data, CC BY 4.0, FinOps Open Cost and Usage Spec; focus_converters,
// MIT, FinOps Foundation). Expected figures come from Python's csv + decimal over the files, not
// from this code:
//   python3 -c "import csv; from decimal import Decimal as D, ROUND_HALF_UP; ...
//     rows = list(csv.DictReader(open(path, encoding='utf-8-sig', newline='')))
//     nano = int((D(cost) * 10**9).quantize(D(1), rounding=ROUND_HALF_UP)), summed per
//     (currency, billing period start[:10]); rows counted likewise"
import { describe, expect, it } from "vitest";
import legacyCur from "../../../../shared/external-data/focus_converters/sample-anonymous-aws-export-dataset.csv?raw";
import focusSample from "../../../../shared/external-data/focus-sample-data/focus_sample.csv?raw";
import { gzip, readOpened, totals, utf8 } from "./collect.ts";

const byPeriod = (line: { currency: string; billingPeriod: string }): string =>
  `${line.currency} ${line.billingPeriod}`;

describe("FOCUS 1.0 sample (AWS, Microsoft, Oracle)", () => {
  it("reads all 1,000 rows and sums BilledCost to the nano-unit per currency and period", async () => {
    const read = await readOpened(utf8(focusSample));
    expect([read.bill.format, read.bill.schema, read.error, read.warnings]).toEqual(["csv", "focus", null, []]);
    expect(read.lines).toHaveLength(1000);
    expect(totals(read.lines, byPeriod)).toEqual({ "USD 2024-09-01": 20280226762n, "USD 2024-10-01": 240000000n });
    const providers: Record<string, number> = {};
    for (const line of read.lines) providers[line.provider] = (providers[line.provider] ?? 0) + 1;
    expect(providers).toEqual({ aws: 942, microsoft: 51, oracle: 7 });
  });

  it("maps FOCUS columns, literal NULLs to null, and space-separated timestamps as UTC", async () => {
    const { lines } = await readOpened(utf8(focusSample));
    expect(lines[0]).toMatchObject({
      row: 1,
      provider: "aws",
      billingPeriod: "2024-09-01",
      usageStart: Date.UTC(2024, 8, 18, 22),
      usageEnd: Date.UTC(2024, 8, 18, 23),
      account: "51738928782",
      payerAccount: "1234567890123",
      region: "us-west-2",
      serviceCode: "Amazon Simple Queue Service",
      serviceName: "Amazon Simple Queue Service",
      serviceCategory: "Integration",
      usageType: null,
      operation: null,
      lineItemType: "Usage",
      chargeClass: null,
      usageAmount: "2.000000000000000",
      usageUnit: "Requests",
      costNano: 800n,
      currency: "USD",
    });
    // python3 csv: 7 rows with RegionId NULL or empty; ChargeCategory 997 Usage, 2 Adjustment, 1 Credit
    expect(lines.filter((line) => line.region === null)).toHaveLength(7);
    const categories: Record<string, number> = {};
    for (const line of lines)
      categories[line.lineItemType ?? "null"] = (categories[line.lineItemType ?? "null"] ?? 0) + 1;
    expect(categories).toEqual({ Usage: 997, Adjustment: 2, Credit: 1 });
  });
});

describe("legacy CUR sample (anonymised AWS export)", () => {
  it("reads all 1,281 rows and sums UnblendedCost exactly, from CSV and from CSV.gz", async () => {
    const csv = await readOpened(utf8(legacyCur));
    const gz = await readOpened(await gzip(utf8(legacyCur)));
    expect([csv.bill.schema, csv.error, csv.warnings]).toEqual(["cur_legacy", null, []]);
    expect(csv.lines).toHaveLength(1281);
    expect(totals(csv.lines, byPeriod)).toEqual({ "USD 2023-11-01": 1682308713n });
    expect(gz.lines).toEqual(csv.lines);
  });

  it("maps slash columns (case-sensitive product/regionCode, pricing/unit)", async () => {
    const { lines } = await readOpened(utf8(legacyCur));
    expect(lines[0]).toMatchObject({
      row: 1,
      provider: "aws",
      billingPeriod: "2023-11-01",
      usageStart: Date.UTC(2023, 10, 1),
      usageEnd: Date.UTC(2023, 11, 1),
      account: "123412340534",
      payerAccount: "123412340534",
      serviceCode: "AWSCloudTrail",
      serviceName: "AWS CloudTrail",
      lineItemType: "Tax",
      description: "Tax for product code AWSCloudTrail",
      resourceId: null,
      instanceType: null,
      costNano: 0n,
      currency: "USD",
    });
    expect(lines.some((line) => line.region !== null && line.usageUnit !== null)).toBe(true);
  });
});
