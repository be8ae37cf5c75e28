// "Test connection": assume the role, list the prefix, read the newest manifest — each step's
// verdict in words the customer can act on. A refusal is a state (the customer must change
// something), not something to retry forever: `retryable` says which is which.
import type { ConnectorFailure, ConnectorFailureCode } from "./errors.ts";
import { type ExportPeriod, findManifests, folderOf, readPeriod } from "./manifest.ts";
import { listObjects, s3Client } from "./s3.ts";
import { type AwsKey, assumeRole, roleSessionName } from "./sts.ts";

export type ConnectionInput = {
  /** Outlay's own AWS key (Worker secrets) */
  key: AwsKey;
  /** Outlay's AWS account id, as the template's trust policy names it */
  outlayAccountId: string;
  tenantId: string;
  roleArn: string;
  externalId: string;
  bucket: string;
  prefix: string;
  /** the bucket's region */
  region: string;
  stsEndpoint?: string;
  s3Endpoint?: string;
  s3Style?: "path" | "virtual";
  /** true once this role has worked: a refusal then means it was deleted or no longer trusts Outlay */
  previouslyConnected?: boolean;
};

export type ConnectionStep = "assume_role" | "list_prefix" | "read_manifest";

export type StepVerdict = {
  step: ConnectionStep;
  ok: boolean;
  message: string;
  code: ConnectorFailureCode | "no_export" | null;
};

export type ConnectionVerdict = {
  ok: boolean;
  /** false: nothing changes until the customer changes the role, bucket or export; true: try again later */
  retryable: boolean;
  /** the steps that ran, in order; the last one failed when ok is false */
  steps: StepVerdict[];
  /** the newest billing period found, when the test got that far */
  newest: ExportPeriod | null;
};

function passed(step: ConnectionStep, message: string): StepVerdict {
  return { step, ok: true, message, code: null };
}

function failed(
  steps: StepVerdict[],
  step: ConnectionStep,
  reason: ConnectorFailure,
  message: string,
): ConnectionVerdict {
  return {
    ok: false,
    retryable: reason.retryable,
    steps: [...steps, { step, ok: false, message, code: reason.code }],
    newest: null,
  };
}

/** Words for the failures every step shares (AWS busy, Outlay's own key refused, the session expired). */
function common(reason: ConnectorFailure, service: string): string | null {
  switch (reason.code) {
    case "unavailable":
    case "unreachable":
      return `${service} could not be reached or was busy (${reason.message}); Outlay will try again later.`;
    case "expired_token":
      return "The role session expired before the test finished; test the connection again.";
    default:
      return null;
  }
}

function assumeMessage(input: ConnectionInput, reason: ConnectorFailure): string {
  switch (reason.code) {
    case "access_denied":
      return input.previouslyConnected
        ? `The role ${input.roleArn} no longer exists or no longer trusts Outlay: AWS refused to let Outlay assume it. ` +
            `Outlay stops reading your bill until you re-create the role from the template (or restore its trust policy and ` +
            `ExternalId condition) and test the connection again.`
        : `AWS refused to let Outlay assume the role ${input.roleArn}: check that the role exists, that its trust policy ` +
            `names Outlay's account (${input.outlayAccountId}), and that its sts:ExternalId condition is ${input.externalId}. ` +
            `AWS does not say which of these is wrong.`;
    case "invalid_credentials":
    case "signature_mismatch":
      return "AWS did not accept Outlay's own access key. This is on Outlay's side, not yours: the operator must check Outlay's AWS key.";
    case "invalid_request":
      return `AWS refused the request to assume the role: ${reason.message}.`;
    default:
      return (
        common(reason, "AWS STS") ??
        `AWS refused to let Outlay assume the role (${reason.awsCode ?? reason.code}: ${reason.message}).`
      );
  }
}

