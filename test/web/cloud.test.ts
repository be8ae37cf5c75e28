// /cloud (Cloud AI spend): route tests in workerd — a CUR 2.0 bill (test/fixtures/cloud/cur2.ts)
// uploaded through the page's plain form, its import run by the real Workflow, and the page's
// figures: AI spend without credits and tax (shown apart), Bedrock by model and token type, GPU by
// instance type and account, two currencies never added, days or months by range length; the
// import history polling while an import runs; the form refused without its CSRF field or with a
// body that does not end as a form must; the script's multipart routes (wrong part size, missing
// parts, CSRF header missing); other organisations' import ids a 404 on every route taking one;
// viewers read but do not upload. The expected amounts are the fixture's costs added by hand (see
// test/cloud/cur2-import.test.ts's header):
//   AI spend (usage) = bedrock 5.358499051 + sagemaker 1.515 + gpu 98.823 = 105.696499051 → $105.70
//   credits (bedrock) -2.50; tax (bedrock) 0.531 → $0.53
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CUR2_ROWS, toCsv, type Cur2Row } from "../fixtures/cloud/cur2.ts";
import type { Page } from "../auth/browser.ts";
import { addMember, newOrg, type Org } from "../auth/orgs.ts";
import {
  completeUpload,
  finished,
  importsOf,
  putPart,
  scriptRequest,
  startUpload,
  uploadForm,
  utf8,
} from "./cloud-support.ts";

const JUNE = "from=2025-06-01&to=2025-06-30";
/** Uploads `rows` as a CSV through the form and waits for its import. */
async function imported(org: Org, rows: readonly Cur2Row[] = CUR2_ROWS, name = "cur-2025-06.csv") {
  const page = await uploadForm(org.owner.b, { name, bytes: utf8.encode(toCsv(rows)) });
  if (page.status !== 303 || page.location !== "/cloud?uploaded=1") throw new Error(`upload: ${page.status}`);
  const last = (await importsOf(org)).at(-1);
  if (!last) throw new Error("no import made");
  return finished(org, last.id);
}

/** The text of the figure titled `title` in the section for `currency`. */
function figure(html: string, currency: string, title: string): string {
  const section = html.split(`<h2 id="ai-${currency.toLowerCase()}-h">`)[1]?.split("</section>")[0] ?? "";
  return new RegExp(`<h3>${title}</h3><p class="figure-value">([^<]*)</p>`).exec(section)?.[1] ?? "";
}

/** A table row's cells, by its row header. */
function rowCells(html: string, header: string): string[] {
  const row = new RegExp(`<th scope="row">${header}</th>(.*?)</tr>`).exec(html)?.[1] ?? "";
  return [...row.matchAll(/<td[^>]*>([^<]*)<\/td>/g)].map((m) => m[1] ?? "");
}

async function json(page: Page): Promise<Record<string, unknown>> {
  return JSON.parse(page.html) as Record<string, unknown>;
}

