// AWS error answers mapped to the connector's codes: the XML bodies are the documented shapes
// (STS `<ErrorResponse><Error>`, S3 `<Error>`), the statuses those AWS uses for them.
import { describe, expect, it } from "vitest";
import { failureFromResponse } from "../../../workers/cloud/aws/errors.ts";
import { objectUrl } from "../../../workers/cloud/aws/s3.ts";

const s3Error = (code: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>m</Message></Error>`;

const stsError = (code: string) =>
  `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>m</Message></Error><RequestId>r</RequestId></ErrorResponse>`;

describe("failureFromResponse", () => {
  it.each([
    ["sts", 403, "access_denied", false, stsError("AccessDenied")],
    ["sts", 400, "expired_token", true, stsError("ExpiredTokenException")],
    ["sts", 400, "unavailable", true, stsError("Throttling")],
    ["s3", 403, "invalid_credentials", false, s3Error("InvalidAccessKeyId")],
    ["s3", 404, "no_such_bucket", false, s3Error("NoSuchBucket")],
    ["s3", 503, "unavailable", true, s3Error("SlowDown")],
    ["s3", 500, "unavailable", true, "<html>oops</html>"],
    ["s3", 400, "aws_error", false, s3Error("SomethingNew")],
    ["s3", 502, "aws_error", true, s3Error("SomethingNew")],
  ] as const)("%s %i → %s (retryable: %s)", async (service, status, code, retryable, body) => {
    const failure = await failureFromResponse(service, new Response(body, { status }));
    expect([failure.code, failure.retryable, failure.status]).toEqual([code, retryable, status]);
  });

  it("names the bucket's region on a redirect, and bounds AWS's message", async () => {
    const moved = await failureFromResponse(
      "s3",
      new Response(null, { status: 301, headers: { "x-amz-bucket-region": "eu-west-1" } }),
    );
    const long = await failureFromResponse(
      "s3",
      new Response(`<Error><Code>AccessDenied</Code><Message>${"x".repeat(1000)}</Message></Error>`, { status: 403 }),
    );
    expect([moved.code, moved.message, long.message.length]).toEqual([
      "wrong_region",
      "the bucket is in region eu-west-1",
      300,
    ]);
  });
});

describe("objectUrl", () => {
  it("builds path-style and virtual-hosted URLs with keys percent-encoded per segment", () => {
    const key = "cur/exp/data/BILLING_PERIOD=2026-11/a b+(1).csv.gz";
    expect([
      objectUrl({ bucket: "b", region: "eu-west-1", style: "path", endpoint: "http://127.0.0.1:9000" }, key).toString(),
      objectUrl({ bucket: "b", region: "eu-west-1" }, key).toString(),
    ]).toEqual([
      "http://127.0.0.1:9000/b/cur/exp/data/BILLING_PERIOD%3D2026-11/a%20b%2B%281%29.csv.gz",
      "https://b.s3.eu-west-1.amazonaws.com/cur/exp/data/BILLING_PERIOD%3D2026-11/a%20b%2B%281%29.csv.gz",
    ]);
  });
});
