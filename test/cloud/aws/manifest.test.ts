// CUR 2.0 and legacy CUR discovery against the S3 stand-in, on layouts written as AWS Data
// Exports and the legacy CUR write them (workers/cloud/aws/README.md cites the layout).
import { describe, expect, it } from "vitest";
import { changedPeriods, discoverPeriods, findManifests } from "../../../workers/cloud/aws/index.ts";
import { BUCKET, DENIED_BUCKET, SEEDED } from "../../stand-ins/aws/fixtures.ts";
import { bucket, freshPrefix, gzip, put, session } from "./support.ts";

async function writeCur2(
  prefix: string,
  name: string,
  period: string,
  executionId: string,
  parts: string[],
): Promise<string[]> {
  const keys: string[] = [];
  for (const [i, text] of parts.entries()) {
    const key = `${prefix}/${name}/data/BILLING_PERIOD=${period}/${executionId}/${name}-${String(i + 1).padStart(5, "0")}.csv.gz`;
    await put(key, await gzip(text));
    keys.push(key);
  }
  const manifest = {
    executionId,
    exportArn: "arn:aws:bcm-data-exports:us-east-1:111122223333:export/x",
    columns: [],
    dataFiles: keys.map((k) => `s3://${BUCKET}/${k}`),
  };
  await put(`${prefix}/${name}/metadata/BILLING_PERIOD=${period}/${name}-Manifest.json`, JSON.stringify(manifest));
  return keys;
}

describe("discoverPeriods", () => {
  it("finds the seeded CUR 2.0 export's periods, with data files and sizes", async () => {
    const found = await discoverPeriods(bucket(await session()), SEEDED.prefix);
    const periods = found.ok ? found.value.periods : [];
    expect(periods.map((p) => [p.kind, p.exportName, p.billingPeriod, p.executionId, p.complete])).toEqual(
      SEEDED.periods.map((period) => ["cur2", SEEDED.exportName, period, `exec-${period}-0001`, true]),
    );
    expect(periods[0]).toMatchObject({
      manifestKey: `cur/outlay-cur2/metadata/BILLING_PERIOD=2026-10/outlay-cur2-Manifest.json`,
      dataFiles: [
        { key: "cur/outlay-cur2/data/BILLING_PERIOD=2026-10/outlay-cur2-00001.csv.gz", size: expect.any(Number) },
      ],
      fingerprint: expect.stringMatching(/^cur2:exec-2026-10-0001:".+"$/),
    });
  });

  it("changes a period's fingerprint when its manifest is rewritten, and only that period's", async () => {
    const prefix = freshPrefix("cur2");
    const parts = ["line_item_unblended_cost\n1.5\n", "line_item_unblended_cost\n2.25\n"];
    const keys = await writeCur2(prefix, "bills", "2026-09", "e1", parts);
    await writeCur2(prefix, "bills", "2026-10", "e1", parts.slice(0, 1));
    const s3 = bucket(await session());
    const before = await discoverPeriods(s3, prefix);
    const first = before.ok ? before.value.periods : [];
    expect(first.map((p) => [p.billingPeriod, p.dataFiles.map((f) => f.key)])).toEqual([
      ["2026-09", keys],
      ["2026-10", keys.slice(0, 1).map((k) => k.replace("2026-09", "2026-10"))],
    ]);
    const sizes = await Promise.all(parts.map(async (p) => (await gzip(p)).length));
    expect(first[0]?.dataFiles.map((f) => f.size)).toEqual(sizes);
    const seen = new Map(first.map((p) => [p.manifestKey, p.fingerprint]));
    expect(changedPeriods(first, seen)).toEqual([]);

    await writeCur2(prefix, "bills", "2026-10", "e2", parts);
    const after = await discoverPeriods(s3, prefix);
    const changed = changedPeriods(after.ok ? after.value.periods : [], seen);
    expect(changed.map((p) => [p.billingPeriod, p.executionId, p.dataFiles.length])).toEqual([["2026-10", "e2", 2]]);
  });

  it("accepts the export's own folder as the prefix", async () => {
    const prefix = freshPrefix("own");
    await writeCur2(prefix, "bills", "2026-08", "e1", ["a\n1\n"]);
    const found = await discoverPeriods(bucket(await session()), `${prefix}/bills/`);
    expect(found.ok ? found.value.periods.map((p) => p.billingPeriod) : []).toEqual(["2026-08"]);
  });

  it("marks a period incomplete when a listed data file is not there yet", async () => {
    const prefix = freshPrefix("partial");
    const manifest = {
      executionId: "e1",
      dataFiles: [`s3://${BUCKET}/${prefix}/bills/data/BILLING_PERIOD=2026-07/bills-00001.csv.gz`],
    };
    await put(`${prefix}/bills/metadata/BILLING_PERIOD=2026-07/bills-Manifest.json`, JSON.stringify(manifest));
    const found = await discoverPeriods(bucket(await session()), prefix);
    const periods = found.ok ? found.value.periods : [];
    expect(periods.map((p) => [p.complete, p.dataFiles[0]?.size])).toEqual([[false, null]]);
    expect(changedPeriods(periods, new Map())).toEqual([]);
  });

  it("skips a manifest that is not JSON or names another bucket, and says why", async () => {
    const prefix = freshPrefix("bad");
    await put(`${prefix}/bills/metadata/BILLING_PERIOD=2026-05/bills-Manifest.json`, "<html>");
    await put(
      `${prefix}/bills/metadata/BILLING_PERIOD=2026-06/bills-Manifest.json`,
      JSON.stringify({ dataFiles: ["s3://elsewhere/x.csv.gz"] }),
    );
    const found = await discoverPeriods(bucket(await session()), prefix);
    expect(found.ok ? found.value : null).toEqual({
      periods: [],
      skipped: [
        {
          key: `${prefix}/bills/metadata/BILLING_PERIOD=2026-05/bills-Manifest.json`,
          reason: "the manifest is not JSON",
        },
        {
          key: `${prefix}/bills/metadata/BILLING_PERIOD=2026-06/bills-Manifest.json`,
          reason: `the manifest names a file outside s3://${BUCKET}/`,
        },
      ],
    });
  });

  it("finds legacy CUR reports by their dated folders and reportKeys", async () => {
    const prefix = freshPrefix("legacy");
    const key = `${prefix}/old-cur/20261001-20261101/asm-1/old-cur-1.csv.gz`;
    await put(key, await gzip("lineItem/UnblendedCost\n3\n"));
    const manifest = {
      assemblyId: "asm-1",
      reportKeys: [key],
      billingPeriod: { start: "20261001T000000.000Z", end: "20261101T000000.000Z" },
    };
    await put(`${prefix}/old-cur/20261001-20261101/old-cur-Manifest.json`, JSON.stringify(manifest));
    const found = await discoverPeriods(bucket(await session()), prefix);
    expect(
      found.ok
        ? found.value.periods.map((p) => [
            p.kind,
            p.exportName,
            p.billingPeriod,
            p.executionId,
            p.dataFiles.map((f) => f.key),
          ])
        : [],
    ).toEqual([["cur_legacy", "old-cur", "2026-10", "asm-1", [key]]]);
  });

  it("finds nothing under an empty prefix and fails on a bucket the role may not read", async () => {
    const [empty, denied] = await Promise.all([
      findManifests(bucket(await session()), freshPrefix("empty")),
      discoverPeriods(bucket(await session(), DENIED_BUCKET), "cur"),
    ]);
    expect([empty, denied.ok ? "ok" : denied.reason.code]).toEqual([{ ok: true, value: [] }, "access_denied"]);
  });
});
