// docs/cloud.md's classification table is the rules' public description: it names every rule of
// RULES (and the two fallbacks), in the order they are tried, and no rule that does not exist.
import { describe, expect, it } from "vitest";
import doc from "../../../docs/cloud.md?raw";
import { NON_AI_RULE, RULES, UNKNOWN_AI_RULE } from "../../../workers/cloud/classify/index.ts";

function documentedIds(): string[] {
  const section = doc.slice(doc.indexOf("## Classification"), doc.indexOf("## What is kept"));
  return [...section.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((m) => m[1] ?? "");
}

describe("docs/cloud.md, Classification", () => {
  it("lists every rule in the order it is tried, then the two fallbacks", () => {
    expect(documentedIds()).toEqual([...RULES.map((r) => r.id), UNKNOWN_AI_RULE, NON_AI_RULE]);
  });
});
