// Charge types for every CUR line item type AWS documents and every FOCUS charge category.
import { describe, expect, it } from "vitest";
import { classify, LINE_ITEM_TYPES } from "../../../workers/cloud/classify/index.ts";
import type { ChargeType } from "../../../workers/cloud/line.ts";
import { billLine, curLine, focusLine } from "./bill-line.ts";

const CUR: [lineItemType: string, chargeType: ChargeType][] = [
  ["Usage", "usage"],
  ["DiscountedUsage", "usage"],
  ["SavingsPlanCoveredUsage", "usage"],
  ["SavingsPlanNegation", "discount"],
  ["SavingsPlanUpfrontFee", "commitment"],
  ["SavingsPlanRecurringFee", "commitment"],
  ["RIFee", "commitment"],
  ["Credit", "credit"],
  ["Refund", "refund"],
  ["Tax", "tax"],
  ["BundledDiscount", "discount"],
  ["Discount", "discount"],
  ["EdpDiscount", "discount"],
  ["PrivateRateDiscount", "discount"],
  ["DistributorDiscount", "discount"],
  ["SppDiscount", "discount"],
  ["RiVolumeDiscount", "discount"],
];

describe("charge type: CUR line_item_line_item_type", () => {
  it.each(CUR)("%s → %s", (lineItemType, chargeType) => {
    expect(classify(curLine("AmazonEC2", null, "USE1-BoxUsage:m5.large", { lineItemType })).chargeType).toBe(
      chargeType,
    );
  });

  it("Fee: a reservation's upfront fee is a commitment, any other fee a fee", () => {
    const reservation = curLine("AmazonEC2", null, "USE1-HeavyUsage:p4d.24xlarge", {
      lineItemType: "Fee",
      description: "Sign up charge for subscription: 123456789, planId: 2193773",
    });
    const domain = curLine("AmazonRoute53", null, "Global-Registration", {
      lineItemType: "Fee",
      description: "Registration of example.com",
    });
    expect([classify(reservation).chargeType, classify(domain).chargeType]).toEqual(["commitment", "fee"]);
  });

  it("an undocumented or missing type is other", () => {
    const lines = [
      billLine({ lineItemType: "SomethingNew" }),
      billLine({ lineItemType: null }),
      billLine({ lineItemType: "usage" }),
    ];
    expect(lines.map((line) => classify(line).chargeType)).toEqual(["other", "other", "other"]);
  });
});

describe("charge type: FOCUS ChargeCategory and ChargeClass", () => {
  const ec2 = { serviceName: "Amazon Elastic Compute Cloud", serviceCategory: "Compute" };

  it.each([
    ["Usage", "usage"],
    ["Tax", "tax"],
    ["Credit", "credit"],
    ["Adjustment", "other"],
  ] as const)("%s → %s", (lineItemType, chargeType) => {
    expect(classify(focusLine({ ...ec2, lineItemType })).chargeType).toBe(chargeType);
  });

  it("Purchase: a Savings Plan or reservation is a commitment, another purchase a fee", () => {
    const plan = focusLine({
      ...ec2,
      lineItemType: "Purchase",
      usageType: "ComputeSP:1yrNoUpfront",
      description: "1 year No Upfront Compute Savings Plan",
    });
    const reserved = focusLine({
      ...ec2,
      lineItemType: "Purchase",
      description: "Reserved Instance p4d.24xlarge upfront fee",
    });
    const support = focusLine({
      serviceName: "AWS Support (Business)",
      serviceCategory: "Management and Governance",
      lineItemType: "Purchase",
      description: "AWS Support (Business)",
    });
    expect([plan, reserved, support].map((line) => classify(line).chargeType)).toEqual([
      "commitment",
      "commitment",
      "fee",
    ]);
  });

  it("a Correction that gives money back is a refund; one that charges keeps its category", () => {
    const back = focusLine({ ...ec2, lineItemType: "Usage", chargeClass: "Correction", costNano: -2_613_700_000n });
    const charge = focusLine({ ...ec2, lineItemType: "Usage", chargeClass: "Correction", costNano: 1_000_000n });
    expect([classify(back).chargeType, classify(charge).chargeType]).toEqual(["refund", "usage"]);
  });

  it("focus_sample.csv Id 2555992: a promotional credit", () => {
    const credit = focusLine({
      ...ec2,
      lineItemType: "Credit",
      description: "AWS Open Source Promotional Credits, credit from account: 391835788720",
      costNano: -2_613_700_000n,
    });
    expect(classify(credit).chargeType).toBe("credit");
  });
});

describe("the documented table", () => {
  it("names every CUR type the tests cover, and the FOCUS categories", () => {
    const documented = [...LINE_ITEM_TYPES.keys()].sort();
    const covered = [...CUR.map(([type]) => type), "Fee", "Purchase", "Adjustment"].sort();
    expect(documented).toEqual(covered);
  });
});
