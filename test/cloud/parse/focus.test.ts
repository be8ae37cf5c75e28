// FOCUS 1.2 as AWS exports it (`FOCUS_1_2_AWS`: the FOCUS columns plus `x_` ones such as
// x_UsageType, x_Operation, x_ServiceCode), with ISO timestamps and SkuPriceDetails JSON.
// Rows written here from the FOCUS 1.2 column set (focus.finops.org/focus-specification/v1-2).
import { describe, expect, it } from "vitest";
import { toParquetText } from "../../fixtures/cloud/text-parquet.ts";
import { readOpened, utf8 } from "./collect.ts";

const HEADER = [
  "BilledCost",
  "BillingAccountId",
  "BillingCurrency",
  "BillingPeriodStart",
  "BillingPeriodEnd",
  "ChargeCategory",
  "ChargeClass",
  "ChargeDescription",
  "ChargePeriodStart",
  "ChargePeriodEnd",
  "ConsumedQuantity",
  "ConsumedUnit",
  "EffectiveCost",
  "ProviderName",
  "RegionId",
  "ResourceId",
  "ServiceCategory",
  "ServiceName",
  "SkuPriceDetails",
  "SubAccountId",
  "x_Operation",
  "x_ServiceCode",
  "x_UsageType",
];

const ROWS = [
  [
    "0.0123456789",
    "111122223333",
    "USD",
    "2025-06-01T00:00:00Z",
    "2025-07-01T00:00:00Z",
    "Usage",
    "",
    "Claude Sonnet 4 input tokens",
    "2025-06-03T00:00:00.000Z",
    "2025-06-03T01:00:00.000Z",
    "4115",
    "Tokens",
    "0.0123456789",
    "AWS",
    "us-east-1",
    "",
    "AI and Machine Learning",
    "Amazon Bedrock",
    "",
    "444455556666",
    "InvokeModelInference",
    "AmazonBedrock",
    "USE1-Claude4Sonnet-input-tokens",
  ],
  [
    "98.32",
    "111122223333",
    "USD",
    "2025-06-01T00:00:00Z",
    "2025-07-01T00:00:00Z",
    "Usage",
    "",
    "p5.48xlarge On Demand",
    "2025-06-05T03:00:00Z",
    "2025-06-05T04:00:00Z",
    "1",
    "Hours",
    "98.32",
    "AWS",
    "us-east-2",
    "i-0abc1234def567890",
    "Compute",
    "Amazon Elastic Compute Cloud",
    '{"x_InstanceType": "p5.48xlarge", "CoreCount": 192}',
    "777788889999",
    "RunInstances",
    "AmazonEC2",
    "USE2-BoxUsage:p5.48xlarge",
  ],
  [
    "-1.5",
    "111122223333",
    "USD",
    "2025-06-01T00:00:00Z",
    "2025-07-01T00:00:00Z",
    "Adjustment",
    "Correction",
    "Correction of May",
    "2025-06-01T00:00:00Z",
    "2025-07-01T00:00:00Z",
    "",
    "",
    "-1.5",
    "AWS",
    "",
    "",
    "Compute",
    "Amazon Elastic Compute Cloud",
    "",
    "777788889999",
    "",
    "AmazonEC2",
    "",
  ],
];

const csv = [HEADER, ...ROWS]
  .map((row) =>
    row.map((cell) => (cell.includes(",") || cell.includes('"') ? `"${cell.replaceAll('"', '""')}"` : cell)).join(","),
  )
  .join("\n");

describe("FOCUS 1.2 (AWS)", () => {
  it("maps x_UsageType, x_Operation, ChargeClass and the instance type in SkuPriceDetails", async () => {
    const read = await readOpened(utf8(csv));
    expect([read.bill.schema, read.error, read.warnings]).toEqual(["focus", null, []]);
    expect(
      read.lines.map((line) => [line.usageType, line.operation, line.instanceType, line.chargeClass, line.costNano]),
    ).toEqual([
      ["USE1-Claude4Sonnet-input-tokens", "InvokeModelInference", null, null, 12_345_679n],
      ["USE2-BoxUsage:p5.48xlarge", "RunInstances", "p5.48xlarge", null, 98_320_000_000n],
      [null, null, null, "Correction", -1_500_000_000n],
    ]);
    expect(read.lines[0]).toMatchObject({
      provider: "aws",
      billingPeriod: "2025-06-01",
      usageStart: Date.UTC(2025, 5, 3, 0),
      usageEnd: Date.UTC(2025, 5, 3, 1),
      account: "444455556666",
      payerAccount: "111122223333",
      serviceCode: "Amazon Bedrock",
      serviceName: "Amazon Bedrock",
      serviceCategory: "AI and Machine Learning",
      usageAmount: "4115",
      usageUnit: "Tokens",
    });
  });

  it("reads the same from Parquet", async () => {
    const csvRead = await readOpened(utf8(csv));
    const parquet = await readOpened(new Uint8Array(toParquetText(HEADER, ROWS)));
    expect(parquet.bill.format).toBe("parquet");
    expect(parquet.lines).toEqual(csvRead.lines);
  });
});
