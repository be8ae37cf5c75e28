// The rules table: every rule has examples that it decides, and that it alone decides — without the
// rule the same line would be classified otherwise (so no rule is shadowed by an earlier one or made
// redundant by a later one). The table also covers the FOCUS converters' AI product codes.
import { describe, expect, it } from "vitest";
import mapping from "../../../../shared/external-data/focus_converters/aws_category_mapping.csv?raw";
import { classify, classifyWith, compileRules, RULES } from "../../../workers/cloud/classify/index.ts";
import type { BillLine } from "../../../workers/cloud/line.ts";
import { curLine, focusLine } from "./bill-line.ts";

/** Real-looking lines per rule id, each decided by that rule. */
const EXAMPLES: Record<string, BillLine[]> = {
  "bedrock-marketplace": [
    curLine("AWS Marketplace", "Claude 3.5 Sonnet (Amazon Bedrock Edition)", "USE1-MP:USE1_InputTokenCount-Units"),
    // legacy Marketplace lines carry the listing's own product code
    curLine(
      "c1bb0g3ocp41q4kbvc6e6xvn2",
      "Llama 3 70B Instruct (Amazon Bedrock Edition)",
      "USW2-MP:USW2_OutputTokenCount-Units",
    ),
  ],
  bedrock: [
    curLine("AmazonBedrock", "Amazon Bedrock", "USE1-Claude4Sonnet-input-tokens"),
    curLine("AmazonBedrockService", null, "USE1-NovaPro-output-tokens"),
    curLine("AmazonBedrockAgentCore", "Amazon Bedrock AgentCore", "USE1-Runtime-vCPU-Hours"),
    focusLine({
      serviceName: "Amazon Bedrock",
      serviceCategory: "AI and Machine Learning",
      usageType: "USE1-NovaLite-input-tokens",
    }),
  ],
  sagemaker: [
    curLine("AmazonSageMaker", "Amazon SageMaker", "USE1-Host:ml.g5.2xlarge", { instanceType: "ml.g5.2xlarge" }),
    curLine("AmazonSageMaker", "Amazon SageMaker", "USE1-Train:ml.p4d.24xlarge", { instanceType: "ml.p4d.24xlarge" }),
    focusLine({
      serviceName: "Amazon SageMaker",
      serviceCategory: "AI and Machine Learning",
      usageType: "USE1-Notebk:ml.t3.medium",
    }),
  ],
  "aws-ai-service": [
    curLine("AmazonTextract", "Amazon Textract", "USE1-SyncPagesProcessed"),
    curLine("AmazonRekognition", "Amazon Rekognition", "USE1-ImagesProcessed-Group1"),
    curLine("comprehend", "Amazon Comprehend", "USE1-DetectEntities"),
    curLine("transcribe", "Amazon Transcribe", "USE1-TranscribeAudio"),
    curLine("translate", "Amazon Translate", "USE1-TranslateText"),
    curLine("AmazonPolly", "Amazon Polly", "USE1-SynthesizeSpeechNeural-Characters"),
    curLine("AmazonKendra", "Amazon Kendra", "USE1-Kendra-Enterprise-Edition-Hours"),
    curLine("AmazonLex", "Amazon Lex", "USE1-TextRequest"),
    curLine("AmazonPersonalize", "Amazon Personalize", "USE1-TPS-hours"),
    curLine("AmazonFraudDetector", "Amazon Fraud Detector", "USE1-OnlineFraudInsights"),
    curLine("AmazonA2I", "Amazon Augmented AI", "USE1-HumanReviewObjects"),
  ],
  "aws-ai-service-more": [
    curLine("AmazonQ", "Amazon Q", "Q-Business-Pro-User"),
    curLine("AmazonQDeveloper", "Amazon Q Developer", "USE1-Pro-Tier-Users"),
    curLine("CodeGuru", "Amazon CodeGuru", "USE1-Reviewer-LinesOfCode"),
    curLine("AmazonComprehendMedical", "Amazon Comprehend Medical", "USE1-DetectEntitiesV2-Units"),
  ],
  "focus-ai-category": [
    // focus_sample.csv, Id 5299188 (Microsoft, Azure Machine Learning, a D11 v2 VM hour, negative)
    focusLine({
      provider: "microsoft",
      serviceName: "Azure Machine Learning",
      serviceCategory: "AI and Machine Learning",
      description: "Virtual Machines Dv2/DSv2 Series - D11 v2/DS11 v2 - US East 2",
      usageUnit: "Hours",
      costNano: -149_000_000n,
    }),
    // a service name that says no AI word: only the category knows
    focusLine({ provider: "microsoft", serviceName: "Cognitive Services", serviceCategory: "AI and Machine Learning" }),
  ],
  "gpu-instance": [
    curLine("AmazonEC2", "Amazon Elastic Compute Cloud", "USE1-BoxUsage:p5.48xlarge", { instanceType: "p5.48xlarge" }),
    curLine("AmazonEC2", "Amazon Elastic Compute Cloud", "BoxUsage:g5.xlarge"),
    curLine("AmazonEC2", "Amazon Elastic Compute Cloud", "USW2-SpotUsage:g6e.12xlarge"),
    curLine("AmazonEC2", "Amazon Elastic Compute Cloud", "USE1-DedicatedUsage:trn1n.32xlarge"),
    curLine("AmazonEC2", "Amazon Elastic Compute Cloud", "USE1-HostUsage:p4d"),
    // focus_sample.csv, Id 1756931 (AWS, Compute, a g5.4xlarge hour: FOCUS 1.0 has no usage type)
    focusLine({
      serviceName: "Amazon Elastic Compute Cloud",
      serviceCategory: "Compute",
      description: "$1.624 per On Demand Linux g5.4xlarge Instance Hour",
      resourceId: "i-006flle71l19b488a",
      usageUnit: "Hours",
      costNano: 1_624_000_000n,
    }),
  ],
};

