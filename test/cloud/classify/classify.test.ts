// Categories of real-looking lines: AI services, GPU instances and their non-GPU look-alikes, FOCUS
// rows copied from the public sample, and lines no rule knows that do (or do not) look like AI.
import { describe, expect, it } from "vitest";
import { acceleratorInstanceType, classify } from "../../../workers/cloud/classify/index.ts";
import type { BillLine, Category } from "../../../workers/cloud/line.ts";
import { billLine, curLine, focusLine } from "./bill-line.ts";

const EC2 = "Amazon Elastic Compute Cloud";

type Case = [name: string, line: BillLine, category: Category, rule: string];

const CASES: Case[] = [
  // Bedrock and its Marketplace models
  [
    "Bedrock tokens",
    curLine("AmazonBedrock", "Amazon Bedrock", "USE1-Claude4Sonnet-input-tokens"),
    "bedrock",
    "bedrock",
  ],
  [
    "Bedrock guardrails",
    curLine("AmazonBedrock", "Amazon Bedrock", "USE1-Guardrail-ContentPolicyTextUnits"),
    "bedrock",
    "bedrock",
  ],
  [
    "Marketplace model",
    curLine("AWS Marketplace", "Claude 3.5 Sonnet (Amazon Bedrock Edition)", "USE1-MP:USE1_InputTokenCount-Units"),
    "bedrock",
    "bedrock-marketplace",
  ],
  [
    "a Marketplace product that is not a Bedrock model",
    curLine("AWS Marketplace", "Acme Firewall (Hourly)", "USE1-MP:USE1_Hours"),
    "non_ai",
    "non-ai",
  ],
  // SageMaker: the service wins over its GPU instance
  [
    "SageMaker GPU endpoint",
    curLine("AmazonSageMaker", "Amazon SageMaker", "USE1-Host:ml.p4d.24xlarge", { instanceType: "ml.p4d.24xlarge" }),
    "sagemaker",
    "sagemaker",
  ],
  [
    "SageMaker notebook",
    curLine("AmazonSageMaker", "Amazon SageMaker", "USE1-Notebk:ml.t3.medium"),
    "sagemaker",
    "sagemaker",
  ],
  // other AI services
  ["Textract", curLine("AmazonTextract", "Amazon Textract", "USE1-SyncPagesProcessed"), "other_ai", "aws-ai-service"],
  ["Amazon Q", curLine("AmazonQ", "Amazon Q", "Q-Business-Lite-User"), "other_ai", "aws-ai-service-more"],
  [
    "old Amazon Machine Learning",
    curLine("AmazonML", "Amazon Machine Learning", "USE1-BatchPredictions"),
    "other_ai",
    "aws-ai-service-more",
  ],
  // GPU and accelerator instances, every way a bill names them
  [
    "p5 on demand",
    curLine("AmazonEC2", EC2, "USE1-BoxUsage:p5.48xlarge", { instanceType: "p5.48xlarge" }),
    "gpu_compute",
    "gpu-instance",
  ],
  ["p4de", curLine("AmazonEC2", EC2, "USE1-BoxUsage:p4de.24xlarge"), "gpu_compute", "gpu-instance"],
  ["p5en", curLine("AmazonEC2", EC2, "USE1-BoxUsage:p5en.48xlarge"), "gpu_compute", "gpu-instance"],
  ["p6-b200", curLine("AmazonEC2", EC2, "USW2-BoxUsage:p6-b200.48xlarge"), "gpu_compute", "gpu-instance"],
  ["g4dn without region", curLine("AmazonEC2", EC2, "BoxUsage:g4dn.xlarge"), "gpu_compute", "gpu-instance"],
  ["g4ad spot", curLine("AmazonEC2", EC2, "EUC1-SpotUsage:g4ad.4xlarge"), "gpu_compute", "gpu-instance"],
  [
    "g5g (a GPU with a Graviton g)",
    curLine("AmazonEC2", EC2, "APN1-BoxUsage:g5g.xlarge"),
    "gpu_compute",
    "gpu-instance",
  ],
  ["gr6", curLine("AmazonEC2", EC2, "USE1-BoxUsage:gr6.4xlarge"), "gpu_compute", "gpu-instance"],
  [
    "inf2",
    curLine("AmazonEC2", EC2, "USE1-BoxUsage:inf2.xlarge", { instanceType: "inf2.xlarge" }),
    "gpu_compute",
    "gpu-instance",
  ],
  ["trn2 dedicated", curLine("AmazonEC2", EC2, "USE1-DedicatedUsage:trn2.48xlarge"), "gpu_compute", "gpu-instance"],
  ["dl1", curLine("AmazonEC2", EC2, "USE1-BoxUsage:dl1.24xlarge"), "gpu_compute", "gpu-instance"],
  ["dl2q", curLine("AmazonEC2", EC2, "USW2-BoxUsage:dl2q.24xlarge"), "gpu_compute", "gpu-instance"],
  [
    "a GPU reservation's fee",
    curLine("AmazonEC2", EC2, "USE1-HeavyUsage:p4d.24xlarge", { lineItemType: "RIFee" }),
    "gpu_compute",
    "gpu-instance",
  ],
  [
    "EMR on a GPU instance",
    curLine("ElasticMapReduce", "Amazon Elastic MapReduce", "USE1-BoxUsage:p3.2xlarge"),
    "gpu_compute",
    "gpu-instance",
  ],
  [
    "instance type only",
    curLine("AmazonEC2", EC2, null, { instanceType: "g6.2xlarge" }),
    "gpu_compute",
    "gpu-instance",
  ],
  // look-alikes that are not GPUs
  [
    "m6g (Graviton)",
    curLine("AmazonEC2", EC2, "USE1-BoxUsage:m6g.large", { instanceType: "m6g.large" }),
    "non_ai",
    "non-ai",
  ],
  ["r7g (Graviton)", curLine("AmazonEC2", EC2, "USE1-BoxUsage:r7g.xlarge"), "non_ai", "non-ai"],
  ["c7g (Graviton)", curLine("AmazonEC2", EC2, "USE1-SpotUsage:c7g.2xlarge"), "non_ai", "non-ai"],
  [
    "x2gd (Graviton)",
    curLine("AmazonEC2", EC2, "USE1-BoxUsage:x2gd.xlarge", { instanceType: "x2gd.xlarge" }),
    "non_ai",
    "non-ai",
  ],
  ["hpc7g (Graviton)", curLine("AmazonEC2", EC2, "USE1-BoxUsage:hpc7g.16xlarge"), "non_ai", "non-ai"],
  ["f1 (FPGA)", curLine("AmazonEC2", EC2, "USE1-BoxUsage:f1.2xlarge"), "non_ai", "non-ai"],
  ["vt1 (video)", curLine("AmazonEC2", EC2, "USE1-BoxUsage:vt1.3xlarge"), "non_ai", "non-ai"],
  [
    "RDS on r7g",
    curLine("AmazonRDS", "Amazon Relational Database Service", "USE1-InstanceUsage:db.r7g.large", {
      instanceType: "db.r7g.large",
    }),
    "non_ai",
    "non-ai",
  ],
  [
    "ElastiCache on r6g",
    curLine("AmazonElastiCache", "Amazon ElastiCache", "USE1-NodeUsage:cache.r6g.large"),
    "non_ai",
    "non-ai",
  ],
  ["EBS gp3", curLine("AmazonEC2", EC2, "USE1-EBS:VolumeUsage.gp3"), "non_ai", "non-ai"],
  ["t3 CPU credits", curLine("AmazonEC2", EC2, "USE1-CPUCredits:t3"), "non_ai", "non-ai"],
  ["idle address", curLine("AmazonEC2", EC2, "USE1-ElasticIP:IdleAddress"), "non_ai", "non-ai"],
  // names that only look like AI
  ["AmazonSES", curLine("AmazonSES", "Amazon Simple Email Service", "USE1-Recipients"), "non_ai", "non-ai"],
  ["AmazonMQ (MQ is not ML)", curLine("AmazonMQ", "Amazon MQ", "USE1-Broker:mq.m5.large"), "non_ai", "non-ai"],
  ["EMAIL and HTML", curLine("AmazonWorkMail", "Amazon WorkMail", "USE1-EMAIL-HTML-Storage"), "non_ai", "non-ai"],
  [
    "Email, Domain, Maintenance",
    curLine("AmazonRoute53", "Amazon Route 53", "Email-Domain-Maintenance"),
    "non_ai",
    "non-ai",
  ],
  ["XML", curLine("AWSGlue", "AWS Glue", "USE1-XMLClassifier"), "non_ai", "non-ai"],
  [
    "Airflow",
    curLine("AmazonMWAA", "Amazon Managed Workflows for Apache Airflow", "USE1-Airflow-Environment"),
    "non_ai",
    "non-ai",
  ],
  // unknown lines that look like AI: reported
  [
    "a new AI product code",
    curLine("AmazonNovaAct", "Amazon Nova Act", "USE1-AgentHours-AI"),
    "other_ai",
    "unknown-ai",
  ],
  ["GPU in a usage type", curLine("AWSNewCompute", "AWS New Compute", "USE1-GPU-Hours"), "other_ai", "unknown-ai"],
  ["Inference in a product name", curLine("AWSAcme", "AWS Inference Hub", "USE1-Requests"), "other_ai", "unknown-ai"],
  ["LLM, camelCase", curLine("AmazonLLMGateway", null, "USE1-Requests"), "other_ai", "unknown-ai"],
  [
    "Machine Learning in a name",
    curLine("AWSFoo", "AWS Machine Learning Studio", "USE1-Hours"),
    "other_ai",
    "unknown-ai",
  ],
  ["MLModel", curLine("AWSFoo", null, "USE1-MLModel-Hours"), "other_ai", "unknown-ai"],
  ["Neuron", curLine("AWSFoo", null, "USE1-NeuronCore-Hours"), "other_ai", "unknown-ai"],
  ["GenAI", curLine("AWSFoo", null, "USE1-GenAI-Requests"), "other_ai", "unknown-ai"],
  [
    "an unknown SageMaker-family code is still SageMaker",
    curLine("AmazonSageMakerStudio", null, "USE1-Spaces-Hours"),
    "sagemaker",
    "sagemaker",
  ],
];