describe("/cloud: the figures of an imported bill", () => {
  it("shows AI spend by category, credits and tax apart, Bedrock by model and token type, GPU by type and account", async () => {
    const org = await newOrg("CloudFigures");
    const empty = await org.owner.b.get("/cloud");
    expect(empty.status).toBe(200);
    expect(empty.html).toContain("No cloud bill yet");
    expect(empty.html).toContain("--data-binary @cur-2026-11.csv.gz");
    expect(empty.html).toContain('<a href="/cloud" aria-current="page">Cloud AI spend</a>');

    expect(await imported(org)).toMatchObject({ status: "done", error: null });
    const page = await org.owner.b.get(`/cloud?${JUNE}`);
    expect(page.status).toBe(200);
    expect({
      ai: figure(page.html, "USD", "AI spend"),
      credits: figure(page.html, "USD", "Credits and refunds"),
      tax: figure(page.html, "USD", "Tax"),
    }).toEqual({ ai: "$105.70", credits: "-$2.50", tax: "$0.53" });
    // by category: bedrock 5.358499051, sagemaker 1.515, gpu 98.823 (usage only)
    expect(rowCells(page.html, "Amazon Bedrock")).toEqual(["$5.36"]);
    expect(rowCells(page.html, "SageMaker")).toEqual(["$1.52"]);
    expect(rowCells(page.html, "GPU instances")).toEqual(["$98.82"]);
    expect(page.html).not.toContain('<th scope="row">Other AI services</th>');
    // Bedrock by model and token type: the model's input and output lines with their token counts
    expect(page.html).toMatch(
      /<th scope="row">Claude4Sonnet<\/th><td>input<\/td><td class="num">1,250,000 Count<\/td><td class="num">\$3\.75<\/td>/,
    );
    expect(page.html).toMatch(
      /<th scope="row">Claude4Sonnet<\/th><td>output<\/td><td class="num">98,000 Count<\/td><td class="num">\$1\.47<\/td>/,
    );
    // GPU by instance type and account
    expect(page.html).toMatch(/<th scope="row">p5\.48xlarge<\/th><td>777788889999<\/td><td class="num">\$98\.32<\/td>/);
    expect(page.html).toMatch(/<th scope="row">g5\.xlarge<\/th><td>777788889999<\/td><td class="num">\$0\.50<\/td>/);
    // a range of 30 days is drawn by day
    expect(page.html).toContain("By category, per day");
    expect(page.html).toContain("<title>Jun 3, 2025: $5.35</title>");
    // the import in the history, done, with its format and rows
    expect(page.html).toMatch(/cur-2025-06\.csv<\/a>.*?<span class="badge ok">done<\/span>/s);
    expect(page.html).toContain("csv · cur2");
  });

  it("keeps two currencies apart and draws ranges over 62 days by month", async () => {
    const org = await newOrg("CloudEuro");
    // The Bedrock input line billed in EUR: 3.75 EUR leaves USD 105.696499051 - 3.75 = 101.946499051.
    const rows = CUR2_ROWS.map((r) =>
      r.line_item_usage_type === "USE1-Claude4Sonnet-input-tokens" ? { ...r, line_item_currency_code: "EUR" } : r,
    );
    expect(await imported(org, rows)).toMatchObject({ status: "done" });
    const page = await org.owner.b.get("/cloud?from=2025-04-01&to=2025-07-31");
    expect({ eur: figure(page.html, "EUR", "AI spend"), usd: figure(page.html, "USD", "AI spend") }).toEqual({
      eur: "€3.75",
      usd: "$101.95",
    });
    expect(page.html).toContain("By category, per month");
    expect(page.html).toContain("<title>June 2025: €3.75</title>");
    expect(page.html).toContain("<title>May 2025: €0.00</title>");
  });

  it("takes the range presets, and says so beside the default when a range is not one", async () => {
    const org = await newOrg("CloudRange");
    expect(await imported(org)).toMatchObject({ status: "done" });
    const backwards = await org.owner.b.get("/cloud?from=2025-06-30&to=2025-06-01");
    expect(backwards.status).toBe(200);
    expect(backwards.html).toContain("The last day must not be before the first.");
    expect(backwards.html).toContain('<a href="/cloud?range=90d" aria-current="true">90 days</a>');
    const notADay = await org.owner.b.get("/cloud?from=2025-02-30&to=2025-06-01");
    expect(notADay.html).toContain("Give the first and last day as dates (YYYY-MM-DD).");
    const year = await org.owner.b.get("/cloud?range=365d");
    expect(year.html).toContain('<a href="/cloud?range=365d" aria-current="true">12 months</a>');
    expect(year.html).toContain("12 months (");
  });

  it("shows an import's warnings and error, and polls only while it is queued or running", async () => {
    const org = await newOrg("CloudHistory");
    // One bad cost among 13 rows: a warning naming its row and column, not a failed import.
    const first = CUR2_ROWS[0] ?? {};
    const warned = await imported(org, [...CUR2_ROWS, { ...first, line_item_unblended_cost: "twelve" }], "warned.csv");
    expect(warned.status).toBe("done");
    const warnedPage = await org.owner.b.get(`/cloud/imports/${warned.id}`);
    expect(warnedPage.html).toContain("<summary>1 warning</summary>");
    expect(warnedPage.html).toMatch(
      new RegExp(`<li>row ${CUR2_ROWS.length + 1}, column line_item_unblended_cost: [^<]+</li>`),
    );

    const notBill = await uploadForm(org.owner.b, {
      name: "notes.txt",
      bytes: utf8.encode("hello, world\nnot a bill\n"),
    });
    expect(notBill.status).toBe(303);
    const failedId = (await importsOf(org)).at(-1)?.id ?? "";
    expect((await finished(org, failedId)).status).toBe("failed");
    const one = await org.owner.b.get(`/cloud/imports/${failedId}`);
    expect(one.status).toBe(200);
    expect(one.html).toContain('<span class="badge danger">failed</span>');
    expect(one.html).toMatch(/<p class="field-error">[^<]+<\/p>/);
    expect(one.html).not.toContain('hx-trigger="every 2s"');

    // A multipart upload waiting for its parts is queued: its row polls itself.
    await org.owner.b.get("/cloud");
    const started = await json(await startUpload(org.owner.b, 1000));
    const list = await org.owner.b.get("/cloud");
    expect(list.html).toContain(
      `hx-get="/cloud/imports/${String(started.id)}" hx-trigger="every 2s" hx-swap="outerHTML"`,
    );
    expect(list.html).toContain("waiting for its parts");
    const fragment = await org.owner.b.request(`/cloud/imports/${String(started.id)}`, {
      headers: { "hx-request": "true" },
    });
    expect(fragment.html).toMatch(/^<tr id="import-[a-z2-7]{12}" hx-get=/);
  });
});

