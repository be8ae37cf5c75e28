// Reading an EC2 (or SageMaker `ml.`) instance type out of a bill line without allocating: where it
// is written (`product_instance_type`, the usage type after its last `:`, or — for FOCUS files that
// carry neither — a word of the charge description), and whether its family's letters are one of a
// rule's accelerator families.
//
// An instance type is `<family>.<size>`; the family is letters (the series), a generation digit, then
// attribute letters and digits (AWS "Amazon EC2 instance type naming conventions",
// https://docs.aws.amazon.com/ec2/latest/instancetypes/instance-type-names.html). Only the series
// letters before the first digit decide: `g5` is series `g` (GPU) while `m6g`, `r7g`, `c7g` and
// `x2gd` are series `m`, `r`, `c`, `x` whose `g` is an attribute (Graviton). `p6-b200.48xlarge`
// (series `p`) keeps its hyphenated family. Instance types are lower-case; `db.`, `cache.` and
// similar service prefixes are other series (`db`, `cache`) and never match.

/** `ml.` is SageMaker's prefix for its instance types (`ml.p4d.24xlarge`). */
const ML_PREFIX = "ml.";

function isLower(code: number): boolean {
  return code >= 97 && code <= 122;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/**
 * Whether `text[from, to)` is an instance type (or, when `familyAlone` is set, a bare family such as
 * a dedicated host's `p4d`) whose series is one of `series`.
 */
function matchesAt(text: string, from: number, to: number, series: readonly string[], familyAlone: boolean): boolean {
  let start = from;
  if (text.startsWith(ML_PREFIX, start)) start += ML_PREFIX.length;
  let i = start;
  while (i < to && isLower(text.charCodeAt(i))) i++;
  const letters = i - start;
  if (letters === 0 || i >= to || !isDigit(text.charCodeAt(i))) return false;
  // the rest of the family: digits, attribute letters, a hyphenated variant (p6-b200)
  while (i < to) {
    const code = text.charCodeAt(i);
    if (!(isLower(code) || isDigit(code) || code === 45)) break;
    i++;
  }
  if (i === to) {
    if (!familyAlone) return false;
  } else if (text.charCodeAt(i) !== 46 || i + 1 >= to) {
    return false; // not `<family>.<size>`
  }
  for (const name of series) {
    if (name.length === letters && text.startsWith(name, start)) return true;
  }
  return false;
}

/** `product_instance_type` ("p5.48xlarge", "ml.g5.2xlarge"). */
export function instanceTypeIn(instanceType: string, series: readonly string[]): boolean {
  return matchesAt(instanceType, 0, instanceType.length, series, false);
}

/**
 * The usage type's instance after its last `:` (`USE1-BoxUsage:p5.48xlarge`, `SpotUsage:g5.xlarge`,
 * `USE1-DedicatedUsage:p4d.24xlarge`, `HeavyUsage:p4d.24xlarge` for a reservation's fee,
 * `USE1-HostUsage:p4d` for a dedicated host, which names the family alone).
 */
export function usageTypeIn(usageType: string, series: readonly string[]): boolean {
  const colon = usageType.lastIndexOf(":");
  if (colon < 0) return false;
  return matchesAt(usageType, colon + 1, usageType.length, series, true);
}

/**
 * A word of a charge description that is an instance type ("$1.624 per On Demand Linux g5.4xlarge
 * Instance Hour", as FOCUS 1.0 files from AWS write it without a usage type column).
 */
export function descriptionIn(description: string, series: readonly string[]): boolean {
  const length = description.length;
  let start = 0;
  while (start < length) {
    let end = description.indexOf(" ", start);
    if (end < 0) end = length;
    if (end > start && matchesAt(description, start, end, series, false)) return true;
    start = end + 1;
  }
  return false;
}

/**
 * The instance type a line names (`product_instance_type`, else the usage type's after its `:`),
 * whatever its series — for the GPU view to show SageMaker's `ml.` GPU lines, which classification
 * files under `sagemaker`. Null when the line names none.
 */
export function namedInstanceType(instanceType: string | null, usageType: string | null): string | null {
  if (instanceType !== null) return instanceType;
  if (usageType === null) return null;
  const colon = usageType.lastIndexOf(":");
  if (colon < 0) return null;
  const candidate = usageType.slice(colon + 1);
  return candidate.includes(".") && isLower(candidate.charCodeAt(0)) ? candidate : null;
}
