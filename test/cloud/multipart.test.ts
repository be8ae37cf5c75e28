// Multipart uploads of large bills (docs/cloud.md, "Multipart"): POST {upload: "multipart", size}
// gives the part URLs, each part is PUT with exactly its size, POST …/complete makes the file whole
// in R2 and starts its import. Expected amounts: the legacy CUR sample's total (1.682308713, see
// imports.test.ts) times the number of copies in the file.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import legacyCur from "../../../shared/external-data/focus_converters/sample-anonymous-aws-export-dataset.csv?raw";
import { newTenant, type Tenant } from "../helpers.ts";
import { importFinished } from "./support.ts";

type Part = { part_number: number; url: string; size: number };
type Opened = {
  id: string;
  status: string;
  upload: { part_size: number; parts_total: number } | null;
  parts: Part[];
  complete_url: string;
};
type ImportView = { id: string; status: string; rows_read: number; error: { code: string } | null; upload: unknown };

const encoder = new TextEncoder();
const MIB = 1024 * 1024;

/** The legacy CUR sample with its data rows repeated `copies` times under one header. */
function repeatedCur(copies: number): Uint8Array {
  const newline = legacyCur.indexOf("\n");
  const header = legacyCur.slice(0, newline + 1);
  const body = legacyCur.slice(newline + 1);
  const rows = body.endsWith("\n") ? body : `${body}\n`;
  return encoder.encode(header + rows.repeat(copies));
}

async function open(t: Tenant, size: number): Promise<Response> {
  return t.api("/cloud/imports", { method: "POST", json: { upload: "multipart", size, file_name: "big.csv" } });
}

function put(t: Tenant, url: string, bytes: Uint8Array): Promise<Response> {
  return t.api(url.replace("/api/v1", ""), {
    method: "PUT",
    headers: { "content-length": String(bytes.byteLength) },
    body: bytes,
  });
}

describe("multipart uploads", () => {
  it("uploads a file of two parts out of order, completes it and imports it", { timeout: 90_000 }, async () => {
    const t = await newTenant({ providers: false });
    const copies = 52; // a little over 50 MiB: two parts
    const file = repeatedCur(copies);
    expect(file.byteLength).toBeGreaterThan(50 * MIB);
    const res = await open(t, file.byteLength);
    expect(res.status).toBe(201);
    const opened = (await res.json()) as Opened;
    expect(opened).toMatchObject({ status: "queued", upload: { part_size: 50 * MIB, parts_total: 2 } });
    expect(opened.parts.map((p) => [p.part_number, p.size])).toEqual([
      [1, 50 * MIB],
      [2, file.byteLength - 50 * MIB],
    ]);
    const [first, second] = opened.parts;
    if (!first || !second) throw new Error("two parts expected");
    // Completing before the parts arrived names what is missing.
    const early = await t.api(opened.complete_url.replace("/api/v1", ""), { method: "POST" });
    expect(early.status).toBe(409);
    expect(await early.text()).toContain("1, 2");
    // A part of the wrong size is refused.
    const wrong = await put(t, second.url, file.subarray(0, 10));
    expect(wrong.status).toBe(400);
    expect((await put(t, second.url, file.subarray(first.size))).status).toBe(200);
    expect((await put(t, first.url, file.subarray(0, first.size))).status).toBe(200);
    const done = await t.api(opened.complete_url.replace("/api/v1", ""), { method: "POST" });
    expect(done.status).toBe(202);
    const again = await t.api(opened.complete_url.replace("/api/v1", ""), { method: "POST" });
    expect(again.status).toBe(409);
    const view = await importFinished(t, opened.id, 60_000);
    expect({ status: view.status, rows: view.rows_read, upload: view.upload }).toEqual({
      status: "done",
      rows: 1281 * copies,
      upload: null,
    });
    const spend = (await (await t.api("/cloud/spend?from=2023-11-01&to=2023-11-30")).json()) as {
      data: { cost: string }[];
    };
    // 1.682308713 × 52, exact
    expect(spend.data.map((r) => r.cost)).toEqual(["87.480053076"]);
  });

  it("refuses parts outside the upload, bodies that are not JSON, and sizes it cannot take", async () => {
    const t = await newTenant({ providers: false });
    const opened = (await (await open(t, 1000)).json()) as Opened;
    expect(opened.parts).toHaveLength(1);
    for (const n of ["0", "2", "-1", "1e3", "%2e%2e", "99999999"]) {
      const res = await t.api(`/cloud/imports/${opened.id}/parts/${n}`, {
        method: "PUT",
        headers: { "content-length": "1000" },
        body: new Uint8Array(1000),
      });
      expect({ n, status: res.status }).toEqual({ n, status: 404 });
    }
    for (const body of [
      { upload: "multipart" },
      { upload: "multipart", size: 0 },
      { upload: "single", size: 10 },
      { upload: "multipart", size: 2e12 },
    ]) {
      const res = await t.api("/cloud/imports", { method: "POST", json: body });
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
    // The largest file: 10,000 parts of exactly 100 MB (10⁸ bytes), none larger; a byte more is refused.
    const largest = (await (await open(t, 1e12)).json()) as Opened;
    expect({ partSize: largest.upload?.part_size, parts: largest.parts.length }).toEqual({
      partSize: 100_000_000,
      parts: 10_000,
    });
    expect(largest.parts.every((p) => p.size === 100_000_000)).toBe(true);
    expect((await open(t, 1e12 + 1)).status).toBe(400);
    const notJson = await t.api("/cloud/imports", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(notJson.status).toBe(400);
  });

  it("has no parts for an import uploaded whole, nor for another organisation", async () => {
    const owner = await newTenant({ providers: false });
    const other = await newTenant({ providers: false });
    const opened = (await (await open(owner, 1000)).json()) as Opened;
    const bytes = new Uint8Array(1000);
    const stranger = await put(other, `/api/v1/cloud/imports/${opened.id}/parts/1`, bytes);
    expect(stranger.status).toBe(404);
    const strangerComplete = await other.api(`/cloud/imports/${opened.id}/complete`, { method: "POST" });
    expect(strangerComplete.status).toBe(404);
    const parts = await env.DB.prepare("SELECT COUNT(*) AS n FROM cloud_import_parts WHERE import_id = ?")
      .bind(opened.id)
      .first<{ n: number }>();
    expect(parts?.n).toBe(0);
    const whole = encoder.encode(legacyCur);
    const created = (await (
      await owner.api("/cloud/imports", {
        method: "POST",
        headers: { "content-length": String(whole.byteLength) },
        body: whole,
      })
    ).json()) as ImportView;
    const res = await put(owner, `/api/v1/cloud/imports/${created.id}/parts/1`, bytes);
    expect(res.status).toBe(409);
  });
});
