// Does a bill's text say an AI word? Used on lines no rule knew, so that a new AI service (or a new
// spelling of one) is reported as `unknown-ai` instead of vanishing into `non_ai`.
//
// A word is a run of letters bounded by a non-letter, the text's ends, or a camelCase change:
// `AmazonML` is "Amazon" + "ML", `GPUInstance` is "GPU" + "Instance", `MLModel` is "ML" + "Model".
// So `EMAIL`, `Email`, `HTML`, `Domain` and `AmazonSES` say nothing, and `AmazonMQ` ("MQ") is not ML.

/** One regex compiled once; each hit is then checked for word boundaries by hand. */
const CANDIDATES =
  /machine[\s_-]*learning|deep[\s_-]*learning|generative[\s_-]*ai|genai|inferentia|trainium|sagemaker|bedrock|inference|openai|neuron|models?|llms?|gpus?|ai|ml/gi;

/** The words (lower-case) the README lists. */
export const AI_WORDS = [
  "machine learning",
  "deep learning",
  "generative ai",
  "genai",
  "inferentia",
  "trainium",
  "sagemaker",
  "bedrock",
  "inference",
  "openai",
  "neuron",
  "model",
  "llm",
  "gpu",
  "ai",
  "ml",
] as const;

function isUpper(code: number): boolean {
  return code >= 65 && code <= 90;
}

function isLower(code: number): boolean {
  return code >= 97 && code <= 122;
}

function isLetter(code: number): boolean {
  return isUpper(code) || isLower(code);
}

/** A word starts at `at`: the text starts there, a non-letter precedes it, or a camelCase hump (`nM` in `AmazonML`). */
function startsWord(text: string, at: number): boolean {
  if (at === 0) return true;
  const before = text.charCodeAt(at - 1);
  if (!isLetter(before)) return true;
  return isLower(before) && isUpper(text.charCodeAt(at));
}

/**
 * A word ends at `end` (exclusive): the text ends, a non-letter follows, a camelCase hump follows
 * (`dI` … `GpuInstance`: lower then upper), or an acronym is followed by a capitalised word
 * (`MLModel`: upper, then upper + lower).
 */
function endsWord(text: string, end: number): boolean {
  if (end === text.length) return true;
  const after = text.charCodeAt(end);
  if (!isLetter(after)) return true;
  const last = text.charCodeAt(end - 1);
  if (isLower(last)) return isUpper(after);
  // an upper-case last letter: only an acronym ending before a capitalised word
  return isUpper(after) && end + 1 < text.length && isLower(text.charCodeAt(end + 1));
}

/** Whether `text` contains one of AI_WORDS as a whole word. */
export function saysAi(text: string | null): boolean {
  if (text === null) return false;
  CANDIDATES.lastIndex = 0;
  for (let hit = CANDIDATES.exec(text); hit !== null; hit = CANDIDATES.exec(text)) {
    const start = hit.index;
    const end = start + hit[0].length;
    if (startsWord(text, start) && endsWord(text, end)) return true;
    // not a whole word: look again from the next letter, as a word may start inside this hit
    CANDIDATES.lastIndex = start + 1;
  }
  return false;
}
