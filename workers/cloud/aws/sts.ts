// STS AssumeRole (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html): the
// Query API, a form-encoded POST signed with SigV4 by aws4fetch with Outlay's own key, answered
// by `AssumeRoleResponse` XML or `ErrorResponse` XML. The temporary credentials it returns are
// the caller's to hold in memory for one import or test; nothing here logs or stores them.
import { AwsClient } from "aws4fetch";
import { type ConnectorFailure, failure, failureFromResponse, unreachable } from "./errors.ts";
import { node, parseXml, text } from "./xml.ts";

/** Outlay's own long-term key (Worker secrets), the caller of AssumeRole. */
export type AwsKey = { accessKeyId: string; secretAccessKey: string };

/** A role session's credentials, valid until `expiration` (epoch ms UTC). */
export type TemporaryCredentials = AwsKey & { sessionToken: string; expiration: number };

export const DEFAULT_STS_ENDPOINT = "https://sts.amazonaws.com";
/** AssumeRole's own minimum; also the default (a test or an import rarely needs more). */
export const MIN_DURATION_SECONDS = 900;
/** The role's MaxSessionDuration in the template, and the most Outlay ever asks. */
export const MAX_DURATION_SECONDS = 3600;

export type AssumeRoleOptions = {
  key: AwsKey;
  roleArn: string;
  externalId: string;
  /** the organisation's id; its first characters name the session (`outlay-<prefix>`) in CloudTrail */
  tenantId: string;
  /** 900 to 3600; default 900 */
  durationSeconds?: number;
  /** default https://sts.amazonaws.com (global, signed for us-east-1); a regional endpoint needs its region */
  endpoint?: string;
  region?: string;
};

export type AssumeRoleResult =
  | { ok: true; credentials: TemporaryCredentials }
  | { ok: false; reason: ConnectorFailure };

const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/;
/** AssumeRole's ExternalId: 2 to 1,224 characters of [\w+=,.@:/-]. */
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;

/** `outlay-` and the first 12 characters of the tenant id that RoleSessionName allows. */
export function roleSessionName(tenantId: string): string {
  const prefix = tenantId.replace(/[^\w+=,.@-]/g, "").slice(0, 12);
  return prefix === "" ? "outlay" : `outlay-${prefix}`;
}

/** The region a STS endpoint signs for: sts.<region>.amazonaws.com, else us-east-1. */
function regionOf(endpoint: string): string {
  const match = /^sts\.([a-z0-9-]+)\.amazonaws\.com$/.exec(new URL(endpoint).hostname);
  return match?.[1] ?? "us-east-1";
}

function invalid(message: string): AssumeRoleResult {
  return { ok: false, reason: failure("sts", "invalid_request", message) };
}

export async function assumeRole(options: AssumeRoleOptions): Promise<AssumeRoleResult> {
  const duration = options.durationSeconds ?? MIN_DURATION_SECONDS;
  if (!Number.isInteger(duration) || duration < MIN_DURATION_SECONDS || duration > MAX_DURATION_SECONDS) {
    return invalid(`DurationSeconds must be a whole number from ${MIN_DURATION_SECONDS} to ${MAX_DURATION_SECONDS}`);
  }
  if (!ROLE_ARN.test(options.roleArn))
    return invalid("the role ARN is not of the form arn:aws:iam::<account>:role/<name>");
  if (!EXTERNAL_ID.test(options.externalId)) return invalid("the ExternalId is not 2 to 1,224 allowed characters");
  const endpoint = options.endpoint ?? DEFAULT_STS_ENDPOINT;
  const client = new AwsClient({
    accessKeyId: options.key.accessKeyId,
    secretAccessKey: options.key.secretAccessKey,
    service: "sts",
    region: options.region ?? regionOf(endpoint),
    retries: 0,
  });
  const body = new URLSearchParams({
    Action: "AssumeRole",
    Version: "2011-06-15",
    RoleArn: options.roleArn,
    RoleSessionName: roleSessionName(options.tenantId),
    ExternalId: options.externalId,
    DurationSeconds: String(duration),
  });
  let res: Response;
  try {
    res = await client.fetch(endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" },
      body: body.toString(),
      redirect: "manual",
    });
  } catch (error) {
    return { ok: false, reason: unreachable("sts", error) };
  }
  if (res.status !== 200) return { ok: false, reason: await failureFromResponse("sts", res) };
  return parseAssumeRoleResponse(await res.text());
}

/** The credentials of an `AssumeRoleResponse` document. */
export function parseAssumeRoleResponse(body: string): AssumeRoleResult {
  const doc = parseXml(body);
  const creds = node(node(node(doc?.AssumeRoleResponse)?.AssumeRoleResult)?.Credentials);
  const accessKeyId = text(creds?.AccessKeyId);
  const secretAccessKey = text(creds?.SecretAccessKey);
  const sessionToken = text(creds?.SessionToken);
  const expiration = Date.parse(text(creds?.Expiration) ?? "");
  if (accessKeyId === null || secretAccessKey === null || sessionToken === null || Number.isNaN(expiration)) {
    return {
      ok: false,
      reason: failure("sts", "malformed_response", "STS answered 200 without the role's credentials", 200),
    };
  }
  return { ok: true, credentials: { accessKeyId, secretAccessKey, sessionToken, expiration } };
}
