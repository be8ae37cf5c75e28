// The organisation the cloud-bill benchmark's bills describe (docs/benchmarks.md, "Cloud bills"):
// 10 linked accounts under one payer, each running a fixed set of resources that write one CUR 2.0
// line per hour. The mix, by share of resources (so of lines): mostly non-AI — EC2 instances,
// EBS, S3, data transfer, RDS, Lambda, CloudWatch, DynamoDB — with Bedrock token lines (four
// models × four token types), SageMaker (hosting, training, notebooks), GPU and accelerator
// instances (p4d, p5, g5, g6, inf2, trn1) and other AI services (Textract, Comprehend, Transcribe).
// Column names and usage-type shapes are test/fixtures/cloud/cur2.ts's (AWS's documented set).
import { CUR2_COLUMNS, type Cur2Column, csvField } from "../fixtures/cloud/cur2.ts";

export const ACCOUNTS = Array.from({ length: 10 }, (_, i) => String(210_000_000_000 + i * 1_111_111).padStart(12, "0"));
export const PAYER = "209999999999";
const REGIONS = [
  { code: "us-east-1", prefix: "USE1" },
  { code: "us-west-2", prefix: "USW2" },
  { code: "eu-west-1", prefix: "EUW1" },
] as const;

/** A resource kind: its share of resources, and how one of its lines looks. */
type Kind = {
  weight: number;
  product: string;
  productName: string;
  family: string;
  unit: string;
  /** usage type without the region prefix, operation, instance type (or ""), per resource index */
  usage: (n: number) => { usageType: string; operation: string; instanceType: string };
  /** typical cost of one line, in 10⁻¹⁰ units (the bill's 10 decimals) */
  cost10: number;
  amount: number;
  /** share of the kind's instance lines covered by a Savings Plan */
  savingsPlan?: number;
};

const pick = <T>(list: readonly T[], n: number): T => list[n % list.length] as T;
const GENERAL = ["m6i.xlarge", "m6i.2xlarge", "c6i.large", "c7g.xlarge", "r6g.2xlarge", "t3.medium", "m7i.4xlarge"];
const GPU = ["p4d.24xlarge", "p5.48xlarge", "g5.xlarge", "g5.12xlarge", "g6.2xlarge", "inf2.xlarge", "trn1.32xlarge"];
const MODELS = ["Claude4Sonnet", "Claude3-5Haiku", "NovaPro", "Llama3-3-70B"];
const TOKENS = ["input-tokens", "output-tokens", "cache-read-input-token-count", "cache-write-input-token-count"];

