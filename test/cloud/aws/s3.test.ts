// S3 reads with a role session against the S3 stand-in: s3rver behind a proxy that checks the
// SigV4 signature and session token of the sessions the STS stand-in issued (test/stand-ins/aws/).
import { describe, expect, it } from "vitest";
import { getObject, getText, headObject, listAll, listObjects } from "../../../workers/cloud/aws/index.ts";
import { DENIED_BUCKET, MISSING_BUCKET, ROLES } from "../../stand-ins/aws/fixtures.ts";
import { bucket, freshPrefix, put, session } from "./support.ts";

describe("S3 with a role session", () => {
  it("lists a prefix page by page with continuation tokens", async () => {
    const prefix = freshPrefix("list");
    const keys = Array.from({ length: 25 }, (_, i) => `${prefix}/k${String(i).padStart(3, "0")}.txt`);
    for (const key of keys) await put(key, key);
    const s3 = bucket(await session());
    const first = await listObjects(s3, { prefix: `${prefix}/`, maxKeys: 10 });
    expect(first).toMatchObject({ ok: true, value: { nextContinuationToken: expect.any(String) } });
    const firstKeys = first.ok ? first.value.objects.map((o) => o.key) : [];
    expect(firstKeys).toEqual(keys.slice(0, 10));
    const all = await listAll(s3, { prefix: `${prefix}/`, maxKeys: 10 });
    expect(all.ok ? all.value.objects.map((o) => [o.key, o.size]) : []).toEqual(keys.map((k) => [k, k.length]));
  });

  it("lists folders with a delimiter", async () => {
    const prefix = freshPrefix("folders");
    await put(`${prefix}/a/1`, "1");
    await put(`${prefix}/b/2`, "2");
    await put(`${prefix}/top`, "3");
    const s3 = bucket(await session());
    const paged = await listAll(s3, { prefix: `${prefix}/`, delimiter: "/", maxKeys: 1 });
    expect(paged.ok ? [paged.value.commonPrefixes, paged.value.objects.map((o) => o.key)] : null).toEqual([
      [`${prefix}/a/`, `${prefix}/b/`],
      [`${prefix}/top`],
    ]);
    const page = await listObjects(s3, { prefix: `${prefix}/`, delimiter: "/" });
    expect(page.ok ? [page.value.commonPrefixes, page.value.objects.map((o) => o.key)] : null).toEqual([
      [`${prefix}/a/`, `${prefix}/b/`],
      [`${prefix}/top`],
    ]);
  });

  it("reads exactly the asked range, and HEAD gives the size", async () => {
    const key = `${freshPrefix("range")}/bill=part 1.csv`;
    const data = "0123456789abcdefghijklmnopqrstuvwxyz";
    await put(key, data);
    const s3 = bucket(await session());
    const got = await getObject(s3, key, { start: 10, end: 19 });
    expect(got).toMatchObject({ ok: true, value: { range: { start: 10, end: 19, total: data.length } } });
    expect(got.ok ? await new Response(got.value.body).text() : null).toBe("abcdefghij");
    const tail = await getObject(s3, key, { start: 30, end: 99 });
    expect(tail.ok ? await new Response(tail.value.body).text() : null).toBe("uvwxyz");
    expect(await headObject(s3, key)).toMatchObject({
      ok: true,
      value: { key, size: data.length, etag: expect.stringMatching(/^".+"$/) },
    });
    expect(await getText(s3, key)).toMatchObject({ ok: true, value: { text: data } });
  });

  it("maps a missing key and a missing bucket", async () => {
    const s3 = bucket(await session());
    const [get, head, list] = await Promise.all([
      getObject(s3, "nothing/here"),
      headObject(s3, "nothing/here"),
      listObjects(bucket(await session(), MISSING_BUCKET), { prefix: "" }),
    ]);
    expect([get, head, list].map((r) => (r.ok ? "ok" : `${r.reason.code}/${r.reason.awsCode}`))).toEqual([
      "no_such_key/NoSuchKey",
      "no_such_key/null",
      "no_such_bucket/NoSuchBucket",
    ]);
  });

  it("is refused a bucket the role may not read: AccessDenied", async () => {
    const got = await listObjects(bucket(await session(), DENIED_BUCKET), { prefix: "" });
    expect(got).toMatchObject({
      ok: false,
      reason: { code: "access_denied", awsCode: "AccessDenied", status: 403, retryable: false },
    });
  });

  it("is refused with an expired session: ExpiredToken, retryable", async () => {
    const credentials = await session(ROLES.shortLived);
    const s3 = bucket(credentials);
    expect(await listObjects(s3, { prefix: "", maxKeys: 1 })).toMatchObject({ ok: true });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const expired = await listObjects(s3, { prefix: "", maxKeys: 1 });
    expect(expired).toMatchObject({
      ok: false,
      reason: { code: "expired_token", awsCode: "ExpiredToken", status: 400, retryable: true },
    });
  });

  it("is refused when signed with a wrong secret, without the session token, or with an unknown key", async () => {
    const credentials = await session();
    const [wrongSecret, noToken] = await Promise.all([
      listObjects(bucket({ ...credentials, secretAccessKey: `${credentials.secretAccessKey}x` }), { prefix: "" }),
      listObjects(bucket({ ...credentials, sessionToken: "" }), { prefix: "" }),
    ]);
    const unknownKey = await listObjects(bucket({ ...credentials, accessKeyId: "ASIAUNKNOWNUNKNOWN00" }), {
      prefix: "",
    });
    expect(
      [wrongSecret, noToken, unknownKey].map((r) => (r.ok ? "ok" : `${r.reason.code}/${r.reason.awsCode}`)),
    ).toEqual([
      "signature_mismatch/SignatureDoesNotMatch",
      "invalid_credentials/InvalidToken",
      "invalid_credentials/InvalidAccessKeyId",
    ]);
  });
});
