// Classification of bill lines (README.md): category by the first rule of rules.ts that matches,
// charge type by charge-type.ts, model and token type of Bedrock lines by bedrock.ts. Pure and
// synchronous; the rules are compiled once into lookup tables so a line costs a few map lookups.
import type { BillLine, Category, Classification, TokenType } from "../line.ts";
import { saysAi } from "./ai-words.ts";
import { fromProductName, fromUsageType } from "./bedrock.ts";
import { chargeTypeOf } from "./charge-type.ts";
import { descriptionIn, instanceTypeIn, namedInstanceType, usageTypeIn } from "./instance-type.ts";
import { NON_AI_RULE, RULES, UNKNOWN_AI_RULE, type Rule } from "./rules.ts";

export { AI_WORDS } from "./ai-words.ts";
export { LINE_ITEM_TYPES } from "./charge-type.ts";
export { BEDROCK_EDITION_SUFFIX, NON_AI_RULE, RULES, UNKNOWN_AI_RULE } from "./rules.ts";
export type { ModelFrom, Rule, RuleMatch } from "./rules.ts";

const NONE = Number.MAX_SAFE_INTEGER;

/** A rule table turned into lookups; each lookup answers the index of the first rule it matches. */
type Compiled = {
  rules: readonly Rule[];
  productCodes: Map<string, number>;
  productCodePrefixes: { prefix: string; index: number }[];
  serviceNames: Map<string, number>;
  serviceNameSuffixes: { suffix: string; index: number }[];
  serviceCategories: Map<string, number>;
  instanceSeries: { series: readonly string[]; index: number }[];
};

function firstWins(map: Map<string, number>, key: string, index: number): void {
  if (!map.has(key)) map.set(key, index);
}

/** Compile a rule table (RULES, or a variation of it in tests). Rule ids must be unique. */
export function compileRules(rules: readonly Rule[]): Compiled {
  const compiled: Compiled = {
    rules,
    productCodes: new Map(),
    productCodePrefixes: [],
    serviceNames: new Map(),
    serviceNameSuffixes: [],
    serviceCategories: new Map(),
    instanceSeries: [],
  };
  const ids = new Set<string>();
  rules.forEach((rule, index) => {
    if (ids.has(rule.id) || rule.id === UNKNOWN_AI_RULE || rule.id === NON_AI_RULE) {
      throw new Error(`duplicate rule id ${rule.id}`);
    }
    ids.add(rule.id);
    const match = rule.match;
    for (const code of match.productCodes ?? []) firstWins(compiled.productCodes, code, index);
    for (const prefix of match.productCodePrefixes ?? []) compiled.productCodePrefixes.push({ prefix, index });
    for (const name of match.serviceNames ?? []) firstWins(compiled.serviceNames, name, index);
    if (match.serviceNameSuffix !== undefined) {
      compiled.serviceNameSuffixes.push({ suffix: match.serviceNameSuffix, index });
    }
    if (match.serviceCategory !== undefined) firstWins(compiled.serviceCategories, match.serviceCategory, index);
    if (match.instanceSeries !== undefined) compiled.instanceSeries.push({ series: match.instanceSeries, index });
  });
  return compiled;
}

function namesInstance(line: BillLine, series: readonly string[]): boolean {
  if (line.instanceType !== null && instanceTypeIn(line.instanceType, series)) return true;
  if (line.usageType !== null) return usageTypeIn(line.usageType, series);
  // FOCUS files without a usage type (FOCUS 1.0 from AWS) name the instance in the description
  return line.instanceType === null && line.description !== null && descriptionIn(line.description, series);
}

/** The index of the first rule that matches `line`, or NONE. */
function firstRule(compiled: Compiled, line: BillLine): number {
  let best = NONE;
  const code = line.serviceCode;
  if (code !== null) {
    best = Math.min(best, compiled.productCodes.get(code) ?? NONE);
    for (const { prefix, index } of compiled.productCodePrefixes) {
      if (index < best && code.startsWith(prefix)) best = index;
    }
  }
  const name = line.serviceName;
  if (name !== null) {
    best = Math.min(best, compiled.serviceNames.get(name) ?? NONE);
    for (const { suffix, index } of compiled.serviceNameSuffixes) {
      if (index < best && name.endsWith(suffix)) best = index;
    }
  }
  if (line.serviceCategory !== null)
    best = Math.min(best, compiled.serviceCategories.get(line.serviceCategory) ?? NONE);
  for (const { series, index } of compiled.instanceSeries) {
    if (index < best && namesInstance(line, series)) best = index;
  }
  return best;
}

/** Classify one line against a compiled table. */
export function classifyWith(compiled: Compiled, line: BillLine): Classification {
  const chargeType = chargeTypeOf(line);
  const index = firstRule(compiled, line);
  const rule = compiled.rules[index];
  if (rule === undefined) {
    const unknownAi = saysAi(line.serviceCode) || saysAi(line.serviceName) || saysAi(line.usageType);
    const category: Category = unknownAi ? "other_ai" : "non_ai";
    const id = unknownAi ? UNKNOWN_AI_RULE : NON_AI_RULE;
    return { category, chargeType, model: null, tokenType: null, rule: id, unknownAi };
  }
  let model: string | null = null;
  let tokenType: TokenType | null = null;
  if (rule.model === "usage_type") {
    ({ model, tokenType } = fromUsageType(line.usageType));
  } else if (rule.model === "product_name" && line.serviceName !== null && rule.match.serviceNameSuffix !== undefined) {
    ({ model, tokenType } = fromProductName(line.serviceName, rule.match.serviceNameSuffix, line.usageType));
  }
  return { category: rule.category, chargeType, model, tokenType, rule: rule.id, unknownAi: false };
}

const COMPILED = compileRules(RULES);

/** What a bill line is: category, charge type, and for Bedrock lines model and token type. */
export function classify(line: BillLine): Classification {
  return classifyWith(COMPILED, line);
}

const GPU_SERIES = RULES.flatMap((rule) => rule.match.instanceSeries ?? []);

/**
 * The accelerator instance type a line names (`p5.48xlarge`, SageMaker's `ml.g5.2xlarge`), or null:
 * for the GPU view, which shows SageMaker's GPU lines although their category is `sagemaker`.
 */
export function acceleratorInstanceType(line: BillLine): string | null {
  const named = namedInstanceType(line.instanceType, line.usageType);
  if (named === null) return null;
  return instanceTypeIn(named, GPU_SERIES) ? named : null;
}