describe("the overview: gateway and cloud AI spend side by side", () => {
  it("shows this month's cloud AI spend (credits and tax apart) beside the gateway's, with a link to the page", async () => {
    const org = await newOrg("CloudOverview");
    const before = await org.owner.b.get("/");
    expect(before.html).toContain('<h2 id="side-h">This month: gateway and cloud AI spend</h2>');
    expect(before.html).toContain("no imported bill covers this month");
    // The fixture moved to this month (UTC): its June 2025 days become this month's days 3 to 5.
    const now = new Date();
    const month = now.toISOString().slice(0, 7);
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1)).toISOString().slice(0, 10);
    const csv = toCsv(CUR2_ROWS).replaceAll("2025-07-01", next).replaceAll("2025-06-", `${month}-`);
    const page = await uploadForm(org.owner.b, { name: "this-month.csv", bytes: utf8.encode(csv) });
    expect(page.status).toBe(303);
    const id = (await importsOf(org)).at(-1)?.id ?? "";
    expect((await finished(org, id)).status).toBe("done");
    const overview = await org.owner.b.get("/");
    const section = overview.html.split('<h2 id="side-h">')[1]?.split("</section>")[0] ?? "";
    expect(section).toMatch(/<h3>Gateway spend<\/h3><p class="figure-value">\$0\.00<\/p>/);
    expect(section).toMatch(/<h3>Cloud AI spend \(USD\)<\/h3><p class="figure-value">\$105\.70<\/p>/);
    expect(section).toContain('<a href="/cloud?range=this_month">Cloud AI spend</a>');
  });
});

