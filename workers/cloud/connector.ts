// The AWS connector of an organisation (docs/cloud.md, "The AWS connector"): its ExternalId
// (generated here, never editable), the role ARN, bucket, prefix and region the organisation
// enters, "Test connection", and the CloudFormation template with the ExternalId filled in. The
// AWS calls are aws/ (the library); the daily and manual runs are sync.ts.
import { z } from "zod";
import { AppError, invalid } from "../../shared/errors.ts";
import { base32 } from "../../shared/encoding.ts";
import { randomBytes } from "../../shared/ids.ts";
import { isoInstant } from "../../shared/time.ts";
import {
  clearCloudConnection,
  ensureCloudConnection,
  getCloudConnection,
  recordCloudConnectionCheck,
  saveCloudConnection,
  tenantDb,
  type CloudConnectionRow,
  type CloudConnectionState,
} from "../store/index.ts";
import {
  assumeRole,
  renderTemplate,
  testConnection,
  type AwsKey,
  type ConnectionVerdict,
  type S3Location,
} from "./aws/index.ts";
import { auditCloud, type CloudCaller } from "./imports.ts";

/** Outlay's side of the connector: its own AWS key and account, and where AWS is. */
export type ConnectorConfig = { key: AwsKey; accountId: string; stsEndpoint?: string; s3Endpoint?: string };

declare global {
  // Optional secrets: a deployment without the connector has none. `wrangler types` lists only
  // the required ones, so these two are declared here (docs/deploy.md, "The AWS connector").
  // (on both names of the Env type: the global one handlers get, and cloudflare:workers' one)
  interface Env {
    AWS_ACCESS_KEY_ID?: string;
    AWS_SECRET_ACCESS_KEY?: string;
  }
  namespace Cloudflare {
    interface Env {
      AWS_ACCESS_KEY_ID?: string;
      AWS_SECRET_ACCESS_KEY?: string;
    }
  }
}

export function connectorConfig(env: Env): ConnectorConfig | AppError {
  const accountId = env.OUTLAY_AWS_ACCOUNT_ID;
  const { AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey } = env;
  if (!/^\d{12}$/.test(accountId) || !accessKeyId || !secretAccessKey) {
    return new AppError(
      "conflict",
      "This Outlay deployment has no AWS connector: its operator sets OUTLAY_AWS_ACCOUNT_ID and Outlay's AWS key (docs/deploy.md). Bills can still be uploaded.",
    );
  }
  return {
    key: { accessKeyId, secretAccessKey },
    accountId,
    ...(env.AWS_STS_ENDPOINT ? { stsEndpoint: env.AWS_STS_ENDPOINT } : {}),
    ...(env.AWS_S3_ENDPOINT ? { s3Endpoint: env.AWS_S3_ENDPOINT } : {}),
  };
}

/** A role session for the organisation's saved connection (held by the caller only, never stored). */
export function assumeConnectionRole({ config, row }: Configured, tenantId: string) {
  return assumeRole({
    key: config.key,
    roleArn: row.role_arn,
    externalId: row.external_id,
    tenantId,
    ...(config.stsEndpoint === undefined ? {} : { endpoint: config.stsEndpoint }),
  });
}

/** Where the organisation's export is; an S3 endpoint set by the operator serves buckets by path. */
export function exportLocation(config: ConnectorConfig, row: { bucket: string; region: string }): S3Location {
  return config.s3Endpoint === undefined
    ? { bucket: row.bucket, region: row.region }
    : { bucket: row.bucket, region: row.region, endpoint: config.s3Endpoint, style: "path" };
}

/** 120 random bits; AWS allows 2–1,224 characters of [\w+=,.@:/-]. */
function newExternalId(): string {
  return `outlay-${base32(randomBytes(15))}`;
}

export type ConnectionView = {
  external_id: string;
  outlay_account_id: string | null;
  role_arn: string | null;
  bucket: string | null;
  prefix: string;
  region: string | null;
  state: CloudConnectionState;
  last_result: (ConnectionVerdict & Record<string, unknown>) | null;
  last_checked_at: string | null;
  last_sync_at: string | null;
};

function connectionView(env: Env, row: CloudConnectionRow): ConnectionView {
  const config = connectorConfig(env);
  return {
    external_id: row.external_id,
    outlay_account_id: config instanceof AppError ? null : config.accountId,
    role_arn: row.role_arn,
    bucket: row.bucket,
    prefix: row.prefix,
    region: row.region,
    state: row.state,
    last_result: row.last_result === null ? null : (JSON.parse(row.last_result) as ConnectionView["last_result"]),
    last_checked_at: isoInstant(row.last_checked_at),
    last_sync_at: isoInstant(row.last_sync_at),
  };
}

async function ensured(caller: CloudCaller): Promise<CloudConnectionRow> {
  return ensureCloudConnection(tenantDb(caller.env.DB, caller.tenantId), newExternalId(), Date.now());
}

/** The connection's state without making one (a page that only mentions it). */
export async function connectionState(caller: CloudCaller): Promise<CloudConnectionState> {
  return (await getCloudConnection(tenantDb(caller.env.DB, caller.tenantId)))?.state ?? "unconfigured";
}

export async function getConnection(caller: CloudCaller): Promise<ConnectionView> {
  return connectionView(caller.env, await ensured(caller));
}