describe("classify: categories", () => {
  it.each(CASES)("%s", (_name, line, category, rule) => {
    const result = classify(line);
    expect({ category: result.category, rule: result.rule, unknownAi: result.unknownAi }).toEqual({
      category,
      rule,
      unknownAi: rule === "unknown-ai",
    });
  });
});

// Rows of ../shared/external-data/focus-sample-data/focus_sample.csv (FOCUS 1.0, CC BY 4.0,
// FinOps-Open-Cost-and-Usage-Spec/FOCUS-Sample-Data), as the parser makes them: ServiceName in both
// service fields, ChargeCategory in lineItemType, no usage type (FOCUS 1.0 has none).
const FOCUS_ROWS: Case[] = [
  [
    "Id 1756931: AWS g5.4xlarge under Compute",
    focusLine({
      serviceName: EC2,
      serviceCategory: "Compute",
      billingPeriod: "2024-09-01",
      account: "11353890204",
      payerAccount: "1234567890123",
      region: "us-east-1",
      description: "$1.624 per On Demand Linux g5.4xlarge Instance Hour",
      resourceId: "i-006flle71l19b488a",
      usageAmount: "1.000000000000000",
      usageUnit: "Hours",
      costNano: 1_624_000_000n,
    }),
    "gpu_compute",
    "gpu-instance",
  ],
  [
    "Id 971006: AWS g3.4xlarge under Compute",
    focusLine({
      serviceName: EC2,
      serviceCategory: "Compute",
      description: "$1.14 per On Demand Linux g3.4xlarge Instance Hour",
      resourceId: "i-0b3b3095474a3772a",
      costNano: 1_140_000_000n,
    }),
    "gpu_compute",
    "gpu-instance",
  ],
  [
    "Id 855450: AWS t2.micro (its SkuId F9GPUA3E29X6GJVE is not read)",
    focusLine({
      serviceName: EC2,
      serviceCategory: "Compute",
      description: "$0.0116 per On Demand Linux t2.micro Instance Hour",
      costNano: 11_600_000n,
    }),
    "non_ai",
    "non-ai",
  ],
  [
    "Id 2511804: Lambda whose resource id says gpu (resource ids are not read)",
    focusLine({
      serviceName: "AWS Lambda",
      serviceCategory: "Compute",
      description: "AWS Lambda - Total Compute - US East (Northern Virginia)-Tier-1",
      resourceId:
        "arn:ats:macfla:us-east-1:823773083436:bunltion:fuimlfite-2m-gpu-v510-AutoslamingFunltion-1GKXENMXN3G6P",
      costNano: 6_372_911n,
    }),
    "non_ai",
    "non-ai",
  ],
  [
    "Id 5234737: Azure Machine Learning managed disk",
    focusLine({
      provider: "microsoft",
      serviceName: "Azure Machine Learning",
      serviceCategory: "AI and Machine Learning",
      region: "eastus2",
      description: "Premium SSD Managed Disks - P6 LRS - US East 2",
      usageUnit: "Units/Month",
      costNano: -12_889_920n,
    }),
    "other_ai",
    "focus-ai-category",
  ],
  [
    "Id 5299188: Azure Machine Learning D11 v2 hour",
    focusLine({
      provider: "microsoft",
      serviceName: "Azure Machine Learning",
      serviceCategory: "AI and Machine Learning",
      description: "Virtual Machines Dv2/DSv2 Series - D11 v2/DS11 v2 - US East 2",
      costNano: -149_000_000n,
    }),
    "other_ai",
    "focus-ai-category",
  ],
  [
    "Id 5209478: Oracle COMPUTE adjustment",
    focusLine({
      provider: "oracle",
      serviceName: "COMPUTE",
      serviceCategory: "Compute",
      lineItemType: "Adjustment",
      description: "Standard - A1 - Memory",
    }),
    "non_ai",
    "non-ai",
  ],
];