describe("the rules table", () => {
  it("has unique ids, a category and a source with a link for every rule", () => {
    expect(new Set(RULES.map((rule) => rule.id)).size).toBe(RULES.length);
    expect(RULES.filter((rule) => !/https:\/\/\S+/.test(rule.source)).map((rule) => rule.id)).toEqual([]);
  });

  it("has examples for exactly its rules", () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(RULES.map((rule) => rule.id).sort());
  });

  describe.each(RULES.map((rule) => [rule.id, rule] as const))("rule %s", (id, rule) => {
    const examples = EXAMPLES[id] ?? [];
    const without = compileRules(RULES.filter((other) => other !== rule));

    it.each(examples.map((line) => [line.serviceCode, line.usageType ?? line.description, line] as const))(
      "decides %s %s, and without it the line is classified otherwise",
      (_code, _usage, line) => {
        const decided = classify(line);
        expect({ rule: decided.rule, category: decided.category, unknownAi: decided.unknownAi }).toEqual({
          rule: id,
          category: rule.category,
          unknownAi: false,
        });
        const otherwise = classifyWith(without, line);
        expect({ category: otherwise.category, unknownAi: otherwise.unknownAi }).not.toEqual({
          category: decided.category,
          unknownAi: decided.unknownAi,
        });
      },
    );
  });
});

describe("the FOCUS converters' product-code mapping (aws_category_mapping.csv)", () => {
  const rows = mapping
    .trim()
    .split("\n")
    .slice(1)
    .map((row) => row.trim().split(","))
    .map(([code, category]) => ({ code: code ?? "", category: category ?? "" }));
  const ai = rows.filter((row) => row.category === "AI and Machine Learning").map((row) => row.code);
  // CodeGuru is filed under Developer Tools there; it is an ML service (rule aws-ai-service-more)
  const notAi = rows
    .filter((row) => row.category !== "AI and Machine Learning" && row.code !== "CodeGuru")
    .map((row) => row.code);

  it("is read whole: its 24 AI rows and the rest", () => {
    expect(ai).toHaveLength(24); // grep -c ",AI and Machine Learning"
    expect(notAi.length).toBeGreaterThan(150);
  });

  it("every AI product code is decided by a rule (never unknown, never non_ai)", () => {
    const undecided = ai.filter((code) => {
      const rule = classify(curLine(code, null, "USE1-Usage")).rule;
      return !RULES.some((known) => known.id === rule);
    });
    expect(undecided).toEqual([]);
  });

  it("every other product code is non_ai", () => {
    const flagged = notAi.filter((code) => classify(curLine(code, null, "USE1-Usage")).category !== "non_ai");
    expect(flagged).toEqual([]);
  });
});
