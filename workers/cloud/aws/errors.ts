// What can go wrong talking to AWS, as values (docs/architecture.md "Errors"): the AWS error
// code from the XML body (STS `<ErrorResponse><Error><Code>`, S3 `<Error><Code>`) mapped to a
// stable code the connector's callers switch on, with whether trying again later can help.
import { node, parseXml, text } from "./xml.ts";

export type Service = "sts" | "s3";

export type ConnectorFailureCode =
  /** AWS said no: STS (trust policy, ExternalId, unknown role) or S3 (permissions, bucket policy) */
  | "access_denied"
  /** the access key is unknown to AWS (Outlay's own key, or a session key AWS no longer knows) */
  | "invalid_credentials"
  /** the request's signature was refused: the secret does not match the access key */
  | "signature_mismatch"
  /** the temporary session has expired: assume the role again */
  | "expired_token"
  | "no_such_bucket"
  | "no_such_key"
  /** the bucket lives in another region than the one asked (S3 answered with a redirect) */
  | "wrong_region"
  /** AWS refused a parameter (ValidationError, InvalidArgument) or the caller passed a bad one */
  | "invalid_request"
  /** throttled or AWS had an internal error (429, 5xx, SlowDown, Throttling) */
  | "unavailable"
  /** no answer at all: DNS, connection refused, TLS */
  | "unreachable"
  /** an answer that is not what the API documents (not XML, fields missing) */
  | "malformed_response"
  /** any other AWS error code */
  | "aws_error";

export type ConnectorFailure = {
  code: ConnectorFailureCode;
  service: Service;
  /** the HTTP status AWS answered, null when none came */
  status: number | null;
  /** AWS's own error code (e.g. "AccessDenied"), bounded; null when the body had none */
  awsCode: string | null;
  /** AWS's message, or ours, bounded to 300 characters; never holds a credential */
  message: string;
  /** true when the same call may succeed later without anyone changing anything */
  retryable: boolean;
};

const CODES: Record<string, ConnectorFailureCode> = {
  AccessDenied: "access_denied",
  AccessDeniedException: "access_denied",
  AllAccessDisabled: "access_denied",
  InvalidAccessKeyId: "invalid_credentials",
  InvalidClientTokenId: "invalid_credentials",
  InvalidToken: "invalid_credentials",
  SignatureDoesNotMatch: "signature_mismatch",
  IncompleteSignature: "signature_mismatch",
  ExpiredToken: "expired_token",
  ExpiredTokenException: "expired_token",
  TokenRefreshRequired: "expired_token",
  NoSuchBucket: "no_such_bucket",
  NoSuchKey: "no_such_key",
  PermanentRedirect: "wrong_region",
  AuthorizationHeaderMalformed: "wrong_region",
  ValidationError: "invalid_request",
  InvalidArgument: "invalid_request",
  InvalidParameterValue: "invalid_request",
  MalformedPolicyDocument: "invalid_request",
  RegionDisabledException: "access_denied",
  Throttling: "unavailable",
  ThrottlingException: "unavailable",
  SlowDown: "unavailable",
  RequestLimitExceeded: "unavailable",
  InternalError: "unavailable",
  ServiceUnavailable: "unavailable",
};

const RETRYABLE: ReadonlySet<ConnectorFailureCode> = new Set(["expired_token", "unavailable", "unreachable"]);

const MAX_MESSAGE = 300;

function bounded(value: string): string {
  const flat = value.replace(/\s+/g, " ").trim();
  return flat.length > MAX_MESSAGE ? `${flat.slice(0, MAX_MESSAGE - 1)}…` : flat;
}

export function failure(
  service: Service,
  code: ConnectorFailureCode,
  message: string,
  status: number | null = null,
  awsCode: string | null = null,
): ConnectorFailure {
  return { code, service, status, awsCode, message: bounded(message), retryable: RETRYABLE.has(code) };
}

function byStatus(status: number): ConnectorFailureCode {
  if (status === 403) return "access_denied";
  if (status === 404) return "no_such_key";
  if (status === 429 || status >= 500) return "unavailable";
  if (status >= 300 && status < 400) return "wrong_region";
  return "aws_error";
}

/** A failure from an AWS error answer: the code from its XML body, else from its status alone. */
export async function failureFromResponse(service: Service, res: Response): Promise<ConnectorFailure> {
  const body = res.status >= 300 && res.status < 400 ? "" : await res.text();
  const doc = body ? parseXml(body) : null;
  const error = doc === null ? null : (node(node(doc.ErrorResponse)?.Error) ?? node(doc.Error));
  const awsCode = text(error?.Code);
  const awsMessage = text(error?.Message);
  const code =
    (awsCode !== null ? CODES[awsCode] : undefined) ?? (awsCode !== null ? "aws_error" : byStatus(res.status));
  const region = res.headers.get("x-amz-bucket-region");
  const message =
    awsMessage ??
    (code === "wrong_region" && region !== null
      ? `the bucket is in region ${region}`
      : `${service.toUpperCase()} answered HTTP ${res.status}`);
  const result = failure(service, code, message, res.status, awsCode === null ? null : bounded(awsCode));
  // A status AWS documents as transient stays retryable even under an unlisted code.
  return code === "aws_error" && (res.status === 429 || res.status >= 500) ? { ...result, retryable: true } : result;
}

/** A failure for a fetch that got no answer (the error's own text may name the host, not a key). */
export function unreachable(service: Service, error: unknown): ConnectorFailure {
  const detail = error instanceof Error ? error.message : "no answer";
  return failure(service, "unreachable", `${service.toUpperCase()} could not be reached: ${detail}`);
}
