// The shapes the cloud-bill intake passes between its parts (docs/cloud.md): a bill line as read
// from any supported schema (parse/), and what classification makes of it (classify/). Both parts
// and the import that joins them depend on this file only, not on each other.

/** The file's container, detected from its first bytes (gzip magic, `PAR1`), never asked. */
export type BillFormat = "csv" | "csv.gz" | "parquet";

/**
 * The column set, detected from the header: AWS CUR 2.0 (Data Exports, snake_case such as
 * `line_item_product_code`), legacy CUR (`lineItem/ProductCode`), FOCUS 1.0–1.2 (`BilledCost`,
 * `ChargeCategory`, …; AWS's `FOCUS_1_2_AWS` and other providers' exports).
 */
export type BillSchema = "cur2" | "cur_legacy" | "focus";

/**
 * One line of a bill, the same shape whatever the schema. Text fields hold the file's value
 * trimmed, or null when the cell is empty or the literal `NULL`. Nothing else of the file is
 * kept (no tags, no resource names, no descriptions beyond `description`).
 */
export type BillLine = {
  /** 1-based data row in the file (the header is row 0); for Parquet, the row's index + 1 */
  row: number;
  /** lower-case provider: "aws" for CUR; FOCUS `ProviderName` lower-cased ("aws", "microsoft", …) */
  provider: string;
  /** the billing period's first day, "YYYY-MM-DD" (CUR `bill_billing_period_start_date`, FOCUS `BillingPeriodStart`) */
  billingPeriod: string;
  /** the charge period, epoch ms UTC (CUR `line_item_usage_start_date`/`_end_date`, FOCUS `ChargePeriodStart`/`End`) */
  usageStart: number;
  usageEnd: number;
  /** the account that used it (CUR `line_item_usage_account_id`, FOCUS `SubAccountId`) */
  account: string | null;
  /** the paying account (CUR `bill_payer_account_id`, FOCUS `BillingAccountId`) */
  payerAccount: string | null;
  /** CUR `product_region_code` (legacy `product/regionCode`), FOCUS `RegionId` */
  region: string | null;
  /** CUR `line_item_product_code` ("AmazonBedrock", "AWS Marketplace"…); FOCUS `ServiceName` */
  serviceCode: string | null;
  /** CUR `product_product_name` ("Claude 3.5 Sonnet (Amazon Bedrock Edition)"); FOCUS `ServiceName` */
  serviceName: string | null;
  /** FOCUS `ServiceCategory` ("AI and Machine Learning", "Compute", …); null in CUR */
  serviceCategory: string | null;
  /** CUR `line_item_usage_type` ("USE1-Claude4Sonnet-input-tokens"); FOCUS AWS `x_UsageType`, else null */
  usageType: string | null;
  /** CUR `line_item_operation`; FOCUS AWS `x_Operation`, else null */
  operation: string | null;
  /** CUR `line_item_line_item_type` ("Usage", "Tax", "Credit", "Refund", "SavingsPlanCoveredUsage", …); FOCUS `ChargeCategory` ("Usage", "Purchase", "Tax", "Credit", "Adjustment") */
  lineItemType: string | null;
  /** FOCUS `ChargeClass` ("Correction" or null); null in CUR */
  chargeClass: string | null;
  /** CUR `line_item_line_item_description`; FOCUS `ChargeDescription` */
  description: string | null;
  /** CUR `product_instance_type` ("p5.48xlarge", "ml.g5.2xlarge"); FOCUS: the instance type named in `SkuPriceDetails`/`x_…` when present, else null */
  instanceType: string | null;
  /** CUR `line_item_resource_id`; FOCUS `ResourceId` */
  resourceId: string | null;
  /** the used quantity as written (a decimal string): CUR `line_item_usage_amount`, FOCUS `ConsumedQuantity` */
  usageAmount: string | null;
  /** CUR `pricing_unit`; FOCUS `ConsumedUnit` */
  usageUnit: string | null;
  /** exact cost in nano-units (10⁻⁹) of `currency`, rounded half away from zero at the 9th decimal: CUR `line_item_unblended_cost`, FOCUS `BilledCost` (what the invoice says) */
  costNano: bigint;
  /** ISO 4217 code: CUR `line_item_currency_code`, FOCUS `BillingCurrency` */
  currency: string;
};

export const CATEGORIES = ["bedrock", "sagemaker", "gpu_compute", "other_ai", "non_ai"] as const;
export type Category = (typeof CATEGORIES)[number];

export const CHARGE_TYPES = ["usage", "tax", "credit", "refund", "discount", "fee", "commitment", "other"] as const;
export type ChargeType = (typeof CHARGE_TYPES)[number];

export const TOKEN_TYPES = ["input", "output", "cache_read", "cache_write", "other"] as const;
export type TokenType = (typeof TOKEN_TYPES)[number];

/** What classification says of one line. */
export type Classification = {
  category: Category;
  chargeType: ChargeType;
  /** the model for Bedrock lines (e.g. "Claude4Sonnet" as the usage type spells it), else null */
  model: string | null;
  tokenType: TokenType | null;
  /** the id of the rule that decided the category (a row of the rules table), for reports */
  rule: string;
  /** true when the line looks like AI spend but no rule knew it (it is reported, counted as other_ai) */
  unknownAi: boolean;
};