describe("classify: rows of the public FOCUS sample", () => {
  it.each(FOCUS_ROWS)("%s", (_name, line, category, rule) => {
    const result = classify(line);
    expect({ category: result.category, rule: result.rule }).toEqual({ category, rule });
  });

  it("AI from other providers' FOCUS files: at least other_ai, Bedrock and SageMaker when the service says so", () => {
    const vertex = focusLine({
      provider: "google cloud",
      serviceName: "Vertex AI",
      serviceCategory: "AI and Machine Learning",
    });
    const openai = focusLine({
      provider: "microsoft",
      serviceName: "Azure OpenAI",
      serviceCategory: "AI and Machine Learning",
    });
    const bedrock = focusLine({ serviceName: "Amazon Bedrock", serviceCategory: "AI and Machine Learning" });
    expect([vertex, openai, bedrock].map((line) => classify(line).category)).toEqual([
      "other_ai",
      "other_ai",
      "bedrock",
    ]);
  });
});

describe("classify: the rest of a non-Bedrock classification", () => {
  it("gives no model or token type outside Bedrock", () => {
    const result = classify(curLine("AmazonSageMaker", "Amazon SageMaker", "USE1-Host:ml.g5.2xlarge"));
    expect({ model: result.model, tokenType: result.tokenType }).toEqual({ model: null, tokenType: null });
  });

  it("an empty line is non_ai, other", () => {
    expect(classify(billLine({ lineItemType: null }))).toEqual({
      category: "non_ai",
      chargeType: "other",
      model: null,
      tokenType: null,
      rule: "non-ai",
      unknownAi: false,
    });
  });
});

describe("acceleratorInstanceType (the GPU view)", () => {
  it.each([
    [
      "SageMaker's ml. GPU instance",
      curLine("AmazonSageMaker", null, "USE1-Host:ml.g5.2xlarge", { instanceType: "ml.g5.2xlarge" }),
      "ml.g5.2xlarge",
    ],
    ["from the usage type", curLine("AmazonSageMaker", null, "USE1-Train:ml.p4d.24xlarge"), "ml.p4d.24xlarge"],
    ["EC2 p5", curLine("AmazonEC2", EC2, "USE1-BoxUsage:p5.48xlarge"), "p5.48xlarge"],
    ["SageMaker CPU instance", curLine("AmazonSageMaker", null, "USE1-Notebk:ml.t3.medium"), null],
    ["Graviton", curLine("AmazonEC2", EC2, "USE1-BoxUsage:m6g.large"), null],
    ["no instance", curLine("AmazonS3", null, "USE1-TimedStorage-ByteHrs"), null],
  ] as const)("%s", (_name, line, expected) => {
    expect(acceleratorInstanceType(line)).toBe(expected);
  });
});
