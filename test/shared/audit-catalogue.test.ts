// docs/audit.md is the audit events' catalogue: a `### <type>` section for every type in
// AUDIT_TYPES and none for a type that does not exist, and every ```json example a complete v1
// event (the envelope of shared/audit.ts) of the type of the section it sits in.
import { describe, expect, it } from "vitest";
import doc from "../../docs/audit.md?raw";
import { AUDIT_TYPES } from "../../shared/audit.ts";
import { V1Event } from "./v1-event.ts";

type Example = { section: string; line: number; text: string };

/** The `### ` headings after `## Catalogue`, and every ```json block with the heading it sits under. */
function readDoc(markdown: string): { catalogue: string[]; examples: Example[] } {
  const catalogue: string[] = [];
  const examples: Example[] = [];
  let inCatalogue = false;
  let section = "";
  let block: Example | null = null;
  for (const [i, line] of markdown.split("\n").entries()) {
    if (block) {
      if (line.startsWith("```")) {
        examples.push(block);
        block = null;
      } else block.text += `${line}\n`;
      continue;
    }
    if (line.startsWith("```json")) block = { section: inCatalogue ? section : "", line: i + 1, text: "" };
    else if (line.startsWith("## ")) inCatalogue = line === "## Catalogue";
    else if (line.startsWith("### ")) {
      section = line.slice(4).trim();
      if (inCatalogue) catalogue.push(section);
    }
  }
  return { catalogue, examples };
}

/** What is wrong with one example, as readable lines (none when it is a v1 event of its section). */
function problemsOf(example: Example): string[] {
  const where = `docs/audit.md:${example.line} (${example.section || "envelope"})`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(example.text);
  } catch (error) {
    return [`${where}: not JSON: ${error instanceof Error ? error.message : "unknown"}`];
  }
  const event = V1Event.safeParse(parsed);
  if (!event.success) return event.error.issues.map((i) => `${where}: ${i.path.join(".")}: ${i.message}`);
  if (example.section && event.data.type !== example.section) {
    return [`${where}: type ${event.data.type} in the section of ${example.section}`];
  }
  return [];
}

describe("docs/audit.md, the audit event catalogue", () => {
  const { catalogue, examples } = readDoc(doc);

  it("has a section for every audit type", () => {
    expect(AUDIT_TYPES.filter((t) => !catalogue.includes(t))).toEqual([]);
  });

  it("has no section for a type that does not exist, and none twice", () => {
    expect(catalogue.filter((s) => !(AUDIT_TYPES as readonly string[]).includes(s))).toEqual([]);
    expect(catalogue.filter((s, i) => catalogue.indexOf(s) !== i)).toEqual([]);
  });

  it("has an example in every section", () => {
    expect(catalogue.filter((s) => !examples.some((e) => e.section === s))).toEqual([]);
  });

  it("every example is a complete v1 event of its section's type", () => {
    expect(examples.length).toBeGreaterThan(AUDIT_TYPES.length);
    expect(examples.flatMap(problemsOf)).toEqual([]);
  });
});
