// STS AssumeRole against the STS stand-in, which checks every signature with AWS's own signer
// (test/stand-ins/aws/sigv4.ts) and answers STS's XML (test/stand-ins/aws/sts.ts).
import { env } from "cloudflare:workers";
import { AwsClient } from "aws4fetch";
import { describe, expect, it } from "vitest";
import { assumeRole, roleSessionName } from "../../../workers/cloud/aws/index.ts";
import { type AssumeRoleAsked, OUTLAY_KEY, ROLES } from "../../stand-ins/aws/fixtures.ts";
import { roleOptions } from "./support.ts";

/** What STS was asked under one session name (each test uses its own tenant id, so its own name). */
async function asked(sessionName: string): Promise<AssumeRoleAsked[]> {
  return (await (await fetch(`${env.AWS_STS_TEST_URL}/_control/asked/${sessionName}`)).json()) as AssumeRoleAsked[];
}

describe("assumeRole", () => {
  it("returns the role session's credentials, asked for 900 s under outlay-<tenant prefix>", async () => {
    const before = Date.now();
    const assumed = await assumeRole({ ...roleOptions(), tenantId: "tnt_sts900aaXYZ" });
    expect(assumed).toMatchObject({
      ok: true,
      credentials: { accessKeyId: expect.stringMatching(/^ASIA[A-Z2-7]{16}$/), sessionToken: expect.any(String) },
    });
    const expiration = assumed.ok ? assumed.credentials.expiration : 0;
    expect(Math.round((expiration - before) / 1000)).toBeGreaterThanOrEqual(899);
    expect(await asked("outlay-tnt_sts900aa")).toEqual([{ durationSeconds: 900, roleArn: ROLES.reader.arn }]);
  });

  it("names the session from the tenant id's allowed characters", () => {
    expect([roleSessionName("tnt_7Hq2xZ9kLmN4pR"), roleSessionName("a b/c"), roleSessionName("")]).toEqual([
      "outlay-tnt_7Hq2xZ9k",
      "outlay-abc",
      "outlay",
    ]);
  });

  it("asks for up to 3600 s and refuses more without calling STS", async () => {
    expect(await assumeRole({ ...roleOptions(), durationSeconds: 3600, tenantId: "tnt_sts3600b" })).toMatchObject({
      ok: true,
    });
    expect(await asked("outlay-tnt_sts3600b")).toEqual([{ durationSeconds: 3600, roleArn: ROLES.reader.arn }]);
    const refused = await assumeRole({ ...roleOptions(), durationSeconds: 3601, tenantId: "tnt_sts3601c" });
    expect(refused).toMatchObject({ ok: false, reason: { code: "invalid_request", service: "sts", status: null } });
    expect(await asked("outlay-tnt_sts3601c")).toEqual([]);
  });

  it("maps a wrong ExternalId to access_denied, not retryable", async () => {
    const assumed = await assumeRole({ ...roleOptions(), externalId: "outlay-ext-wrong" });
    expect(assumed).toEqual({
      ok: false,
      reason: {
        code: "access_denied",
        service: "sts",
        status: 403,
        awsCode: "AccessDenied",
        message: expect.stringContaining(`not authorized to perform: sts:AssumeRole on resource: ${ROLES.reader.arn}`),
        retryable: false,
      },
    });
  });

  it("maps an unknown role to access_denied", async () => {
    const assumed = await assumeRole({ ...roleOptions(), roleArn: "arn:aws:iam::111122223333:role/Deleted" });
    expect(assumed).toMatchObject({ ok: false, reason: { code: "access_denied", awsCode: "AccessDenied" } });
  });

  it("is refused by the stand-in when signed with a wrong secret (the stand-in really checks)", async () => {
    const key = { ...OUTLAY_KEY, secretAccessKey: `${OUTLAY_KEY.secretAccessKey}x` };
    const assumed = await assumeRole({ ...roleOptions(), key });
    expect(assumed).toMatchObject({
      ok: false,
      reason: { code: "signature_mismatch", awsCode: "SignatureDoesNotMatch", status: 403 },
    });
  });

  it("is refused by the stand-in when the signed body was changed after signing", async () => {
    const client = new AwsClient({ ...OUTLAY_KEY, service: "sts", region: "us-east-1", retries: 0 });
    const form = `Action=AssumeRole&Version=2011-06-15&RoleArn=${encodeURIComponent(ROLES.reader.arn)}&RoleSessionName=outlay-x&ExternalId=${ROLES.reader.externalId}`;
    const signed = await client.sign(env.AWS_STS_TEST_URL, {
      method: "POST",
      body: form,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    const tampered = new Request(signed.url, {
      method: "POST",
      headers: signed.headers,
      body: form.replace("outlay-x", "outlay-y"),
    });
    const res = await fetch(tampered);
    expect([res.status, await res.text()]).toEqual([
      403,
      expect.stringContaining("<Code>SignatureDoesNotMatch</Code>"),
    ]);
  });

  it("maps an unknown access key to invalid_credentials", async () => {
    const key = { ...OUTLAY_KEY, accessKeyId: "AKIAUNKNOWN000000000" };
    const assumed = await assumeRole({ ...roleOptions(), key });
    expect(assumed).toMatchObject({
      ok: false,
      reason: { code: "invalid_credentials", awsCode: "InvalidClientTokenId" },
    });
  });

  it("gets STS's own ValidationError for DurationSeconds over the role's maximum", async () => {
    const client = new AwsClient({ ...OUTLAY_KEY, service: "sts", region: "us-east-1", retries: 0 });
    const form = `Action=AssumeRole&Version=2011-06-15&RoleArn=${encodeURIComponent(ROLES.reader.arn)}&RoleSessionName=outlay-x&ExternalId=${ROLES.reader.externalId}&DurationSeconds=7200`;
    const res = await client.fetch(env.AWS_STS_TEST_URL, {
      method: "POST",
      body: form,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect([res.status, await res.text()]).toEqual([
      400,
      expect.stringMatching(/<Code>ValidationError<\/Code>[\s\S]*MaxSessionDuration/),
    ]);
  });

  it("refuses a role ARN or ExternalId of the wrong shape before calling STS", async () => {
    const results = await Promise.all([
      assumeRole({ ...roleOptions(), roleArn: "arn:aws:iam::1234:user/x" }),
      assumeRole({ ...roleOptions(), externalId: "has space" }),
    ]);
    expect(results.map((r) => (r.ok ? "ok" : r.reason.code))).toEqual(["invalid_request", "invalid_request"]);
  });

  it("maps an unreachable endpoint to unreachable, retryable", async () => {
    const assumed = await assumeRole({ ...roleOptions(), endpoint: "http://127.0.0.1:9" });
    expect(assumed).toMatchObject({ ok: false, reason: { code: "unreachable", retryable: true } });
  });
});
