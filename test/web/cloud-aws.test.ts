// /cloud/aws (the AWS connector's page), in workerd against the AWS stand-ins: the organisation's
// ExternalId and the template, saving the role (a bad ARN refused beside its field), "Test
// connection" and "Import new periods now" recorded and shown in words, a deleted role shown as
// cut off, disconnecting; viewers read but change nothing; /cloud says the connector's state.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CUR2_ROWS, toCsv } from "../fixtures/cloud/cur2.ts";
import { addMember, newOrg, type Org } from "../auth/orgs.ts";
import { BUCKET, type StandInRole } from "../stand-ins/aws/fixtures.ts";
import { freshPrefix, gzip, put } from "../cloud/aws/support.ts";

async function externalId(org: Org): Promise<string> {
  const page = await org.owner.b.get("/cloud/aws");
  expect(page.status).toBe(200);
  return /ExternalId <code>([^<]+)<\/code>/.exec(page.html)?.[1] ?? "";
}

async function createRole(org: Org, external: string): Promise<string> {
  const arn = `arn:aws:iam::111122223333:role/PageRole-${org.tenantId}`;
  const role: StandInRole = { arn, externalId: external, buckets: [BUCKET], sessionLifetimeMs: null };
  await fetch(`${env.AWS_STS_TEST_URL}/_control/roles`, { method: "PUT", body: JSON.stringify(role) });
  return arn;
}

async function writeExport(prefix: string): Promise<void> {
  const key = `${prefix}/exp/data/BILLING_PERIOD=2025-06/exp-00001.csv.gz`;
  await put(key, await gzip(toCsv(CUR2_ROWS)));
  const manifest = { executionId: "exec-1", dataFiles: [`s3://${BUCKET}/${key}`] };
  await put(`${prefix}/exp/metadata/BILLING_PERIOD=2025-06/exp-Manifest.json`, JSON.stringify(manifest));
}

describe("/cloud/aws", () => {
  it("sets up, tests and runs the connector, and shows a deleted role as cut off", async () => {
    const org = await newOrg("CloudAws");
    const external = await externalId(org);
    expect(external).toMatch(/^outlay-[a-z2-7]{24}$/);
    const template = await org.owner.b.get("/cloud/aws/template");
    expect(template.status).toBe(200);
    expect(template.html).toContain(external);
    expect((await org.owner.b.get("/cloud")).html).toContain("Not set up");

    const refused = await org.owner.b.post("/cloud/aws", {
      role_arn: "not-an-arn",
      bucket: BUCKET,
      prefix: "x",
      region: "us-east-1",
    });
    expect(refused.status).toBe(400);
    expect(refused.html).toContain('id="role_arn-error"');
    expect(refused.html).toContain('value="not-an-arn"');

    const arn = await createRole(org, external);
    const prefix = freshPrefix("page");
    await writeExport(prefix);
    const saved = await org.owner.b.post("/cloud/aws", { role_arn: arn, bucket: BUCKET, prefix, region: "us-east-1" });
    expect({ status: saved.status, location: saved.location }).toEqual({
      status: 303,
      location: "/cloud/aws?done=saved",
    });
    expect((await org.owner.b.get("/cloud/aws")).html).toContain("Saved, not tested");

    await org.owner.b.get("/cloud/aws");
    const tested = await org.owner.b.post("/cloud/aws/test");
    expect(tested.status).toBe(303);
    const after = await org.owner.b.get("/cloud/aws?done=tested");
    expect(after.html).toContain('<span class="badge ok">Connected</span>');
    expect(after.html).toContain("Outlay assumed the role");

    const synced = await org.owner.b.post("/cloud/aws/sync");
    expect(synced.status).toBe(303);
    const imports = await env.DB.prepare("SELECT source FROM cloud_imports WHERE tenant_id = ?")
      .bind(org.tenantId)
      .all<{ source: string }>();
    expect(imports.results.map((r) => r.source)).toEqual(["aws"]);
    expect((await org.owner.b.get("/cloud")).html).toContain("Connected");

    await fetch(`${env.AWS_STS_TEST_URL}/_control/roles/${encodeURIComponent(arn)}`, { method: "DELETE" });
    await org.owner.b.get("/cloud/aws");
    await org.owner.b.post("/cloud/aws/test");
    const cut = await org.owner.b.get("/cloud/aws");
    expect(cut.html).toContain('<span class="badge danger">Cut off</span>');
    expect(cut.html).toContain("no longer exists or no longer trusts Outlay");

    const gone = await org.owner.b.post("/cloud/aws/delete");
    expect(gone.status).toBe(303);
    expect((await org.owner.b.get("/cloud/aws")).html).toContain("Not set up");
  });

  it("lets a viewer read the connector but not change it", async () => {
    const org = await newOrg("CloudAwsViewer");
    const viewer = await addMember(org, "viewer");
    const page = await viewer.b.get("/cloud/aws");
    expect(page.status).toBe(200);
    expect(page.html).toContain("Only owners and admins can change the connection.");
    expect(page.html).not.toContain('action="/cloud/aws/test"');
    const posted = await viewer.b.post("/cloud/aws", {
      role_arn: "arn:aws:iam::111122223333:role/x",
      bucket: BUCKET,
      prefix: "",
      region: "us-east-1",
    });
    expect(posted.status).toBe(403);
    const row = await env.DB.prepare("SELECT role_arn FROM cloud_connections WHERE tenant_id = ?")
      .bind(org.tenantId)
      .first<{ role_arn: string | null }>();
    expect(row?.role_arn ?? null).toBeNull();
  });

  it("refuses a post without the form's CSRF token", async () => {
    const org = await newOrg("CloudAwsCsrf");
    await org.owner.b.get("/cloud/aws");
    const res = await org.owner.b.post("/cloud/aws/test", {}, { csrf: false });
    expect(res.status).toBe(403);
  });
});
