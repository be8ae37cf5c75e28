// The cloud-bill intake end to end through the API (docs/cloud.md): a file uploaded as the body
// of POST /api/v1/cloud/imports is stored in R2, read by the CloudImportWorkflow, classified and
// summed; GET /api/v1/cloud/imports/{id} reports it and GET /api/v1/cloud/spend reads it back.
// The bills are public samples nobody here shaped (../shared/external-data/README.md). Every
// expected amount was computed from the files with Python's decimal module, each BilledCost /
// lineItem/UnblendedCost rounded half away from zero to 9 decimals then summed:
//   csv.DictReader(...); sum(Decimal(c).quantize(Decimal("1e-9"), ROUND_HALF_UP))
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import focusSample from "../../../shared/external-data/focus-sample-data/focus_sample.csv?raw";
import legacyCur from "../../../shared/external-data/focus_converters/sample-anonymous-aws-export-dataset.csv?raw";
import type { CloudImportView } from "../../workers/cloud/index.ts";
import { newTenant, type Tenant } from "../helpers.ts";
import { importFinished } from "./support.ts";

type ImportView = CloudImportView;
type SpendRow = Record<string, string | number | null>;

const encoder = new TextEncoder();

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function upload(t: Tenant, bytes: Uint8Array, fileName = "bill.csv"): Promise<Response> {
  return t.api(`/cloud/imports?file_name=${encodeURIComponent(fileName)}`, {
    method: "POST",
    headers: { "content-type": "application/octet-stream", "content-length": String(bytes.byteLength) },
    body: bytes,
  });
}

async function imported(t: Tenant, bytes: Uint8Array, fileName?: string): Promise<ImportView> {
  const res = await upload(t, bytes, fileName);
  expect(res.status).toBe(202);
  const created = (await res.json()) as ImportView;
  return importFinished(t, created.id);
}