function listMessage(input: ConnectionInput, where: string, reason: ConnectorFailure): string {
  switch (reason.code) {
    case "access_denied":
      return `The role was assumed but S3 refused to list ${where}: check the role's s3:ListBucket permission (its s3:prefix condition must allow ${folderOf(input.prefix) || "the whole bucket"}) and the bucket policy.`;
    case "no_such_bucket":
      return `The role was assumed but there is no bucket named ${input.bucket}: check the bucket name.`;
    case "wrong_region":
      return `The bucket ${input.bucket} is not in ${input.region} (${reason.message}): set the bucket's region.`;
    default:
      return (
        common(reason, "Amazon S3") ??
        `S3 refused to list ${where} (${reason.awsCode ?? reason.code}: ${reason.message}).`
      );
  }
}

function readMessage(input: ConnectionInput, key: string, reason: ConnectorFailure): string {
  if (reason.code === "access_denied") {
    return `The role can list the bucket but S3 refused to read s3://${input.bucket}/${key}: check the role's s3:GetObject permission on arn:aws:s3:::${input.bucket}/${folderOf(input.prefix)}* and the bucket policy.`;
  }
  return (
    common(reason, "Amazon S3") ??
    `S3 refused to read s3://${input.bucket}/${key} (${reason.awsCode ?? reason.code}: ${reason.message}).`
  );
}

export async function testConnection(input: ConnectionInput): Promise<ConnectionVerdict> {
  const steps: StepVerdict[] = [];
  const assumed = await assumeRole({
    key: input.key,
    roleArn: input.roleArn,
    externalId: input.externalId,
    tenantId: input.tenantId,
    ...(input.stsEndpoint === undefined ? {} : { endpoint: input.stsEndpoint }),
  });
  if (!assumed.ok) return failed(steps, "assume_role", assumed.reason, assumeMessage(input, assumed.reason));
  const until = new Date(assumed.credentials.expiration).toISOString();
  steps.push(
    passed(
      "assume_role",
      `Outlay assumed the role ${input.roleArn} (session ${roleSessionName(input.tenantId)}, valid until ${until}).`,
    ),
  );

  const where = `s3://${input.bucket}/${folderOf(input.prefix)}`;
  const s3 = s3Client(assumed.credentials, {
    bucket: input.bucket,
    region: input.region,
    ...(input.s3Endpoint === undefined ? {} : { endpoint: input.s3Endpoint }),
    ...(input.s3Style === undefined ? {} : { style: input.s3Style }),
  });
  const listed = await listObjects(s3, { prefix: folderOf(input.prefix), maxKeys: 1 });
  if (!listed.ok) return failed(steps, "list_prefix", listed.reason, listMessage(input, where, listed.reason));
  const manifests = await findManifests(s3, input.prefix);
  if (!manifests.ok) return failed(steps, "list_prefix", manifests.reason, listMessage(input, where, manifests.reason));
  steps.push(passed("list_prefix", `Outlay listed ${where}.`));

  const newest = manifests.value.at(-1);
  if (newest === undefined) {
    const message =
      `No CUR 2.0 export found under ${where}: check that a Data Export of the CUR 2.0 table delivers to this bucket and ` +
      `prefix. AWS writes the first files up to 24 hours after the export is created.`;
    return {
      ok: false,
      retryable: true,
      steps: [...steps, { step: "read_manifest", ok: false, message, code: "no_export" }],
      newest: null,
    };
  }
  const read = await readPeriod(s3, newest);
  if (!read.ok) return failed(steps, "read_manifest", read.reason, readMessage(input, newest.manifestKey, read.reason));
  if ("reason" in read.value) {
    const message = `The newest manifest, s3://${input.bucket}/${read.value.key}, could not be used: ${read.value.reason}.`;
    return {
      ok: false,
      retryable: true,
      steps: [...steps, { step: "read_manifest", ok: false, message, code: "malformed_response" }],
      newest: null,
    };
  }
  const period = read.value;
  const bytes = period.dataFiles.reduce((sum, f) => sum + (f.size ?? 0), 0);
  const what = period.kind === "cur2" ? "CUR 2.0 export" : "legacy Cost and Usage Report";
  steps.push(
    passed(
      "read_manifest",
      `Found the ${what} "${period.exportName}": newest billing period ${period.billingPeriod}, ` +
        `${period.dataFiles.length} data file${period.dataFiles.length === 1 ? "" : "s"} (${bytes} bytes).`,
    ),
  );
  return { ok: true, retryable: false, steps, newest: period };
}
