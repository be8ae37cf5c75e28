// The classification rules as data (README.md renders them as a table). A line takes the category of
// the FIRST rule in this order that matches it; a rule matches when ANY of its criteria does. The
// order is the policy:
//   1. Bedrock Marketplace models, then Bedrock, then SageMaker: the service wins, so SageMaker's
//      `ml.p4d` lines are `sagemaker` (their instance type stays on the line for the GPU view).
//   2. Other AI services by product code / service name, then FOCUS's "AI and Machine Learning"
//      category: a named AI service is decided before any instance type it runs on.
//   3. GPU / accelerator instances, whatever service bills them (EC2, EMR, GameLift…).
// A line no rule matches is `other_ai` with `unknownAi` when its product code, service name or usage
// type says an AI word (ai-words.ts, rule id `unknown-ai`), else `non_ai` (rule id `non-ai`).
import type { Category } from "../line.ts";

/** What a rule looks at. Strings are compared exactly (bills spell them one way). */
export type RuleMatch = {
  /** CUR `line_item_product_code` equal to one of these */
  readonly productCodes?: readonly string[];
  /** CUR `line_item_product_code` starting with one of these */
  readonly productCodePrefixes?: readonly string[];
  /** CUR `product_product_name` or FOCUS `ServiceName` equal to one of these */
  readonly serviceNames?: readonly string[];
  /** CUR `product_product_name` ending with this */
  readonly serviceNameSuffix?: string;
  /** FOCUS `ServiceCategory` equal to this */
  readonly serviceCategory?: string;
  /**
   * Instance series (the letters before the generation digit, instance-type.ts) read from
   * `product_instance_type`, else the usage type after its `:`, else — when the line has neither —
   * a word of the charge description.
   */
  readonly instanceSeries?: readonly string[];
};

/** Where a Bedrock rule reads the model from (bedrock.ts). */
export type ModelFrom = "usage_type" | "product_name";

export type Rule = {
  /** stable, kebab-case: stored with each line and shown in import reports */
  readonly id: string;
  readonly match: RuleMatch;
  readonly category: Exclude<Category, "non_ai">;
  /** for Bedrock rules: where the model and token type come from */
  readonly model?: ModelFrom;
  /** the documentation the rule comes from: page title and URL */
  readonly source: string;
};

/** The suffix AWS Marketplace gives third-party models sold through Bedrock. */
export const BEDROCK_EDITION_SUFFIX = " (Amazon Bedrock Edition)";

