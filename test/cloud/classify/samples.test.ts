// Classification of whole public bills nobody here shaped (../shared/external-data/README.md):
// the anonymised legacy CUR export has no AI spend at all, and the FOCUS 1.0 sample's AI rows are
// its Azure Machine Learning rows and its GPU (g3, g5) EC2 rows. The expected counts come from the
// raw text, not from the code under test; the files are read here with a small CSV reader of the
// test's own (the import's parser is not what this checks).
import { describe, expect, it } from "vitest";
import legacyCur from "../../../../shared/external-data/focus_converters/sample-anonymous-aws-export-dataset.csv?raw";
import focusSample from "../../../../shared/external-data/focus-sample-data/focus_sample.csv?raw";
import { classify } from "../../../workers/cloud/classify/index.ts";
import type { BillLine, Category } from "../../../workers/cloud/line.ts";
import { billLine } from "./bill-line.ts";

/** RFC 4180 rows: quoted fields may hold commas, doubled quotes and line breaks. */
function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else if (ch !== "\r") field += ch;
  }
  if (field !== "" || row.length > 0) rows.push([...row, field]);
  return rows;
}

/** Rows as records keyed by header; empty cells and the literal NULL are null, as the parser gives them. */
function records(text: string): Record<string, string | null>[] {
  const [header = [], ...rows] = csvRows(text);
  return rows.map((row) =>
    Object.fromEntries(
      header.map((name, i) => [
        name,
        row[i] === undefined || row[i] === "" || row[i] === "NULL" ? null : (row[i] ?? "").trim(),
      ]),
    ),
  );
}

function tally(lines: BillLine[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of lines) {
    const category: Category = classify(line).category;
    counts[category] = (counts[category] ?? 0) + 1;
  }
  return counts;
}

describe("the legacy CUR sample (focus_converters, 1,281 rows)", () => {
  const lines = records(legacyCur).map((r, i) =>
    billLine({
      row: i + 1,
      serviceCode: r["lineItem/ProductCode"] ?? null,
      serviceName: r["product/ProductName"] ?? null,
      usageType: r["lineItem/UsageType"] ?? null,
      operation: r["lineItem/Operation"] ?? null,
      lineItemType: r["lineItem/LineItemType"] ?? null,
      description: r["lineItem/LineItemDescription"] ?? null,
      instanceType: r["product/instanceType"] ?? null,
    }),
  );

  it("is read whole", () => {
    expect(lines).toHaveLength(1281);
  });

  it("has no AI line at all", () => {
    expect(tally(lines)).toEqual({ non_ai: 1281 });
  });
});

describe("the FOCUS 1.0 sample (FOCUS-Sample-Data, 1,000 rows)", () => {
  const raw = focusSample.split("\n").slice(1);
  const lines = records(focusSample).map((r, i) =>
    billLine({
      row: i + 1,
      provider: (r.ProviderName ?? "").toLowerCase(),
      serviceCode: r.ServiceName ?? null,
      serviceName: r.ServiceName ?? null,
      serviceCategory: r.ServiceCategory ?? null,
      lineItemType: r.ChargeCategory ?? null,
      chargeClass: r.ChargeClass ?? null,
      description: r.ChargeDescription ?? null,
      costNano: (r.BilledCost ?? "").startsWith("-") ? -1n : 1n,
    }),
  );

  it("is read whole", () => {
    expect(lines).toHaveLength(1000);
  });

  it("files its Azure ML rows under other_ai and its g3/g5 EC2 rows under gpu_compute", () => {
    // counted on the raw text: rows of the AI category, rows whose description names a g3/g5 instance
    const ai = raw.filter((row) => row.includes('"AI and Machine Learning"')).length;
    const gpu = raw.filter((row) => /On Demand Linux g[35]\.\w+ Instance Hour/.test(row)).length;
    expect({ ai, gpu }).toEqual({ ai: 9, gpu: 10 });
    expect(tally(lines)).toEqual({ other_ai: ai, gpu_compute: gpu, non_ai: 1000 - ai - gpu });
  });
});