async function spend(t: Tenant, query: string): Promise<SpendRow[]> {
  const res = await t.api(`/cloud/spend?${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: SpendRow[] }).data;
}

const FOCUS_RANGE = "from=2024-08-01&to=2024-11-30";
const CUR_RANGE = "from=2023-10-01&to=2023-12-31";

describe("an uploaded bill is imported", () => {
  it("reads the FOCUS 1.0 sample: every row, each provider's billed total to the last digit", async () => {
    const t = await newTenant({ providers: false });
    const done = await imported(t, encoder.encode(focusSample), "focus_sample.csv");
    expect(done).toMatchObject({
      status: "done",
      format: "csv",
      schema: "focus",
      rows_read: 1000,
      billing_periods: ["2024-09", "2024-10"],
      error: null,
      file_name: "focus_sample.csv",
    });
    expect(done.bytes_read).toBe(done.bytes_total);
    const byProvider = await spend(t, `${FOCUS_RANGE}&group_by=provider`);
    expect(Object.fromEntries(byProvider.map((r) => [r.provider, r.cost]))).toEqual({
      aws: "18.006638651",
      microsoft: "1.976514186",
      oracle: "0.537073925",
    });
    expect(byProvider.every((r) => r.currency === "USD")).toBe(true);
    const total = await spend(t, FOCUS_RANGE);
    expect(total.map((r) => r.cost)).toEqual(["20.520226762"]);
    const lines = total.reduce((n, r) => n + Number(r.lines), 0);
    expect(lines).toBe(1000);
  });

  it("reads the legacy CUR sample as CSV.gz: its total, and AI spend exactly zero", async () => {
    const t = await newTenant({ providers: false });
    const done = await imported(t, await gzip(encoder.encode(legacyCur)), "cur.csv.gz");
    expect(done).toMatchObject({ status: "done", format: "csv.gz", schema: "cur_legacy", rows_read: 1281 });
    expect(done.billing_periods).toEqual(["2023-11"]);
    const byCategory = await spend(t, `${CUR_RANGE}&group_by=category`);
    expect(byCategory.map((r) => [r.category, r.cost])).toEqual([["non_ai", "1.682308713"]]);
    const tax = await spend(t, `${CUR_RANGE}&charge_type=tax`);
    expect(tax.map((r) => r.lines)).toEqual([12]);
  });

  it("re-importing a billing period replaces it; a failed import leaves it as it was", async () => {
    const t = await newTenant({ providers: false });
    const first = await imported(t, encoder.encode(legacyCur));
    expect(first.status).toBe("done");
    const second = await imported(t, encoder.encode(legacyCur));
    expect(second.status).toBe("done");
    expect((await spend(t, CUR_RANGE)).map((r) => r.cost)).toEqual(["1.682308713"]);
    // The first import's lines are deleted once the second replaced its period.
    const left = await env.DB.prepare("SELECT COUNT(*) AS n FROM cloud_lines WHERE tenant_id = ? AND import_id = ?")
      .bind(t.tenantId, first.id)
      .first<{ n: number }>();
    expect(left?.n).toBe(0);
    // Lines of an import still running (written, period not yet pointed at it) do not count.
    await env.DB.prepare(
      `INSERT INTO cloud_lines (tenant_id, import_id, period_key, day, provider, category, charge_type, currency,
         cost_nano, usage_micro, line_count)
       SELECT tenant_id, 'runningimprt', period_key, day, provider, category, charge_type, currency, cost_nano,
         usage_micro, line_count FROM cloud_lines WHERE tenant_id = ?`,
    )
      .bind(t.tenantId)
      .run();
    expect((await spend(t, CUR_RANGE)).map((r) => r.cost)).toEqual(["1.682308713"]);
    // A cut gzip of the same period fails and changes nothing.
    const whole = await gzip(encoder.encode(legacyCur));
    const cut = await imported(t, whole.slice(0, Math.floor(whole.byteLength / 2)));
    expect(cut.status).toBe("failed");
    expect(cut.error?.code).toBe("truncated");
    expect((await spend(t, CUR_RANGE)).map((r) => r.cost)).toEqual(["1.682308713"]);
    const failedLines = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM cloud_lines WHERE tenant_id = ? AND import_id = ?",
    )
      .bind(t.tenantId, cut.id)
      .first<{ n: number }>();
    expect(failedLines?.n).toBe(0);
  });

  it("keeps no copy of the bill once the import ended", async () => {
    const t = await newTenant({ providers: false });
    const done = await imported(t, encoder.encode(legacyCur));
    const listed = await env.CLOUD_BILLS.list({ prefix: `bills/${t.tenantId}/` });
    expect({ status: done.status, objects: listed.objects.length }).toEqual({ status: "done", objects: 0 });
  });
});

describe("bad uploads get a clear answer and store nothing", () => {
  it("refuses an empty body, a missing length and a body over 100 MB before reading it", async () => {
    const t = await newTenant({ providers: false });
    const empty = await upload(t, new Uint8Array(0));
    expect(empty.status).toBe(400);
    const huge = await t.api("/cloud/imports", {
      method: "POST",
      headers: { "content-length": String(100 * 1024 * 1024 + 1) },
      body: new ReadableStream({ start: (c) => c.close() }),
    });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: { code: string } }).error.code).toBe("payload_too_large");
    const list = (await (await t.api("/cloud/imports")).json()) as { data: ImportView[] };
    expect(list.data).toEqual([]);
  });

  it("fails an import of something that is not a bill, and one with an unknown header, with the reason", async () => {
    const t = await newTenant({ providers: false });
    const html = await imported(t, encoder.encode("<!doctype html><html><body>hello</body></html>\n"));
    expect(html.status).toBe("failed");
    expect(html.error?.code).toMatch(/^(not_a_bill|unknown_schema)$/);
    const other = await imported(t, encoder.encode("name,amount\nalice,1.00\n"));
    expect(other).toMatchObject({ status: "failed", error: { code: "unknown_schema" } });
    expect(await spend(t, "from=2020-01-01&to=2022-12-31")).toEqual([]);
  });

  it("answers 400 for spend queries it cannot read", async () => {
    const t = await newTenant({ providers: false });
    for (const query of [
      "group_by=colour",
      "group_by=day,month",
      "from=2024-13-01",
      "from=2024-02-30",
      "from=2024-03-01&to=2024-02-01",
      "from=2020-01-01&to=2024-01-01",
      `model=${"x".repeat(201)}`,
    ]) {
      const res = await t.api(`/cloud/spend?${query}`);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
    }
  });

  it("answers 404 for an import id that is not one, whatever its encoding", async () => {
    const t = await newTenant({ providers: false });
    for (const id of ["nope", "..%2F..%2Fkeys", "%5C..%5Cx", "aaaaaaaaaaaa%00"]) {
      const res = await t.api(`/cloud/imports/${id}`);
      expect({ id, status: res.status }).toEqual({ id, status: 404 });
    }
  });
});

describe("imports belong to one organisation", () => {
  it("another organisation's token sees none of its imports or spend", async () => {
    const owner = await newTenant({ providers: false });
    const other = await newTenant({ providers: false });
    const done = await imported(owner, encoder.encode(legacyCur));
    expect(done.status).toBe("done");
    const read = await other.api(`/cloud/imports/${done.id}`);
    expect(read.status).toBe(404);
    const list = (await (await other.api("/cloud/imports")).json()) as { data: ImportView[] };
    expect(list.data).toEqual([]);
    expect(await spend(other, CUR_RANGE)).toEqual([]);
    expect((await spend(owner, CUR_RANGE)).map((r) => r.cost)).toEqual(["1.682308713"]);
  });
});