// S3 bucket names (3–63 lower-case letters, digits, dots, hyphens; starting and ending with a
// letter or digit), AWS regions, and prefixes of printable characters without a leading slash.
const SaveConnection = z.strictObject({
  role_arn: z
    .string()
    .max(600)
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]{1,512}$/, "must be arn:aws:iam::<account>:role/<name>"),
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name")
    .refine((b) => !b.includes(".."), "must be an S3 bucket name"),
  prefix: z
    .string()
    .max(512)
    .regex(/^[^\p{Cc}]*$/u, "must be printable")
    .refine((p) => !p.startsWith("/"), "must not start with /")
    .default(""),
  region: z.string().regex(/^[a-z]{2}(-[a-z]+)+-\d{1,2}$/, "must be an AWS region such as us-east-1"),
});

export async function saveConnection(caller: CloudCaller, body: unknown): Promise<ConnectionView | AppError> {
  const parsed = SaveConnection.safeParse(body);
  if (!parsed.success) return invalid(parsed.error.issues);
  const { role_arn: roleArn, bucket, prefix, region } = parsed.data;
  await ensured(caller);
  const db = tenantDb(caller.env.DB, caller.tenantId);
  const now = Date.now();
  await saveCloudConnection(db, { roleArn, bucket, prefix, region }, now);
  await auditCloud(
    caller,
    { type: "cloud.connection_saved", subject: null, data: { roleArn, bucket, prefix, region } },
    now,
  );
  return getConnection(caller);
}

export async function deleteConnection(caller: CloudCaller): Promise<AppError | null> {
  const now = Date.now();
  if (!(await clearCloudConnection(tenantDb(caller.env.DB, caller.tenantId), now))) {
    return new AppError("not_found", "No AWS connection is set up.");
  }
  await auditCloud(caller, { type: "cloud.connection_deleted", subject: null, data: {} }, now);
  return null;
}

/** The state a verdict leaves the connection in. */
export function stateAfter(verdict: { ok: boolean; retryable: boolean }): CloudConnectionState {
  if (verdict.ok) return "connected";
  return verdict.retryable ? "failing" : "cut";
}

/** Records a test's or a run's verdict; a connection newly cut off is an audit event. */
export async function recordVerdict(
  caller: CloudCaller,
  row: CloudConnectionRow & { role_arn: string },
  verdict: ConnectionVerdict & Record<string, unknown>,
  synced: boolean,
): Promise<CloudConnectionState> {
  const state = stateAfter(verdict);
  const now = Date.now();
  const db = tenantDb(caller.env.DB, caller.tenantId);
  await recordCloudConnectionCheck(db, {
    roleArn: row.role_arn,
    state,
    result: JSON.stringify(verdict),
    at: now,
    synced,
  });
  if (state === "cut" && row.state !== "cut") {
    const failed = verdict.steps.find((s) => !s.ok);
    await auditCloud(
      caller,
      { type: "cloud.connection_cut", subject: null, data: { step: failed?.step ?? null, code: failed?.code ?? null } },
      now,
    );
  }
  return state;
}

/** A saved connection with everything the AWS calls need, or why there is none. */
export async function configuredConnection(caller: CloudCaller) {
  const config = connectorConfig(caller.env);
  if (config instanceof AppError) return config;
  const row = await getCloudConnection(tenantDb(caller.env.DB, caller.tenantId));
  if (!row || row.role_arn === null || row.bucket === null || row.region === null) {
    return new AppError("conflict", "No AWS connection is set up: save the role ARN, bucket, prefix and region first.");
  }
  return { config, row: { ...row, role_arn: row.role_arn, bucket: row.bucket, region: row.region } };
}

export type Configured = Exclude<Awaited<ReturnType<typeof configuredConnection>>, AppError>;

/** Assume the role, list the prefix, read the newest manifest: each step's verdict in words. */
export function checkConnection(tenantId: string, { config, row }: Configured): Promise<ConnectionVerdict> {
  const location = exportLocation(config, row);
  return testConnection({
    key: config.key,
    outlayAccountId: config.accountId,
    tenantId,
    roleArn: row.role_arn,
    externalId: row.external_id,
    bucket: row.bucket,
    prefix: row.prefix,
    region: row.region,
    previouslyConnected: row.state === "connected",
    ...(config.stsEndpoint === undefined ? {} : { stsEndpoint: config.stsEndpoint }),
    ...(location.endpoint === undefined ? {} : { s3Endpoint: location.endpoint, s3Style: location.style }),
  });
}

/** "Test connection": the check, recorded as the connection's state. */
export async function testConnectionNow(
  caller: CloudCaller,
): Promise<(ConnectionVerdict & { state: CloudConnectionState }) | AppError> {
  const found = await configuredConnection(caller);
  if (found instanceof AppError) return found;
  const verdict = await checkConnection(caller.tenantId, found);
  return { ...verdict, state: await recordVerdict(caller, found.row, verdict, false) };
}

/** How the template is answered, by the API and the dashboard alike: a YAML download, never cached. */
export const TEMPLATE_HEADERS = {
  "content-type": "application/yaml; charset=utf-8",
  "content-disposition": 'attachment; filename="outlay-cur-read-role.yaml"',
  "cache-control": "no-store",
} as const;

/** The CloudFormation template with the organisation's ExternalId and Outlay's account filled in. */
export async function connectionTemplate(caller: CloudCaller): Promise<string | AppError> {
  const config = connectorConfig(caller.env);
  if (config instanceof AppError) return config;
  const row = await ensured(caller);
  return renderTemplate(row.external_id, config.accountId);
}
