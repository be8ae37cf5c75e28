// A demo AWS bill for the self-trial (npm start): a CUR 2.0 month so far, as AWS Data Exports
// writes it (a subset of its columns), for two accounts — Amazon Bedrock tokens (Claude and
// Llama), a SageMaker GPU endpoint, EC2 GPU and Graviton instances, S3, tax and a credit — so
// the dashboard's Cloud AI spend page has something to show. Made-up ids and amounts; the prices
// are round figures, not AWS's list prices.

const COLUMNS = [
  "bill_payer_account_id",
  "bill_billing_period_start_date",
  "bill_billing_period_end_date",
  "line_item_usage_account_id",
  "line_item_line_item_type",
  "line_item_usage_start_date",
  "line_item_usage_end_date",
  "line_item_product_code",
  "line_item_usage_type",
  "line_item_operation",
  "line_item_usage_amount",
  "line_item_currency_code",
  "line_item_unblended_cost",
  "line_item_line_item_description",
  "product_product_name",
  "product_instance_type",
  "product_region_code",
  "pricing_unit",
] as const;

type Column = (typeof COLUMNS)[number];
type Row = Partial<Record<Column, string>>;

const PAYER = "210987654321";
const ML_ACCOUNT = "345678901234";
const APP_ACCOUNT = "456789012345";

/** micro-dollars to a decimal string with six places (exact: integers only). */
function usd(micros: number): string {
  const sign = micros < 0 ? "-" : "";
  const abs = Math.abs(micros);
  return `${sign}${Math.floor(abs / 1_000_000)}.${String(abs % 1_000_000).padStart(6, "0")}`;
}

function field(value: string | undefined): string {
  if (value === undefined) return "";
  return /[",\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** The month of `now` up to and including its day, one line per item and day. */
export function demoCur2Csv(now: Date): string {
  const year = now.getUTCFullYear();
  const month = now.getUTCMonth();
  const start = new Date(Date.UTC(year, month, 1)).toISOString();
  const end = new Date(Date.UTC(year, month + 1, 1)).toISOString();
  const rows: Row[] = [];
  const period = {
    bill_payer_account_id: PAYER,
    bill_billing_period_start_date: start,
    bill_billing_period_end_date: end,
  };
  for (let day = 1; day <= now.getUTCDate(); day++) {
    const from = new Date(Date.UTC(year, month, day)).toISOString();
    const to = new Date(Date.UTC(year, month, day + 1)).toISOString();
    const base = {
      ...period,
      line_item_line_item_type: "Usage",
      line_item_usage_start_date: from,
      line_item_usage_end_date: to,
      line_item_currency_code: "USD",
    };
    const wave = 1 + (day % 5); // a little movement from day to day
    const bedrock = (usageType: string, tokens: number, microsPerMillion: number, region: string): Row => ({
      ...base,
      line_item_usage_account_id: ML_ACCOUNT,
      line_item_product_code: "AmazonBedrock",
      line_item_usage_type: usageType,
      line_item_operation: "InvokeModelInference",
      line_item_usage_amount: String(tokens),
      line_item_unblended_cost: usd(Math.round((tokens * microsPerMillion) / 1_000_000)),
      product_product_name: "Amazon Bedrock",
      product_region_code: region,
      pricing_unit: "Count",
    });
    rows.push(
      bedrock("USE1-Claude4Sonnet-input-tokens", 400_000 * wave, 3_000_000, "us-east-1"),
      bedrock("USE1-Claude4Sonnet-output-tokens", 40_000 * wave, 15_000_000, "us-east-1"),
      bedrock("USE1-Claude4Sonnet-cache-read-input-token-count", 900_000 * wave, 300_000, "us-east-1"),
      bedrock("USW2-Llama3-2-11B-input-tokens", 1_000_000 * wave, 160_000, "us-west-2"),
      {
        ...base,
        line_item_usage_account_id: ML_ACCOUNT,
        line_item_product_code: "AmazonSageMaker",
        line_item_usage_type: "USE1-Host:ml.g5.2xlarge",
        line_item_operation: "RunInstance",
        line_item_usage_amount: "24",
        line_item_unblended_cost: usd(24 * 1_515_000),
        product_product_name: "Amazon SageMaker",
        product_instance_type: "ml.g5.2xlarge",
        product_region_code: "us-east-1",
        pricing_unit: "Hrs",
      },
      {
        ...base,
        line_item_usage_account_id: ML_ACCOUNT,
        line_item_product_code: "AmazonEC2",
        line_item_usage_type: "USE1-BoxUsage:g5.xlarge",
        line_item_operation: "RunInstances",
        line_item_usage_amount: String(2 * wave),
        line_item_unblended_cost: usd(2 * wave * 1_006_000),
        product_product_name: "Amazon Elastic Compute Cloud",
        product_instance_type: "g5.xlarge",
        product_region_code: "us-east-1",
        pricing_unit: "Hrs",
      },
      {
        ...base,
        line_item_usage_account_id: APP_ACCOUNT,
        line_item_product_code: "AmazonEC2",
        line_item_usage_type: "USE1-BoxUsage:m7g.large",
        line_item_operation: "RunInstances",
        line_item_usage_amount: "48",
        line_item_unblended_cost: usd(48 * 81_600),
        product_product_name: "Amazon Elastic Compute Cloud",
        product_instance_type: "m7g.large",
        product_region_code: "us-east-1",
        pricing_unit: "Hrs",
      },
      {
        ...base,
        line_item_usage_account_id: APP_ACCOUNT,
        line_item_product_code: "AmazonS3",
        line_item_usage_type: "USE1-TimedStorage-ByteHrs",
        line_item_operation: "StandardStorage",
        line_item_usage_amount: "1200",
        line_item_unblended_cost: usd(1200 * 767),
        product_product_name: "Amazon Simple Storage Service",
        product_region_code: "us-east-1",
        pricing_unit: "GB-Mo",
      },
    );
  }
  const first = {
    ...period,
    line_item_usage_start_date: start,
    line_item_usage_end_date: start,
    line_item_currency_code: "USD",
  };
  rows.push(
    {
      ...first,
      line_item_usage_account_id: ML_ACCOUNT,
      line_item_line_item_type: "Credit",
      line_item_product_code: "AmazonBedrock",
      line_item_unblended_cost: usd(-5_000_000),
      line_item_line_item_description: "AWS Activate credit",
    },
    {
      ...first,
      line_item_usage_account_id: ML_ACCOUNT,
      line_item_line_item_type: "Tax",
      line_item_product_code: "AmazonBedrock",
      line_item_unblended_cost: usd(420_000),
      line_item_line_item_description: "Tax for product code AmazonBedrock",
    },
  );
  const lines = [COLUMNS.join(",")];
  for (const row of rows) lines.push(COLUMNS.map((c) => field(row[c])).join(","));
  return `${lines.join("\n")}\n`;
}
