// A BillLine for classification tests: a CUR 2.0 usage line of nothing in particular, with the
// fields a case names replaced. Classification reads only the text fields and the cost's sign.
import type { BillLine } from "../../../workers/cloud/line.ts";

const BASE: BillLine = {
  row: 1,
  provider: "aws",
  billingPeriod: "2026-11-01",
  usageStart: Date.UTC(2026, 10, 3, 10),
  usageEnd: Date.UTC(2026, 10, 3, 11),
  account: "111122223333",
  payerAccount: "111122223333",
  region: "us-east-1",
  serviceCode: null,
  serviceName: null,
  serviceCategory: null,
  usageType: null,
  operation: null,
  lineItemType: "Usage",
  chargeClass: null,
  description: null,
  instanceType: null,
  resourceId: null,
  usageAmount: "1",
  usageUnit: "Hrs",
  costNano: 1_000_000_000n,
  currency: "USD",
};

export function billLine(fields: Partial<BillLine>): BillLine {
  return { ...BASE, ...fields };
}

/** A CUR line of `productCode` / `productName` with `usageType`. */
export function curLine(
  productCode: string,
  productName: string | null,
  usageType: string | null,
  fields: Partial<BillLine> = {},
): BillLine {
  return billLine({ serviceCode: productCode, serviceName: productName, usageType, ...fields });
}

/** A FOCUS line: ServiceName fills both service fields, ChargeCategory the line item type. */
export function focusLine(fields: Partial<BillLine> & { serviceName: string; serviceCategory: string }): BillLine {
  return billLine({ provider: "aws", serviceCode: fields.serviceName, lineItemType: "Usage", ...fields });
}
