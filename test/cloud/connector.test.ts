// The AWS connector end to end (docs/cloud.md, "The AWS connector"), against the STS and S3
// stand-ins (test/stand-ins/aws/: every request's SigV4 signature checked with AWS's own signer,
// AWS's XML answers). Each organisation gets its own role in the stand-in, created with the
// ExternalId Outlay generated for it, and its own CUR 2.0 export (the fixture's rows of
// test/fixtures/cloud/cur2.ts in two data files; the expected amounts are those of
// test/cloud/cur2-import.test.ts).
import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CUR2_ROWS, toCsv } from "../fixtures/cloud/cur2.ts";
import outlay from "../../workers/index.ts";
import { newTenant, type Tenant } from "../helpers.ts";
import { BUCKET, DENIED_BUCKET, type StandInRole } from "../stand-ins/aws/fixtures.ts";
import { freshPrefix, gzip, put } from "./aws/support.ts";
import { importFinished } from "./support.ts";

type Connection = {
  external_id: string;
  outlay_account_id: string | null;
  role_arn: string | null;
  state: string;
  last_result: { ok: boolean; steps: { step: string; ok: boolean; message: string; code: string | null }[] } | null;
};
type Verdict = {
  ok: boolean;
  retryable: boolean;
  state: string;
  steps: { step: string; ok: boolean; message: string; code: string | null }[];
  imports?: string[];
};
type Row = Record<string, string | number | null>;

const EXPORT = "outlay-cur2";
const PERIOD = "2025-06";

async function connection(t: Tenant): Promise<Connection> {
  const res = await t.api("/cloud/connection");
  expect(res.status).toBe(200);
  return (await res.json()) as Connection;
}

/** The customer's side: a role trusting Outlay with this ExternalId, able to read `buckets`. */
async function createRole(t: Tenant, externalId: string, buckets: string[] = [BUCKET]): Promise<string> {
  const arn = `arn:aws:iam::111122223333:role/OutlayCurRead-${t.tenantId}`;
  const role: StandInRole = { arn, externalId, buckets, sessionLifetimeMs: null };
  const res = await fetch(`${env.AWS_STS_TEST_URL}/_control/roles`, { method: "PUT", body: JSON.stringify(role) });
  expect(res.status).toBe(204);
  return arn;
}

async function deleteRole(arn: string): Promise<void> {
  await fetch(`${env.AWS_STS_TEST_URL}/_control/roles/${encodeURIComponent(arn)}`, { method: "DELETE" });
}

/** A CUR 2.0 export of one period, as AWS Data Exports lays it out; `rows` split over two files. */
async function writeExport(prefix: string, executionId: string, files: (typeof CUR2_ROWS)[]): Promise<void> {
  const dataFiles: string[] = [];
  for (const [i, rows] of files.entries()) {
    const key = `${prefix}/${EXPORT}/data/BILLING_PERIOD=${PERIOD}/${executionId}/${EXPORT}-0000${i + 1}.csv.gz`;
    await put(key, await gzip(toCsv(rows)));
    dataFiles.push(`s3://${BUCKET}/${key}`);
  }
  const manifest = { executionId, exportArn: "arn:aws:bcm-data-exports:us-east-1:111122223333:export/x", dataFiles };
  await put(`${prefix}/${EXPORT}/metadata/BILLING_PERIOD=${PERIOD}/${EXPORT}-Manifest.json`, JSON.stringify(manifest));
}

async function save(t: Tenant, body: Record<string, string | undefined>): Promise<Response> {
  return t.api("/cloud/connection", { method: "PUT", json: body });
}

async function post(t: Tenant, path: string): Promise<Verdict> {
  const res = await t.api(path, { method: "POST" });
  expect(res.status).toBe(200);
  return (await res.json()) as Verdict;
}

async function total(t: Tenant): Promise<Row[]> {
  const res = await t.api("/cloud/spend?from=2025-06-01&to=2025-06-30&group_by=category");
  return ((await res.json()) as { data: Row[] }).data;
}

async function stsCalls(t: Tenant): Promise<number> {
  const name = `outlay-${t.tenantId}`;
  const res = await fetch(`${env.AWS_STS_TEST_URL}/_control/asked/${encodeURIComponent(name)}`);
  return ((await res.json()) as unknown[]).length;
}

/** The hourly job's run at `hour` UTC. */
async function hourlyJob(hour: number): Promise<void> {
  const at = Date.UTC(2026, 11, 3, hour, 17);
  await outlay.scheduled(createScheduledController({ scheduledTime: at, cron: "17 * * * *" }), env);
}

