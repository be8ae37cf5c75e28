// A CUR 2.0 bill with Bedrock, SageMaker, GPU instances, tax, a credit and a refund
// (test/fixtures/cloud/cur2.ts) imported through the API as CSV.gz and as its Parquet twin, then
// read back by category, charge type, model and token type. The expected amounts are the fixture's
// costs added by hand, each first rounded half away from zero to 9 decimals:
//   bedrock usage: 3.75 + 1.47 + 0.1200003 + 0.01249875 + 0.006000001 (0.0060000005) = 5.358499051
//   bedrock tax 0.531 (0.5310000001), bedrock credit -2.5
//   sagemaker usage 1.515; gpu_compute usage 98.32 + 0.503 (5.03E-1) = 98.823
//   non_ai: refund -0.25 (-.25), usage 0.000000001 (+0.0000000005)
import { describe, expect, it } from "vitest";
import { CUR2_ROWS, toCsv, toParquet } from "../fixtures/cloud/cur2.ts";
import type { CloudImportView } from "../../workers/cloud/index.ts";
import { newTenant, type Tenant } from "../helpers.ts";
import { importFinished } from "./support.ts";

type Row = Record<string, string | number | null>;

/** Rows of values in one order whatever order they came in. */
function sorted(rows: readonly (string | number | null | undefined)[][]): string[] {
  return rows.map((r) => JSON.stringify(r)).sort((a, b) => a.localeCompare(b));
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function importFile(t: Tenant, bytes: Uint8Array): Promise<CloudImportView> {
  const res = await t.api("/cloud/imports", {
    method: "POST",
    headers: { "content-length": String(bytes.byteLength) },
    body: bytes,
  });
  expect(res.status).toBe(202);
  const { id } = (await res.json()) as { id: string };
  return importFinished(t, id);
}

async function spend(t: Tenant, query: string): Promise<Row[]> {
  const res = await t.api(`/cloud/spend?from=2025-06-01&to=2025-06-30&${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: Row[] }).data;
}

const BY_CATEGORY = sorted([
  ["bedrock", "usage", "5.358499051"],
  ["bedrock", "tax", "0.531"],
  ["bedrock", "credit", "-2.50"],
  ["sagemaker", "usage", "1.515"],
  ["gpu_compute", "usage", "98.823"],
  ["non_ai", "usage", "0.000000001"],
  ["non_ai", "refund", "-0.25"],
]);

const CONTAINERS = [
  ["CSV.gz", async () => ({ bytes: await gzip(new TextEncoder().encode(toCsv(CUR2_ROWS))), format: "csv.gz" })],
  ["Parquet", async () => ({ bytes: new Uint8Array(toParquet(CUR2_ROWS)), format: "parquet" })],
] as const;

describe.each(CONTAINERS)("a CUR 2.0 bill as %s", (_name, make) => {
  it("is classified: spend by category and charge type, Bedrock by model and token type", async () => {
    const t = await newTenant({ providers: false });
    const { bytes, format } = await make();
    expect(await importFile(t, bytes)).toMatchObject({ status: "done", format, schema: "cur2" });
    const byCategory = await spend(t, "group_by=category,charge_type");
    expect(sorted(byCategory.map((r) => [r.category, r.charge_type, r.cost]))).toEqual(BY_CATEGORY);
    const sonnet = await spend(t, "group_by=model,token_type&model=Claude4Sonnet");
    expect(sorted(sonnet.map((r) => [r.token_type, r.cost, r.usage_amount, r.usage_unit]))).toEqual(
      sorted([
        ["input", "3.75", "1250000", "Count"],
        ["output", "1.47", "98000", "Count"],
        ["cache_read", "0.1200003", "400001", "Count"],
        ["cache_write", "0.01249875", "3333", "Count"],
      ]),
    );
    const gpu = await spend(t, "group_by=instance_type,account&category=gpu_compute");
    expect(sorted(gpu.map((r) => [r.instance_type, r.account, r.cost]))).toEqual(
      sorted([
        ["g5.xlarge", "777788889999", "0.503"],
        ["p5.48xlarge", "777788889999", "98.32"],
      ]),
    );
    const byDay = await spend(t, "group_by=day&category=bedrock&charge_type=usage");
    expect(byDay.map((r) => [r.day, r.cost])).toEqual([
      ["2025-06-03", "5.35249905"],
      ["2025-06-04", "0.006000001"],
    ]);
  });
});
