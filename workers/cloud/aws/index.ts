// The AWS connector (README.md): STS AssumeRole with Outlay's own key, S3 reads with the role's
// session, CUR 2.0 / legacy CUR discovery per billing period, "Test connection" verdicts, and
// the CloudFormation template for the customer's read-only role. The cloud component's other
// parts use this file only.
export type { ConnectorFailure, ConnectorFailureCode, Service } from "./errors.ts";
export type { AssumeRoleOptions, AssumeRoleResult, AwsKey, TemporaryCredentials } from "./sts.ts";
export {
  assumeRole,
  DEFAULT_STS_ENDPOINT,
  MAX_DURATION_SECONDS,
  MIN_DURATION_SECONDS,
  roleSessionName,
} from "./sts.ts";
export type { ByteRange, ListPage, ObjectBody, S3, S3Location, S3Object, S3Result } from "./s3.ts";
export { getObject, getText, headObject, listAll, listObjects, s3Client } from "./s3.ts";
export type { DataFile, Discovery, ExportKind, ExportPeriod, ManifestLocation, Skipped } from "./manifest.ts";
export { changedPeriods, discoverPeriods, findManifests, readPeriod } from "./manifest.ts";
export type { ConnectionInput, ConnectionStep, ConnectionVerdict, StepVerdict } from "./connection.ts";
export { testConnection } from "./connection.ts";
export { CUR_READ_ROLE_TEMPLATE, renderTemplate } from "./template.ts";
