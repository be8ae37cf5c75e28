// The charge type of a line, from CUR's `line_item_line_item_type` or FOCUS's `ChargeCategory` and
// `ChargeClass` (both arrive in `BillLine.lineItemType` / `chargeClass`; the two vocabularies share
// only values that mean the same: Usage, Tax, Credit).
//
// CUR: "Line item details" — https://docs.aws.amazon.com/cur/latest/userguide/table-dictionary-cur2-line-item.html
// (legacy CUR: https://docs.aws.amazon.com/cur/latest/userguide/Lineitem-columns.html), and the
// Savings Plans columns — https://docs.aws.amazon.com/cur/latest/userguide/cur-sp.html.
// FOCUS: ChargeCategory and ChargeClass — https://focus.finops.org/focus-specification/v1-2/#chargecategory
import type { BillLine, ChargeType } from "../line.ts";

/**
 * Each documented value and what it is here. `Fee` and FOCUS `Purchase` are decided per line
 * (COMMITMENT_HINT); values not listed are `other`.
 */
export const LINE_ITEM_TYPES: ReadonlyMap<string, ChargeType | "fee_or_commitment"> = new Map<
  string,
  ChargeType | "fee_or_commitment"
>([
  // CUR
  ["Usage", "usage"], // on-demand usage (also FOCUS ChargeCategory "Usage")
  ["DiscountedUsage", "usage"], // usage covered by a Reserved Instance, at its effective rate
  ["SavingsPlanCoveredUsage", "usage"], // on-demand usage covered by a Savings Plan
  ["SavingsPlanNegation", "discount"], // the negative line that offsets covered usage
  ["SavingsPlanUpfrontFee", "commitment"], // a Savings Plan's one-time upfront payment
  ["SavingsPlanRecurringFee", "commitment"], // a Savings Plan's monthly (hourly) commitment
  ["RIFee", "commitment"], // a Reserved Instance's recurring fee
  ["Fee", "fee_or_commitment"], // an upfront fee: a reservation's (commitment) or another subscription's
  ["Credit", "credit"], // credits applied (also FOCUS "Credit")
  ["Refund", "refund"], // money given back
  ["Tax", "tax"], // sales tax, VAT (also FOCUS "Tax")
  ["BundledDiscount", "discount"], // a usage-based discount bundled with other usage (free tier bundles)
  ["Discount", "discount"],
  ["EdpDiscount", "discount"], // Enterprise Discount Program
  ["PrivateRateDiscount", "discount"], // private pricing
  ["DistributorDiscount", "discount"],
  ["SppDiscount", "discount"], // Solution Provider Program
  ["RiVolumeDiscount", "discount"], // Reserved Instance volume discount
  // FOCUS ChargeCategory (Usage, Tax, Credit above)
  ["Purchase", "fee_or_commitment"], // bought upfront or recurring: a commitment, or another purchase
  ["Adjustment", "other"], // after-the-fact changes the bill does not otherwise explain
]);

/**
 * A `Fee` or `Purchase` line that names a reservation or a Savings Plan: RI fees' usage types are
 * `HeavyUsage:<type>`, Savings Plans' `ComputeSP:…`/`SageMakerSP:…`, descriptions say "Savings Plan",
 * "Reserved" or "commitment".
 */
const COMMITMENT_HINT = /heavyusage|savings ?plan|\w+SP:|reserv|commitment/i;

/** Negative `ChargeClass = "Correction"` lines give money back. */
const CORRECTION = "Correction";

export function chargeTypeOf(line: BillLine): ChargeType {
  if (line.chargeClass === CORRECTION && line.costNano < 0n) return "refund";
  const type = line.lineItemType;
  if (type === null) return "other";
  const known = LINE_ITEM_TYPES.get(type);
  if (known === undefined) return "other";
  if (known !== "fee_or_commitment") return known;
  const named =
    (line.usageType !== null && COMMITMENT_HINT.test(line.usageType)) ||
    (line.description !== null && COMMITMENT_HINT.test(line.description));
  return named ? "commitment" : "fee";
}
