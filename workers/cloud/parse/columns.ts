// Per-schema column maps: which header names feed which `BillLine` field (line.ts), which of them
// a file must have to be that schema, and the detection of the schema from a header. Legacy CUR
// names are case-sensitive (`product/regionCode`) and matched exactly, like the others.
import type { BillSchema } from "../line.ts";

/** A value read from one column of a row (before cleaning). */
export type Field =
  | "provider"
  | "billingPeriod"
  | "usageStart"
  | "usageEnd"
  | "account"
  | "payerAccount"
  | "region"
  | "serviceCode"
  | "serviceName"
  | "serviceCategory"
  | "usageType"
  | "operation"
  | "lineItemType"
  | "chargeClass"
  | "description"
  | "instanceType"
  | "resourceId"
  | "usageAmount"
  | "usageUnit"
  | "cost"
  | "currency"
  /** CUR 2.0 `product` map (JSON in CSV, a MAP in Parquet): `instance_type`, `region_code`, `product_name` */
  | "productMap"
  /** FOCUS `SkuPriceDetails` (JSON), read for an instance type */
  | "skuPriceDetails";

type SchemaSpec = {
  schema: BillSchema;
  label: string;
  /** header names per field, first present wins */
  names: Partial<Record<Field, readonly string[]>>;
  required: readonly Field[];
};

const CUR_REQUIRED: readonly Field[] = [
  "billingPeriod",
  "usageStart",
  "usageEnd",
  "serviceCode",
  "lineItemType",
  "cost",
  "currency",
];

const SPECS: readonly SchemaSpec[] = [
  {
    schema: "cur2",
    label: "AWS CUR 2.0",
    names: {
      billingPeriod: ["bill_billing_period_start_date"],
      usageStart: ["line_item_usage_start_date"],
      usageEnd: ["line_item_usage_end_date"],
      account: ["line_item_usage_account_id"],
      payerAccount: ["bill_payer_account_id"],
      region: ["product_region_code"],
      serviceCode: ["line_item_product_code"],
      serviceName: ["product_product_name"],
      usageType: ["line_item_usage_type"],
      operation: ["line_item_operation"],
      lineItemType: ["line_item_line_item_type"],
      description: ["line_item_line_item_description"],
      instanceType: ["product_instance_type"],
      resourceId: ["line_item_resource_id"],
      usageAmount: ["line_item_usage_amount"],
      usageUnit: ["pricing_unit"],
      cost: ["line_item_unblended_cost"],
      currency: ["line_item_currency_code"],
      productMap: ["product"],
    },
    required: CUR_REQUIRED,
  },
  {
    schema: "cur_legacy",
    label: "AWS legacy CUR",
    names: {
      billingPeriod: ["bill/BillingPeriodStartDate"],
      usageStart: ["lineItem/UsageStartDate"],
      usageEnd: ["lineItem/UsageEndDate"],
      account: ["lineItem/UsageAccountId"],
      payerAccount: ["bill/PayerAccountId"],
      region: ["product/regionCode"],
      serviceCode: ["lineItem/ProductCode"],
      serviceName: ["product/ProductName"],
      usageType: ["lineItem/UsageType"],
      operation: ["lineItem/Operation"],
      lineItemType: ["lineItem/LineItemType"],
      description: ["lineItem/LineItemDescription"],
      instanceType: ["product/instanceType"],
      resourceId: ["lineItem/ResourceId"],
      usageAmount: ["lineItem/UsageAmount"],
      usageUnit: ["pricing/unit"],
      cost: ["lineItem/UnblendedCost"],
      currency: ["lineItem/CurrencyCode"],
    },
    required: CUR_REQUIRED,
  },
  {
    schema: "focus",
    label: "FOCUS",
    names: {
      provider: ["ProviderName", "ServiceProviderName"],
      billingPeriod: ["BillingPeriodStart"],
      usageStart: ["ChargePeriodStart"],
      usageEnd: ["ChargePeriodEnd"],
      account: ["SubAccountId"],
      payerAccount: ["BillingAccountId"],
      region: ["RegionId"],
      serviceCode: ["ServiceName"],
      serviceName: ["ServiceName"],
      serviceCategory: ["ServiceCategory"],
      usageType: ["x_UsageType"],
      operation: ["x_Operation"],
      lineItemType: ["ChargeCategory"],
      chargeClass: ["ChargeClass"],
      description: ["ChargeDescription"],
      instanceType: ["x_InstanceType"],
      resourceId: ["ResourceId"],
      usageAmount: ["ConsumedQuantity"],
      usageUnit: ["ConsumedUnit"],
      cost: ["BilledCost"],
      currency: ["BillingCurrency"],
      skuPriceDetails: ["SkuPriceDetails"],
    },
    required: [
      "provider",
      "billingPeriod",
      "usageStart",
      "usageEnd",
      "serviceName",
      "lineItemType",
      "cost",
      "currency",
    ],
  },
];

/** Where each field sits in a row (-1: absent) and the header name it came from. */
export type ColumnMap = {
  schema: BillSchema;
  index: Record<Field, number>;
  name: Record<Field, string>;
};

export type SchemaVerdict = { kind: "known"; map: ColumnMap } | { kind: "unknown"; message: string };

const FIELDS: readonly Field[] = [
  "provider",
  "billingPeriod",
  "usageStart",
  "usageEnd",
  "account",
  "payerAccount",
  "region",
  "serviceCode",
  "serviceName",
  "serviceCategory",
  "usageType",
  "operation",
  "lineItemType",
  "chargeClass",
  "description",
  "instanceType",
  "resourceId",
  "usageAmount",
  "usageUnit",
  "cost",
  "currency",
  "productMap",
  "skuPriceDetails",
];

function resolve(spec: SchemaSpec, positions: ReadonlyMap<string, number>): ColumnMap {
  const index = {} as Record<Field, number>;
  const name = {} as Record<Field, string>;
  for (const field of FIELDS) {
    index[field] = -1;
    name[field] = "";
    for (const candidate of spec.names[field] ?? []) {
      const at = positions.get(candidate);
      if (at !== undefined) {
        index[field] = at;
        name[field] = candidate;
        break;
      }
    }
  }
  return { schema: spec.schema, index, name };
}

/** The schema whose required columns the header has; else what the closest schema lacks. */
export function detectSchema(header: readonly string[]): SchemaVerdict {
  const positions = new Map<string, number>();
  header.forEach((raw, i) => {
    const name = raw.trim();
    if (!positions.has(name)) positions.set(name, i);
  });
  let closest: { spec: SchemaSpec; missing: string[] } | null = null;
  for (const spec of SPECS) {
    const map = resolve(spec, positions);
    const missing = spec.required
      .filter((field) => map.index[field] < 0)
      .map((field) => (spec.names[field] ?? []).join(" or "));
    if (missing.length === 0) return { kind: "known", map };
    if (closest === null || missing.length < closest.missing.length) closest = { spec, missing };
  }
  const hint =
    closest === null ? "" : ` The closest is ${closest.spec.label}, which also needs: ${closest.missing.join(", ")}.`;
  return {
    kind: "unknown",
    message: `The header is not one of AWS CUR 2.0, legacy CUR or FOCUS 1.0–1.2.${hint}`,
  };
}

/** The header names a map reads, in header order (Parquet reads only these columns). */
export function usedColumns(map: ColumnMap, header: readonly string[]): string[] {
  const used = new Set(FIELDS.map((field) => map.index[field]).filter((i) => i >= 0));
  return header.filter((_, i) => used.has(i));
}
