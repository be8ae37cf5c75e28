// One row's cells to a `BillLine` (line.ts), through a schema's column map (columns.ts). Cells
// are text (CSV fields, or Parquet values turned to text by parquet.ts); a row whose cost,
// currency or dates cannot be read is a `bad_row` problem naming the row and column.
import type { BillLine } from "../line.ts";
import type { ColumnMap, Field } from "./columns.ts";
import { parseNano } from "./money.ts";
import { problem, type BillProblem } from "./problem.ts";
import { parseTimestamp, utcDay } from "./time.ts";

export type Cells = readonly (string | null | undefined)[];

type ProductKeys = { instanceType: string | null; region: string | null; productName: string | null };

/** Trimmed text, or null for a missing, empty or `NULL` cell. */
function clean(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const length = value.length;
  if (length === 0) return null;
  const text = value.charCodeAt(0) <= 32 || value.charCodeAt(length - 1) <= 32 ? value.trim() : value;
  if (text.length === 0 || text === "NULL") return null;
  return text;
}

function stringKey(object: Record<string, unknown>, keys: readonly string[]): string | null {
  for (const key of keys) {
    const value = object[key];
    if (typeof value === "string") return clean(value);
  }
  return null;
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null; // a map column that is not JSON adds nothing; the row stays good
  }
}

/** Builds rows for one file: caches the last product map and timestamps (rows repeat them). */
export function rowReader(map: ColumnMap): (cells: Cells, row: number) => BillLine | BillProblem {
  const at = map.index;
  const text = (cells: Cells, field: Field): string | null => (at[field] < 0 ? null : clean(cells[at[field]]));
  const hasProductMap = at.productMap >= 0;
  let lastProductText: string | null = null;
  let lastProduct: ProductKeys = { instanceType: null, region: null, productName: null };
  const timeCache = new Map<string, number>();
  let lastPeriodMs = Number.NaN;
  let lastPeriodDay = "";

  const product = (cells: Cells): ProductKeys => {
    const raw = text(cells, "productMap");
    if (raw === lastProductText) return lastProduct;
    lastProductText = raw;
    const object = raw === null ? null : parseJsonObject(raw);
    lastProduct =
      object === null
        ? { instanceType: null, region: null, productName: null }
        : {
            instanceType: stringKey(object, ["instance_type"]),
            region: stringKey(object, ["region_code"]),
            productName: stringKey(object, ["product_name"]),
          };
    return lastProduct;
  };

  const time = (cells: Cells, field: Field, row: number): number | BillProblem => {
    const raw = text(cells, field);
    if (raw === null) return problem("bad_row", `Row ${row}: ${map.name[field]} is empty.`, row, map.name[field]);
    const cached = timeCache.get(raw);
    if (cached !== undefined) return cached;
    const ms = parseTimestamp(raw);
    if (ms === null)
      return problem("bad_row", `Row ${row}: ${map.name[field]} is not a date and time.`, row, map.name[field]);
    if (timeCache.size > 10_000) timeCache.clear();
    timeCache.set(raw, ms);
    return ms;
  };

  const instanceFromSku = (cells: Cells): string | null => {
    const raw = text(cells, "skuPriceDetails");
    if (raw === null || !raw.includes("nstance")) return null;
    const object = parseJsonObject(raw);
    return object === null
      ? null
      : stringKey(object, ["InstanceType", "x_InstanceType", "instanceType", "instance_type"]);
  };

  return function readRow(cells, row) {
    const costText = text(cells, "cost");
    const costNano = costText === null ? null : parseNano(costText);
    if (costNano === null) {
      const why = costText === null ? "is empty" : "is not a number";
      return problem("bad_row", `Row ${row}: ${map.name.cost} ${why}.`, row, map.name.cost);
    }
    const currency = text(cells, "currency");
    if (currency === null)
      return problem("bad_row", `Row ${row}: ${map.name.currency} is empty.`, row, map.name.currency);
    const period = time(cells, "billingPeriod", row);
    if (typeof period !== "number") return period;
    if (period !== lastPeriodMs) {
      lastPeriodMs = period;
      lastPeriodDay = utcDay(period);
    }
    const usageStart = time(cells, "usageStart", row);
    if (typeof usageStart !== "number") return usageStart;
    const usageEnd = time(cells, "usageEnd", row);
    if (typeof usageEnd !== "number") return usageEnd;
    let provider = "aws";
    if (at.provider >= 0) {
      const name = text(cells, "provider");
      if (name === null)
        return problem("bad_row", `Row ${row}: ${map.name.provider} is empty.`, row, map.name.provider);
      provider = name.toLowerCase();
    }
    let region = text(cells, "region");
    let serviceName = text(cells, "serviceName");
    let instanceType = text(cells, "instanceType");
    if (hasProductMap && (region === null || serviceName === null || instanceType === null)) {
      const keys = product(cells);
      region ??= keys.region;
      serviceName ??= keys.productName;
      instanceType ??= keys.instanceType;
    }
    if (instanceType === null && at.skuPriceDetails >= 0) instanceType = instanceFromSku(cells);
    return {
      row,
      provider,
      billingPeriod: lastPeriodDay,
      usageStart,
      usageEnd,
      account: text(cells, "account"),
      payerAccount: text(cells, "payerAccount"),
      region,
      serviceCode: text(cells, "serviceCode"),
      serviceName,
      serviceCategory: text(cells, "serviceCategory"),
      usageType: text(cells, "usageType"),
      operation: text(cells, "operation"),
      lineItemType: text(cells, "lineItemType"),
      chargeClass: text(cells, "chargeClass"),
      description: text(cells, "description"),
      instanceType,
      resourceId: text(cells, "resourceId"),
      usageAmount: text(cells, "usageAmount"),
      usageUnit: text(cells, "usageUnit"),
      costNano,
      currency,
    };
  };
}