const KINDS: readonly Kind[] = [
  {
    weight: 28,
    product: "AmazonEC2",
    productName: "Amazon Elastic Compute Cloud",
    family: "Compute Instance",
    unit: "Hrs",
    usage: (n) => {
      const type = pick(GENERAL, n);
      return { usageType: `BoxUsage:${type}`, operation: "RunInstances", instanceType: type };
    },
    cost10: 1_920_000_000,
    amount: 1,
    savingsPlan: 0.3,
  },
  {
    weight: 12,
    product: "AmazonEC2",
    productName: "Amazon Elastic Compute Cloud",
    family: "Storage",
    unit: "GB-Mo",
    usage: () => ({ usageType: "EBS:VolumeUsage.gp3", operation: "CreateVolume-Gp3", instanceType: "" }),
    cost10: 110_000_000,
    amount: 1.37,
  },
  {
    weight: 14,
    product: "AmazonS3",
    productName: "Amazon Simple Storage Service",
    family: "Storage",
    unit: "GB-Mo",
    usage: (n) =>
      n % 3 === 0
        ? { usageType: "Requests-Tier1", operation: "PutObject", instanceType: "" }
        : { usageType: "TimedStorage-ByteHrs", operation: "StandardStorage", instanceType: "" },
    cost10: 31_000_000,
    amount: 13.4,
  },
  {
    weight: 12,
    product: "AWSDataTransfer",
    productName: "AWS Data Transfer",
    family: "Data Transfer",
    unit: "GB",
    usage: (n) =>
      n % 2 === 0
        ? { usageType: "DataTransfer-Out-Bytes", operation: "RunInstances", instanceType: "" }
        : { usageType: "DataTransfer-Regional-Bytes", operation: "InterZone-In", instanceType: "" },
    cost10: 90_000_000,
    amount: 1.05,
  },
  {
    weight: 6,
    product: "AmazonRDS",
    productName: "Amazon Relational Database Service",
    family: "Database Instance",
    unit: "Hrs",
    usage: (n) => {
      const type = pick(["db.r6g.large", "db.m6g.xlarge", "db.t4g.medium"], n);
      return { usageType: `InstanceUsage:${type}`, operation: "CreateDBInstance:0014", instanceType: type };
    },
    cost10: 2_400_000_000,
    amount: 1,
  },
  {
    weight: 5,
    product: "AWSLambda",
    productName: "AWS Lambda",
    family: "Serverless",
    unit: "Lambda-GB-Second",
    usage: () => ({ usageType: "Lambda-GB-Second", operation: "Invoke", instanceType: "" }),
    cost10: 40_000_000,
    amount: 2400,
  },
  {
    weight: 5,
    product: "AmazonCloudWatch",
    productName: "AmazonCloudWatch",
    family: "Metric",
    unit: "Metrics",
    usage: (n) =>
      n % 2 === 0
        ? { usageType: "CW:MetricMonitorUsage", operation: "MetricStorage", instanceType: "" }
        : { usageType: "TimedStorage-ByteHrs", operation: "PutLogEvents", instanceType: "" },
    cost10: 41_000_000,
    amount: 0.14,
  },
  {
    weight: 4,
    product: "AmazonDynamoDB",
    productName: "Amazon DynamoDB",
    family: "Amazon DynamoDB PayPerRequest Throughput",
    unit: "WriteRequestUnits",
    usage: () => ({ usageType: "WriteRequestUnits", operation: "PayPerRequestThroughput", instanceType: "" }),
    cost10: 125_000_000,
    amount: 10_000,
  },
  {
    weight: 8,
    product: "AmazonBedrock",
    productName: "Amazon Bedrock",
    family: "Amazon Bedrock",
    unit: "Count",
    usage: (n) => ({
      usageType: `${pick(MODELS, n)}-${pick(TOKENS, Math.floor(n / MODELS.length))}`,
      operation: "InvokeModelInference",
      instanceType: "",
    }),
    cost10: 4_500_000_000,
    amount: 1_500_000,
  },
  {
    weight: 3,
    product: "AmazonSageMaker",
    productName: "Amazon SageMaker",
    family: "ML Instance",
    unit: "Hrs",
    usage: (n) =>
      pick(
        [
          { usageType: "Host:ml.g5.2xlarge", operation: "RunInstance", instanceType: "ml.g5.2xlarge" },
          { usageType: "Train:ml.p4d.24xlarge", operation: "CreateTrainingJob", instanceType: "ml.p4d.24xlarge" },
          { usageType: "Notebk:ml.t3.medium", operation: "CreateNotebookInstance", instanceType: "ml.t3.medium" },
        ],
        n,
      ),
    cost10: 15_000_000_000,
    amount: 1,
  },
  {
    weight: 2,
    product: "AmazonEC2",
    productName: "Amazon Elastic Compute Cloud",
    family: "Compute Instance",
    unit: "Hrs",
    usage: (n) => {
      const type = pick(GPU, n);
      return { usageType: `BoxUsage:${type}`, operation: "RunInstances", instanceType: type };
    },
    cost10: 120_000_000_000,
    amount: 1,
    savingsPlan: 0.5,
  },
  {
    weight: 1,
    product: "AmazonTextract",
    productName: "Amazon Textract",
    family: "AI Services",
    unit: "Pages",
    usage: (n) => ({
      usageType: pick(["DetectDocumentText", "AnalyzeDocument-Forms"], n),
      operation: "Api",
      instanceType: "",
    }),
    cost10: 300_000_000,
    amount: 200,
  },
];

/** One resource: the cells that never change from hour to hour, and what varies. */
export type Resource = {
  cells: string[];
  /** the same cells escaped for CSV */
  escaped: string[];
  cost10: number;
  amount: number;
};

export const COLUMN_INDEX = Object.fromEntries(CUR2_COLUMNS.map((c, i) => [c, i])) as Record<Cur2Column, number>;

/** A small deterministic generator (mulberry32): the same seed gives the same bill. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The month's fixed bill columns: "YYYY-MM". */
function periodCells(month: string): Partial<Record<Cur2Column, string>> {
  const [y, m] = month.split("-").map(Number) as [number, number];
  const next = new Date(Date.UTC(y, m, 1)).toISOString();
  return {
    bill_invoice_id: "",
    bill_invoicing_entity: "Amazon Web Services, Inc.",
    bill_billing_entity: "AWS",
    bill_bill_type: "Anniversary",
    bill_payer_account_id: PAYER,
    bill_payer_account_name: "Bench Org Payer",
    bill_billing_period_start_date: new Date(Date.UTC(y, m - 1, 1)).toISOString(),
    bill_billing_period_end_date: next,
    line_item_currency_code: "USD",
    line_item_legal_entity: "Amazon Web Services, Inc.",
    pricing_term: "OnDemand",
  };
}