export const RULES: readonly Rule[] = [
  {
    id: "bedrock-marketplace",
    match: { serviceNameSuffix: BEDROCK_EDITION_SUFFIX },
    category: "bedrock",
    model: "product_name",
    source:
      "Amazon Bedrock pricing (third-party models are sold through AWS Marketplace) — https://aws.amazon.com/bedrock/pricing/ ; the product-name suffix as issue 14 §3 states it (not found in AWS documentation reachable here)",
  },
  {
    id: "bedrock",
    match: {
      // AmazonBedrock, and the family's other codes (AmazonBedrockService, AmazonBedrockAgentCore…)
      productCodePrefixes: ["AmazonBedrock"],
      serviceNames: ["Amazon Bedrock", "Amazon Bedrock AgentCore"],
    },
    category: "bedrock",
    model: "usage_type",
    source:
      "Understanding your Amazon Bedrock Cost and Usage Report data — https://docs.aws.amazon.com/bedrock/latest/userguide/cost-mgmt-understanding-cur-data.html",
  },
  {
    id: "sagemaker",
    match: {
      productCodePrefixes: ["AmazonSageMaker"],
      serviceNames: ["Amazon SageMaker", "Amazon SageMaker AI"],
    },
    category: "sagemaker",
    source:
      "Amazon SageMaker AI pricing — https://aws.amazon.com/sagemaker/pricing/ ; FOCUS converters aws_category_mapping.csv (AmazonSageMaker → AI and Machine Learning) — https://github.com/finopsfoundation/focus_converters",
  },
  {
    id: "aws-ai-service",
    // The "AI and Machine Learning" rows of the FOCUS converters' product-code mapping (Bedrock and
    // SageMaker have their own rules above), with CUR's own spellings (comprehend, transcribe and
    // translate are lower-case product codes).
    match: {
      productCodes: [
        "AWSDeepRacer",
        "AmazonA2I",
        "AmazonCodeWhisperer",
        "AmazonDevOpsGuru",
        "AmazonEI",
        "AmazonForecast",
        "AmazonFraudDetector",
        "AmazonHealthLake",
        "AmazonKendra",
        "AmazonLex",
        "AmazonLookoutEquipment",
        "AmazonLookoutMetrics",
        "AmazonLookoutVision",
        "AmazonMonitron",
        "AmazonOmics",
        "AmazonPersonalize",
        "AmazonPolly",
        "AmazonRekognition",
        "AmazonTextract",
        "comprehend",
        "transcribe",
        "translate",
      ],
      // the same services by the name CUR's product_product_name and AWS's FOCUS ServiceName give them
      serviceNames: [
        "AWS DeepRacer",
        "Amazon Augmented AI",
        "Amazon CodeWhisperer",
        "Amazon DevOps Guru",
        "Amazon Elastic Inference",
        "Amazon Forecast",
        "Amazon Fraud Detector",
        "Amazon HealthLake",
        "Amazon Kendra",
        "Amazon Lex",
        "Amazon Lookout for Equipment",
        "Amazon Lookout for Metrics",
        "Amazon Lookout for Vision",
        "Amazon Monitron",
        "AWS HealthOmics",
        "Amazon Personalize",
        "Amazon Polly",
        "Amazon Rekognition",
        "Amazon Textract",
        "Amazon Comprehend",
        "Amazon Transcribe",
        "Amazon Translate",
      ],
    },
    category: "other_ai",
    source:
      'FOCUS converters aws_category_mapping.csv, rows "AI and Machine Learning" (commit c799bf9) — https://github.com/finopsfoundation/focus_converters',
  },
  {
    id: "aws-ai-service-more",
    // AI services the mapping above does not list (or files elsewhere: CodeGuru under Developer
    // Tools), the old Amazon Machine Learning service (AmazonML), and product-code spellings of the
    // mapping's services that CUR files also use; by product code and by service name.
    match: {
      productCodes: [
        "AmazonQ",
        "AmazonQBusiness",
        "AmazonQDeveloper",
        "CodeGuru",
        "AmazonCodeGuru",
        "AmazonComprehendMedical",
        "AmazonML",
        "AmazonComprehend",
        "AmazonTranscribe",
        "AmazonTranslate",
      ],
      serviceNames: [
        "Amazon Q",
        "Amazon Q Business",
        "Amazon Q Developer",
        "Amazon CodeGuru",
        "Amazon Comprehend Medical",
      ],
    },
    category: "other_ai",
    source:
      "Machine Learning on AWS (AI services) — https://aws.amazon.com/ai/services/ ; Amazon Q pricing — https://aws.amazon.com/q/pricing/ ; Amazon CodeGuru — https://aws.amazon.com/codeguru/",
  },
  {
    id: "focus-ai-category",
    match: { serviceCategory: "AI and Machine Learning" },
    category: "other_ai",
    source:
      'FOCUS specification, ServiceCategory (allowed value "AI and Machine Learning") — https://focus.finops.org/focus-specification/v1-2/#servicecategory',
  },
  {
    id: "gpu-instance",
    // p (GPU training: p3, p4d, p4de, p5, p5e, p5en, p6-b200), g (GPU graphics/inference: g4dn,
    // g4ad, g5, g5g, g6, g6e), gr (gr6), inf (Inferentia: inf1, inf2), trn (Trainium: trn1, trn1n,
    // trn2), dl (Gaudi / Qualcomm: dl1, dl2q). FPGA (f) and video (vt) accelerators are not AI spend.
    match: { instanceSeries: ["p", "g", "gr", "inf", "trn", "dl"] },
    category: "gpu_compute",
    source:
      "Amazon EC2 instance types, Accelerated computing — https://docs.aws.amazon.com/ec2/latest/instancetypes/ac.html ; Amazon EC2 instance type naming conventions — https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html",
  },
];

/** The id of a line no rule matched but that says an AI word (reported by the import). */
export const UNKNOWN_AI_RULE = "unknown-ai";
/** The id of a line no rule matched and that says nothing of AI. */
export const NON_AI_RULE = "non-ai";
