// "Test connection" against the stand-ins: each step's verdict in words, and whether trying
// again can help. No credential may reach a log line, whatever the outcome.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { env } from "cloudflare:workers";
import { type ConnectionInput, testConnection } from "../../../workers/cloud/aws/index.ts";
import {
  BUCKET,
  DENIED_BUCKET,
  OUTLAY_ACCOUNT_ID,
  OUTLAY_KEY,
  REGION,
  ROLES,
  SEEDED,
} from "../../stand-ins/aws/fixtures.ts";
import { freshPrefix, put } from "./support.ts";

function input(overrides: Partial<ConnectionInput> = {}): ConnectionInput {
  return {
    key: OUTLAY_KEY,
    outlayAccountId: OUTLAY_ACCOUNT_ID,
    tenantId: "tnt_7Hq2xZ9kLmN4pR",
    roleArn: ROLES.reader.arn,
    externalId: ROLES.reader.externalId,
    bucket: BUCKET,
    prefix: SEEDED.prefix,
    region: REGION,
    stsEndpoint: env.AWS_STS_TEST_URL,
    s3Endpoint: env.AWS_S3_TEST_URL,
    s3Style: "path",
    ...overrides,
  };
}

describe("testConnection", () => {
  it("passes every step and names the newest period", async () => {
    const verdict = await testConnection(input());
    expect(verdict).toMatchObject({
      ok: true,
      retryable: false,
      newest: { billingPeriod: "2026-11", exportName: SEEDED.exportName },
    });
    expect(verdict.steps.map((s) => [s.step, s.ok, s.message])).toEqual([
      [
        "assume_role",
        true,
        expect.stringMatching(
          /^Outlay assumed the role arn:aws:iam::111122223333:role\/OutlayCurRead \(session outlay-tnt_7Hq2xZ9k, valid until 20\d\d-/,
        ),
      ],
      ["list_prefix", true, `Outlay listed s3://${BUCKET}/cur/.`],
      [
        "read_manifest",
        true,
        expect.stringMatching(
          /^Found the CUR 2\.0 export "outlay-cur2": newest billing period 2026-11, 1 data file \(\d+ bytes\)\.$/,
        ),
      ],
    ]);
  });

  it("explains a refused AssumeRole as trust policy or ExternalId, both named, not retryable", async () => {
    const verdict = await testConnection(input({ externalId: "outlay-ext-wrong0000" }));
    expect(verdict).toEqual({
      ok: false,
      retryable: false,
      newest: null,
      steps: [
        {
          step: "assume_role",
          ok: false,
          code: "access_denied",
          message:
            `AWS refused to let Outlay assume the role ${ROLES.reader.arn}: check that the role exists, that its trust policy ` +
            `names Outlay's account (${OUTLAY_ACCOUNT_ID}), and that its sts:ExternalId condition is outlay-ext-wrong0000. ` +
            "AWS does not say which of these is wrong.",
        },
      ],
    });
  });

  it("says a role that used to work no longer exists or no longer trusts Outlay", async () => {
    const verdict = await testConnection(
      input({ roleArn: "arn:aws:iam::111122223333:role/Deleted", previouslyConnected: true }),
    );
    expect([verdict.retryable, verdict.steps[0]?.message]).toEqual([
      false,
      expect.stringMatching(
        /^The role arn:aws:iam::111122223333:role\/Deleted no longer exists or no longer trusts Outlay: .*Outlay stops reading your bill/,
      ),
    ]);
  });

  it("says S3 refused the listing after the role was assumed", async () => {
    const verdict = await testConnection(input({ bucket: DENIED_BUCKET }));
    expect([verdict.ok, verdict.retryable, verdict.steps.map((s) => [s.step, s.ok, s.code])]).toEqual([
      false,
      false,
      [
        ["assume_role", true, null],
        ["list_prefix", false, "access_denied"],
      ],
    ]);
    expect(verdict.steps[1]?.message).toBe(
      `The role was assumed but S3 refused to list s3://${DENIED_BUCKET}/cur/: check the role's s3:ListBucket permission (its s3:prefix condition must allow cur/) and the bucket policy.`,
    );
  });

  it("says when no CUR 2.0 export is under the prefix, and that it may still come", async () => {
    const prefix = freshPrefix("none");
    await put(`${prefix}/readme.txt`, "not a bill");
    const verdict = await testConnection(input({ prefix }));
    expect([verdict.ok, verdict.retryable, verdict.steps.at(-1)]).toEqual([
      false,
      true,
      {
        step: "read_manifest",
        ok: false,
        code: "no_export",
        message: expect.stringMatching(
          new RegExp(`^No CUR 2\\.0 export found under s3://${BUCKET}/${prefix}/: check that a Data Export`),
        ),
      },
    ]);
  });

  it("says when Outlay's own key is refused, and that it is Outlay's side", async () => {
    const verdict = await testConnection(input({ key: { ...OUTLAY_KEY, secretAccessKey: "wrong-secret" } }));
    expect(verdict.steps[0]).toEqual({
      step: "assume_role",
      ok: false,
      code: "signature_mismatch",
      message:
        "AWS did not accept Outlay's own access key. This is on Outlay's side, not yours: the operator must check Outlay's AWS key.",
    });
  });
});

describe("no credential in any log line", () => {
  const lines: string[] = [];
  beforeEach(() => {
    lines.length = 0;
    for (const level of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        lines.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
      });
    }
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("logs neither Outlay's secret nor a session's key, secret or token, through success and failure", async () => {
    const ok = await testConnection(input());
    const denied = await testConnection(input({ bucket: DENIED_BUCKET }));
    const wrong = await testConnection(input({ externalId: "outlay-ext-wrong0000" }));
    const empty = await testConnection(input({ prefix: "missing" }));
    expect([ok.ok, denied.ok, wrong.ok, empty.ok]).toEqual([true, false, false, false]);
    // A session's access key id starts ASIA; its secret and token are long base64 runs.
    const secretLike = (line: string) =>
      line.includes(OUTLAY_KEY.secretAccessKey) || /ASIA[A-Z2-7]{16}/.test(line) || /[A-Za-z0-9+/]{40,}/.test(line);
    expect(lines.filter(secretLike)).toEqual([]);
    expect(secretLike(JSON.stringify([ok, denied, wrong, empty]))).toBe(false);
  });
});
