// The AWS connector tests' view of the stand-ins (test/stand-ins/aws/, started by
// test/global-setup.ts): the options that point the connector at them, a role session, and
// unsigned writes through the S3 stand-in's control route so each test lays out its own objects.
import { env } from "cloudflare:workers";
import { assumeRole, s3Client, type S3, type TemporaryCredentials } from "../../../workers/cloud/aws/index.ts";
import { BUCKET, OUTLAY_KEY, REGION, ROLES, type StandInRole } from "../../stand-ins/aws/fixtures.ts";

export function roleOptions(role: StandInRole = ROLES.reader) {
  return {
    key: OUTLAY_KEY,
    roleArn: role.arn,
    externalId: role.externalId,
    tenantId: "tnt_7Hq2xZ9kLmN4pR",
    endpoint: env.AWS_STS_TEST_URL,
  };
}

export async function session(role: StandInRole = ROLES.reader): Promise<TemporaryCredentials> {
  const assumed = await assumeRole(roleOptions(role));
  if (!assumed.ok) throw new Error(`assume role: ${assumed.reason.code}`);
  return assumed.credentials;
}

export function bucket(credentials: TemporaryCredentials, name: string = BUCKET): S3 {
  return s3Client(credentials, { bucket: name, region: REGION, endpoint: env.AWS_S3_TEST_URL, style: "path" });
}

export async function put(key: string, body: string | Uint8Array, name: string = BUCKET): Promise<void> {
  const path = key.split("/").map(encodeURIComponent).join("/");
  const res = await fetch(`${env.AWS_S3_TEST_URL}/_control/put/${name}/${path}`, { method: "PUT", body });
  if (!res.ok) throw new Error(`put ${key}: ${res.status}`);
}

/** A prefix no other test uses. */
export function freshPrefix(label: string): string {
  return `t/${label}-${crypto.randomUUID().slice(0, 8)}`;
}

export async function gzip(text: string): Promise<Uint8Array> {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