function build(values: Partial<Record<Cur2Column, string>>): { cells: string[]; escaped: string[] } {
  const cells = CUR2_COLUMNS.map((c) => values[c] ?? "");
  return { cells, escaped: cells.map((v) => csvField(v)) };
}

/** `count` resources spread over the kinds by weight, the accounts and the regions; deterministic. */
export function resources(month: string, count: number, seed: number): Resource[] {
  const random = prng(seed);
  const total = KINDS.reduce((s, k) => s + k.weight, 0);
  const out: Resource[] = [];
  const period = periodCells(month);
  for (let i = 0; i < count; i++) {
    // Kinds by weight, deterministically interleaved (resource i takes the kind at i's share).
    let at = ((i * 7919) % total) + 0.5;
    const kind = KINDS.find((k) => (at -= k.weight) < 0) ?? (KINDS[0] as Kind);
    const n = Math.floor(random() * 1_000_000);
    const account = pick(ACCOUNTS, i);
    const region = pick(REGIONS, Math.floor(i / ACCOUNTS.length));
    const { usageType, operation, instanceType } = kind.usage(n);
    const resourceId =
      kind.product === "AmazonEC2" && instanceType !== ""
        ? `i-0${(n * 2654435761).toString(16).slice(-16).padStart(16, "0")}`
        : kind.product === "AmazonBedrock"
          ? ""
          : `arn:aws:${kind.product.toLowerCase()}:${region.code}:${account}:resource/r-${n}`;
    const product = JSON.stringify({
      product_name: kind.productName,
      region: region.code,
      servicecode: kind.product,
      ...(instanceType !== "" ? { instance_type: instanceType } : {}),
    });
    const team = pick(["platform", "ml", "data", "web", "payments"], n);
    const savingsPlan = random() < (kind.savingsPlan ?? 0);
    const fixed = build({
      ...period,
      line_item_line_item_type: savingsPlan ? "SavingsPlanCoveredUsage" : "Usage",
      line_item_usage_account_id: account,
      line_item_usage_account_name: `bench-account-${ACCOUNTS.indexOf(account) + 1}`,
      line_item_product_code: kind.product,
      line_item_usage_type: `${region.prefix}-${usageType}`,
      line_item_operation: operation,
      line_item_availability_zone: kind.unit === "Hrs" ? `${region.code}${pick(["a", "b", "c"], n)}` : "",
      line_item_resource_id: resourceId,
      line_item_normalization_factor: instanceType !== "" ? "8" : "",
      line_item_line_item_description: `${kind.productName}, ${usageType}, per ${kind.unit}`,
      product,
      product_product_name: kind.productName,
      product_instance_type: instanceType,
      product_region_code: region.code,
      product_product_family: kind.family,
      product_servicecode: kind.product,
      pricing_unit: kind.unit,
      resource_tags: JSON.stringify({ user_team: team, user_env: n % 4 === 0 ? "staging" : "prod" }),
    });
    const spread = 0.4 + random() * 1.2;
    out.push({
      ...fixed,
      cost10: Math.max(1, Math.round(kind.cost10 * spread)),
      amount: kind.amount * spread,
    });
  }
  return out;
}

/** The month's one-off lines (per account: tax on each product, a credit; one refund), at its first hour. */
export function monthEndLines(month: string): Resource[] {
  const period = periodCells(month);
  const lines: Resource[] = [];
  const products = [...new Set(KINDS.map((k) => k.product))];
  for (const [a, account] of ACCOUNTS.entries()) {
    const base = {
      ...period,
      line_item_usage_account_id: account,
      line_item_usage_account_name: `bench-account-${a + 1}`,
    };
    for (const [p, product] of products.entries()) {
      lines.push({
        ...build({
          ...base,
          line_item_line_item_type: "Tax",
          line_item_product_code: product,
          line_item_line_item_description: `Tax for product code ${product}`,
          line_item_tax_type: "Sales Tax",
        }),
        cost10: 9_876_543_211 + a * 1_000_003 + p * 77,
        amount: 1,
      });
    }
    lines.push({
      ...build({
        ...base,
        line_item_line_item_type: "Credit",
        line_item_product_code: "AmazonBedrock",
        line_item_line_item_description: "AWS Activate credit",
      }),
      cost10: -(250_000_000_000 + a * 13),
      amount: 0,
    });
  }
  lines.push({
    ...build({
      ...period,
      line_item_usage_account_id: ACCOUNTS[0],
      line_item_line_item_type: "Refund",
      line_item_product_code: "AmazonEC2",
      line_item_line_item_description: "Refund",
    }),
    cost10: -1_234_567_891,
    amount: 0,
  });
  return lines;
}
