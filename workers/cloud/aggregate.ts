// Classified lines summed per UTC day and per every grouping the spend API offers (cloud_lines,
// d1/SCHEMA.md): what is stored of a bill. Hourly CUR lines of one day, account, service, model…
// become one row, so a month of a large bill is thousands of rows, not millions. The map is
// bounded: past `maxGroups` the caller drains it and stores the rows; a later line of the same
// group starts a new row, and the spend query's SUM adds them up.
import { DAY_MS } from "../../shared/time.ts";
import type { CloudLineRow } from "../store/index.ts";
import type { BillLine, Classification } from "./line.ts";

type Group = Omit<CloudLineRow, "cost_nano" | "usage_micro"> & { cost: bigint; usage: bigint };

/** The billing period a line replaces on re-import: one provider's bill of one paying account for one month. */
export function periodKey(line: BillLine): string {
  return `${line.provider}|${line.payerAccount ?? ""}|${line.billingPeriod.slice(0, 7)}`;
}

export class LineAggregator {
  readonly #groups = new Map<string, Group>();
  readonly #periods: Set<string>;
  readonly #months: Set<string>;

  /** `periodKeys` and `billingPeriods`: what earlier parts of the same import saw. */
  constructor(periodKeys: readonly string[] = [], billingPeriods: readonly string[] = []) {
    this.#periods = new Set(periodKeys);
    this.#months = new Set(billingPeriods);
  }

  get size(): number {
    return this.#groups.size;
  }

  /** every period key seen, for the swap at the end */
  get periodKeys(): string[] {
    return [...this.#periods].sort();
  }

  /** every billing month seen, "YYYY-MM" */
  get billingPeriods(): string[] {
    return [...this.#months].sort();
  }

  add(line: BillLine, kind: Classification, usageMicro: bigint): void {
    const period = periodKey(line);
    this.#periods.add(period);
    this.#months.add(line.billingPeriod.slice(0, 7));
    const day = Math.floor(line.usageStart / DAY_MS) * DAY_MS;
    const row: Omit<Group, "cost" | "usage" | "line_count"> = {
      period_key: period,
      day,
      provider: line.provider,
      account: line.account ?? "",
      region: line.region ?? "",
      service: line.serviceCode ?? line.serviceName ?? "",
      category: kind.category,
      charge_type: kind.chargeType,
      model: kind.model ?? "",
      token_type: kind.tokenType ?? "",
      instance_type: line.instanceType ?? "",
      usage_unit: line.usageUnit ?? "",
      currency: line.currency,
    };
    const key = Object.values(row).join("\u0000");
    const found = this.#groups.get(key);
    if (found) {
      found.cost += line.costNano;
      found.usage += usageMicro;
      found.line_count += 1;
    } else {
      this.#groups.set(key, { ...row, cost: line.costNano, usage: usageMicro, line_count: 1 });
    }
  }

  /** The rows summed so far, emptied from the map. */
  drain(): CloudLineRow[] {
    const rows = [...this.#groups.values()].map(({ cost, usage, ...rest }) => ({
      ...rest,
      cost_nano: cost.toString(),
      usage_micro: usage.toString(),
    }));
    this.#groups.clear();
    return rows;
  }
}