describe("/cloud: uploading", () => {
  it("the plain form's upload ends in an import; without its CSRF field nothing is made", async () => {
    const org = await newOrg("CloudForm");
    const refused = await uploadForm(
      org.owner.b,
      { name: "x.csv", bytes: utf8.encode(toCsv(CUR2_ROWS)) },
      { csrf: false },
    );
    expect(refused.status).toBe(403);
    expect(await importsOf(org)).toEqual([]);
    const done = await imported(org);
    expect(done).toMatchObject({ status: "done", file_name: "cur-2025-06.csv" });
    const page = await org.owner.b.get("/cloud?uploaded=1");
    expect(page.html).toContain("Uploaded: the import has started");
  });

  it("a form with another part after the file stores nothing", async () => {
    const org = await newOrg("CloudFormTail");
    const bytes = utf8.encode(toCsv(CUR2_ROWS));
    const page = await uploadForm(org.owner.b, { name: "y.csv", bytes }, { after: [["more", "value"]] });
    expect(page.status).toBe(400);
    expect(await importsOf(org)).toMatchObject([{ file_name: "y.csv", status: "failed" }]);
    const stored = await env.CLOUD_BILLS.list({ prefix: `bills/${org.tenantId}/` });
    expect(stored.objects.length).toBe(0);
  });

  it("the script's multipart routes: a part of the wrong size, missing parts, no CSRF header are refused", async () => {
    const org = await newOrg("CloudParts");
    const b = org.owner.b;
    await b.get("/cloud");
    const bytes = utf8.encode(toCsv(CUR2_ROWS));
    const noHeader = await scriptRequest(b, "/cloud/uploads", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `size=${bytes.length}`,
      csrf: false,
    });
    expect(noHeader.status).toBe(403);
    expect(await importsOf(org)).toEqual([]);

    const big = await startUpload(b, 60 * 1024 * 1024);
    expect(big.status).toBe(201);
    const bigParts = (await json(big)).parts as { url: string; size: number }[];
    expect(bigParts.map((p) => p.size)).toEqual([50 * 1024 * 1024, 10 * 1024 * 1024]);
    const missing = await completeUpload(b, String((await json(big)).complete_url));
    expect(missing.status).toBe(409);
    expect(missing.html).toContain("Parts still missing: 1, 2.");
    const wrongSize = await putPart(b, bigParts[0]?.url ?? "", bytes);
    expect(wrongSize.status).toBe(400);
    expect(wrongSize.html).toContain(`Part 1 must be exactly ${50 * 1024 * 1024} bytes`);

    const small = await json(await startUpload(b, bytes.length, "parts.csv"));
    const [part] = small.parts as { url: string }[];
    expect((await putPart(b, part?.url ?? "", bytes, { csrf: false })).status).toBe(403);
    expect((await putPart(b, part?.url ?? "", bytes)).status).toBe(200);
    const complete = await completeUpload(b, String(small.complete_url));
    expect(complete.status).toBe(202);
    expect(await finished(org, String(small.id))).toMatchObject({ status: "done", file_name: "parts.csv" });
  });

  it("another organisation's import id is a 404 on every route that takes one", async () => {
    const mine = await newOrg("CloudMine");
    const other = await newOrg("CloudOther");
    await other.owner.b.get("/cloud");
    const theirs = await json(await startUpload(other.owner.b, 100));
    const id = String(theirs.id);
    await mine.owner.b.get("/cloud");
    const seen = {
      page: (await mine.owner.b.get(`/cloud/imports/${id}`)).status,
      fragment: (await mine.owner.b.request(`/cloud/imports/${id}`, { headers: { "hx-request": "true" } })).status,
      part: (await putPart(mine.owner.b, `/cloud/uploads/${id}/parts/1`, new Uint8Array(100))).status,
      complete: (await completeUpload(mine.owner.b, `/cloud/uploads/${id}/complete`)).status,
    };
    expect(seen).toEqual({ page: 404, fragment: 404, part: 404, complete: 404 });
    // ... and the other organisation's upload is untouched: still waiting for its part.
    expect((await importsOf(other)).map((r) => r.status)).toEqual(["queued"]);
    const ownPage = await other.owner.b.get(`/cloud/imports/${id}`);
    expect(ownPage.status).toBe(200);
  });

  it("a viewer reads the page and imports, but gets no form and may not upload", async () => {
    const org = await newOrg("CloudViewer");
    const viewer = await addMember(org, "viewer");
    expect(await imported(org)).toMatchObject({ status: "done" });
    const page = await viewer.b.get(`/cloud?${JUNE}`);
    expect(page.status).toBe(200);
    expect(figure(page.html, "USD", "AI spend")).toBe("$105.70");
    expect(page.html).not.toContain('action="/cloud/imports"');
    const refused = await uploadForm(viewer.b, { name: "v.csv", bytes: utf8.encode(toCsv(CUR2_ROWS)) });
    expect(refused.status).toBe(403);
    expect((await importsOf(org)).length).toBe(1);
  });
});