/** The organisation's cloud audit events, once `count` of them have reached D1. */
async function auditTypes(t: Tenant, count: number): Promise<string[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const rows = await env.DB.prepare(
      "SELECT type FROM audit_events WHERE tenant_id = ? AND type LIKE 'cloud.%' ORDER BY seq",
    )
      .bind(t.tenantId)
      .all<{ type: string }>();
    if (rows.results.length >= count || Date.now() > deadline) return rows.results.map((r) => r.type);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("the AWS connector", () => {
  it("gives each organisation its own ExternalId and a template with it filled in", async () => {
    const a = await newTenant({ providers: false });
    const b = await newTenant({ providers: false });
    const ca = await connection(a);
    const cb = await connection(b);
    expect(ca).toMatchObject({ state: "unconfigured", role_arn: null, outlay_account_id: "999988887777" });
    expect(ca.external_id).toMatch(/^outlay-[a-z2-7]{24}$/);
    expect(cb.external_id).not.toBe(ca.external_id);
    expect((await connection(a)).external_id).toBe(ca.external_id);
    const template = await a.api("/cloud/connection/template");
    expect(template.headers.get("content-disposition")).toContain("outlay-cur-read-role.yaml");
    const yaml = await template.text();
    expect(yaml).toContain(ca.external_id);
    expect(yaml).toContain("999988887777");
    expect(yaml).not.toContain(cb.external_id);
    // The ExternalId is not something a request can set.
    const forged = await save(a, {
      role_arn: "arn:aws:iam::111122223333:role/x",
      bucket: BUCKET,
      region: "us-east-1",
      external_id: cb.external_id,
    });
    expect(forged.status).toBe(400);
  });

  it("tests, imports every period once, re-imports a period AWS rewrote, and stops when the role is deleted", async () => {
    const t = await newTenant({ providers: false });
    const { external_id } = await connection(t);
    const arn = await createRole(t, external_id);
    const prefix = freshPrefix("connector");
    await writeExport(prefix, "exec-1", [CUR2_ROWS.slice(0, 6), CUR2_ROWS.slice(6)]);
    expect((await save(t, { role_arn: arn, bucket: BUCKET, prefix, region: "us-east-1" })).status).toBe(200);
    expect((await connection(t)).state).toBe("unverified");

    const tested = await post(t, "/cloud/connection/test");
    expect({ ok: tested.ok, state: tested.state, steps: tested.steps.map((s) => [s.step, s.ok]) }).toEqual({
      ok: true,
      state: "connected",
      steps: [
        ["assume_role", true],
        ["list_prefix", true],
        ["read_manifest", true],
      ],
    });

    const synced = await post(t, "/cloud/connection/sync");
    expect(synced.imports).toHaveLength(1);
    const first = await importFinished(t, synced.imports?.[0] ?? "");
    expect(first).toMatchObject({ status: "done", rows_read: 12, source: "aws" });
    const byCategory = Object.fromEntries((await total(t)).map((r) => [r.category, r.cost]));
    expect(byCategory).toEqual({
      bedrock: "3.389499051",
      sagemaker: "1.515",
      gpu_compute: "98.823",
      non_ai: "-0.249999999",
    });
    expect((await post(t, "/cloud/connection/sync")).imports).toEqual([]);

    // AWS refreshes the period: a new execution with only the first file's rows.
    await writeExport(prefix, "exec-2", [CUR2_ROWS.slice(0, 4)]);
    const again = await post(t, "/cloud/connection/sync");
    expect(again.imports).toHaveLength(1);
    expect((await importFinished(t, again.imports?.[0] ?? "")).status).toBe("done");
    expect((await total(t)).map((r) => [r.category, r.cost])).toEqual([["bedrock", "5.35249905"]]);
    // Nothing of the bill stays in R2.
    expect((await env.CLOUD_BILLS.list({ prefix: `bills/${t.tenantId}/` })).objects).toEqual([]);

    // The customer deletes the role: the run says so, the state is "cut", and the daily job
    // leaves the connection alone until the organisation acts.
    await deleteRole(arn);
    const cut = await post(t, "/cloud/connection/sync");
    expect({ ok: cut.ok, retryable: cut.retryable, state: cut.state }).toEqual({
      ok: false,
      retryable: false,
      state: "cut",
    });
    expect(cut.steps[0]?.message).toMatch(/no longer/i);
    const calls = await stsCalls(t);
    await hourlyJob(4);
    expect(await stsCalls(t)).toBe(calls);
    expect(await auditTypes(t, 4)).toEqual([
      "cloud.connection_saved",
      "cloud.import_created",
      "cloud.import_created",
      "cloud.connection_cut",
    ]);
    // Spend already imported stays.
    expect((await total(t)).map((r) => r.cost)).toEqual(["5.35249905"]);
  });

  it("the daily run imports for connected organisations", async () => {
    const t = await newTenant({ providers: false });
    const { external_id } = await connection(t);
    const arn = await createRole(t, external_id);
    const prefix = freshPrefix("daily");
    await writeExport(prefix, "exec-1", [CUR2_ROWS]);
    await save(t, { role_arn: arn, bucket: BUCKET, prefix, region: "us-east-1" });
    // Not at 04 UTC: nothing runs.
    await hourlyJob(9);
    expect(await stsCalls(t)).toBe(0);
    await hourlyJob(4);
    const list = (await (await t.api("/cloud/imports")).json()) as { data: { id: string; source: string }[] };
    expect(list.data.map((i) => i.source)).toEqual(["aws"]);
    expect((await importFinished(t, list.data[0]?.id ?? "")).status).toBe("done");
    expect((await connection(t)).state).toBe("connected");
  });

  it("explains a wrong ExternalId and a bucket the role may not read, in words", async () => {
    const t = await newTenant({ providers: false });
    const { external_id } = await connection(t);
    const wrongArn = await createRole(t, `${external_id}-not-this-one`);
    await save(t, { role_arn: wrongArn, bucket: BUCKET, prefix: "cur", region: "us-east-1" });
    const refused = await post(t, "/cloud/connection/test");
    expect({ ok: refused.ok, state: refused.state, step: refused.steps.at(-1)?.step }).toEqual({
      ok: false,
      state: "cut",
      step: "assume_role",
    });
    expect(refused.steps.at(-1)?.message).toContain("ExternalId");
    expect(refused.steps.at(-1)?.message).toContain("999988887777");

    const arn = await createRole(t, external_id, [BUCKET]);
    await save(t, { role_arn: arn, bucket: DENIED_BUCKET, prefix: "cur", region: "us-east-1" });
    const denied = await post(t, "/cloud/connection/test");
    expect({ ok: denied.ok, step: denied.steps.at(-1)?.step, code: denied.steps.at(-1)?.code }).toEqual({
      ok: false,
      step: "list_prefix",
      code: "access_denied",
    });
    expect(denied.steps.at(-1)?.message).toContain("ListBucket");
  });

  it("refuses bad connection details, and has nothing to test or sync before they are saved", async () => {
    const t = await newTenant({ providers: false });
    for (const body of [
      { role_arn: "arn:aws:iam::1:role/x", bucket: BUCKET, region: "us-east-1" },
      { role_arn: "arn:aws:iam::111122223333:user/x", bucket: BUCKET, region: "us-east-1" },
      { role_arn: "arn:aws:iam::111122223333:role/x", bucket: "Not_A_Bucket", region: "us-east-1" },
      { role_arn: "arn:aws:iam::111122223333:role/x", bucket: BUCKET, region: "mars" },
      { role_arn: "arn:aws:iam::111122223333:role/x", bucket: BUCKET, region: "us-east-1", prefix: "/abs" },
      { role_arn: "arn:aws:iam::111122223333:role/x", bucket: BUCKET, region: "us-east-1", prefix: "a\nb" },
    ]) {
      const res = await save(t, body);
      expect({ body, status: res.status }).toEqual({ body, status: 400 });
    }
    for (const path of ["/cloud/connection/test", "/cloud/connection/sync"]) {
      const res = await t.api(path, { method: "POST" });
      expect({ path, status: res.status }).toEqual({ path, status: 409 });
    }
    expect((await t.api("/cloud/connection", { method: "DELETE" })).status).toBe(404);
  });

  it("is each organisation's own: saving, testing or deleting touches no other", async () => {
    const a = await newTenant({ providers: false });
    const b = await newTenant({ providers: false });
    const ca = await connection(a);
    const arn = await createRole(a, ca.external_id);
    await save(a, { role_arn: arn, bucket: BUCKET, prefix: "cur", region: "us-east-1" });
    expect((await connection(b)).role_arn).toBeNull();
    expect((await b.api("/cloud/connection/sync", { method: "POST" })).status).toBe(409);
    expect((await b.api("/cloud/connection", { method: "DELETE" })).status).toBe(404);
    expect((await connection(a)).role_arn).toBe(arn);
  });
});
