// SigV4 checked the way AWS checks it: the request's canonical form recomputed with AWS's own
// signer (@smithy/signature-v4, the one inside the AWS SDK) for the secret the access key
// belongs to, and the two signatures compared. The stand-ins answer as AWS does when they
// differ (SignatureDoesNotMatch) or when the key is unknown.
import type { IncomingHttpHeaders } from "node:http";
import { timingSafeEqual } from "node:crypto";
import { Sha256 } from "@aws-crypto/sha256-js";
import { SignatureV4 } from "@smithy/signature-v4";

export type Secret = { secretAccessKey: string; sessionToken?: string };

export type Checked = { ok: true; accessKeyId: string } | { ok: false; status: number; code: string; message: string };

const AUTHORIZATION =
  /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const MAX_SKEW_MS = 15 * 60 * 1000;

export type SignedRequest = { method: string; url: string; headers: IncomingHttpHeaders; body: Uint8Array };

export async function checkSignature(
  req: SignedRequest,
  service: "sts" | "s3",
  region: string,
  secretOf: (accessKeyId: string) => Secret | null,
  unknownKeyCode: string,
): Promise<Checked> {
  const auth = AUTHORIZATION.exec(req.headers.authorization ?? "");
  if (auth === null) {
    return {
      ok: false,
      status: 403,
      code: "MissingAuthenticationToken",
      message: "Request is missing Authentication Token",
    };
  }
  const [, accessKeyId = "", scopeDate, scopeRegion, scopeService, signedHeaders = "", signature = ""] = auth;
  const secret = secretOf(accessKeyId);
  if (secret === null) {
    return {
      ok: false,
      status: 403,
      code: unknownKeyCode,
      message: "The security token included in the request is invalid.",
    };
  }
  const date = AMZ_DATE.exec(String(req.headers["x-amz-date"] ?? ""));
  if (
    date === null ||
    scopeRegion !== region ||
    scopeService !== service ||
    !String(req.headers["x-amz-date"]).startsWith(scopeDate ?? "")
  ) {
    return {
      ok: false,
      status: 403,
      code: "SignatureDoesNotMatch",
      message: "Credential should be scoped to a valid region and service.",
    };
  }
  const [y, mo, d, h, mi, se] = date.slice(1).map(Number) as [number, number, number, number, number, number];
  const signingDate = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  if (Math.abs(Date.now() - signingDate.getTime()) > MAX_SKEW_MS) {
    return {
      ok: false,
      status: 403,
      code: "SignatureDoesNotMatch",
      message: "Signature expired: the request time is too far from the server's.",
    };
  }
  const url = new URL(req.url, "http://stand-in");
  const headers: Record<string, string> = {};
  for (const name of signedHeaders.split(";")) {
    const value = req.headers[name];
    if (value === undefined)
      return { ok: false, status: 403, code: "SignatureDoesNotMatch", message: `Signed header ${name} is missing.` };
    headers[name] = Array.isArray(value) ? value.join(",") : value;
  }
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const seen = query[key];
    query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value];
  }
  const [hostname = "", port] = (headers.host ?? "").split(":");
  const signer = new SignatureV4({
    service,
    region,
    credentials: { accessKeyId, ...secret },
    sha256: Sha256,
    uriEscapePath: service !== "s3",
    applyChecksum: false,
  });
  const recomputed = await signer.sign(
    {
      method: req.method,
      protocol: "http:",
      hostname,
      port: port === undefined ? undefined : Number(port),
      path: url.pathname,
      query,
      headers,
      body: req.body,
    },
    { signingDate },
  );
  const expected = /Signature=([0-9a-f]{64})/.exec(recomputed.headers.authorization ?? "")?.[1] ?? "";
  if (expected.length !== signature.length || !timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    return {
      ok: false,
      status: 403,
      code: "SignatureDoesNotMatch",
      message:
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    };
  }
  return { ok: true, accessKeyId };
}

export function readBody(req: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

export function xmlEscape(value: string): string {
  return value.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
