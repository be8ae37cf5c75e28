// S3 reads with a role session's credentials (SigV4 by aws4fetch, `x-amz-security-token`):
// ListObjectsV2 (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html),
// HeadObject and GetObject with a byte Range (RFC 9110 §14.1.2; the import reads bills by
// ranges). Path-style (`<endpoint>/<bucket>/<key>`) or virtual-hosted
// (`<bucket>.<endpoint host>/<key>`). Redirects are not followed: a 301 means another region.
import { AwsClient } from "aws4fetch";
import { type ConnectorFailure, failure, failureFromResponse, unreachable } from "./errors.ts";
import type { TemporaryCredentials } from "./sts.ts";
import { node, nodes, parseXml, text } from "./xml.ts";

export type S3Location = {
  bucket: string;
  region: string;
  /** default https://s3.<region>.amazonaws.com */
  endpoint?: string;
  /** default "virtual" (AWS's own); "path" for endpoints that serve every bucket under one host */
  style?: "path" | "virtual";
};

export type S3 = { client: AwsClient; location: S3Location };

export type S3Object = { key: string; size: number; etag: string; lastModified: number | null };

export type ListPage = { objects: S3Object[]; commonPrefixes: string[]; nextContinuationToken: string | null };

export type S3Result<T> = { ok: true; value: T } | { ok: false; reason: ConnectorFailure };

/** A client for one bucket with one session's credentials (kept in this object only). */
export function s3Client(credentials: TemporaryCredentials, location: S3Location): S3 {
  const client = new AwsClient({
    accessKeyId: credentials.accessKeyId,
    secretAccessKey: credentials.secretAccessKey,
    sessionToken: credentials.sessionToken,
    service: "s3",
    region: location.region,
    retries: 0,
  });
  return { client, location };
}

/** RFC 3986 unreserved characters stay, everything else is percent-encoded; "/" separates segments. */
function encodeKey(key: string): string {
  return key
    .split("/")
    .map((segment) =>
      encodeURIComponent(segment).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`),
    )
    .join("/");
}

/** The object's (or, with key "", the bucket's) URL. */
export function objectUrl(location: S3Location, key: string): URL {
  const endpoint = new URL(location.endpoint ?? `https://s3.${location.region}.amazonaws.com`);
  const base = endpoint.pathname.replace(/\/+$/, "");
  if ((location.style ?? "virtual") === "path") {
    endpoint.pathname = `${base}/${encodeURIComponent(location.bucket)}/${encodeKey(key)}`;
  } else {
    endpoint.hostname = `${location.bucket}.${endpoint.hostname}`;
    endpoint.pathname = `${base}/${encodeKey(key)}`;
  }
  return endpoint;
}

async function send(s3: S3, url: URL, init: RequestInit): Promise<Response | ConnectorFailure> {
  try {
    return await s3.client.fetch(url.toString(), { ...init, redirect: "manual" });
  } catch (error) {
    return unreachable("s3", error);
  }
}

function isFailure(value: Response | ConnectorFailure): value is ConnectorFailure {
  return !(value instanceof Response);
}

function objectOf(n: { Key?: unknown; Size?: unknown; ETag?: unknown; LastModified?: unknown }): S3Object | null {
  const key = typeof n.Key === "string" ? n.Key : null;
  const size = typeof n.Size === "string" ? Number(n.Size) : Number.NaN;
  if (key === null || !Number.isSafeInteger(size) || size < 0) return null;
  const modified = typeof n.LastModified === "string" ? Date.parse(n.LastModified) : Number.NaN;
  return {
    key,
    size,
    etag: typeof n.ETag === "string" ? n.ETag : "",
    lastModified: Number.isNaN(modified) ? null : modified,
  };
}

export type ListOptions = { prefix: string; delimiter?: string; continuationToken?: string | null; maxKeys?: number };

/** One page of ListObjectsV2 (at most 1,000 keys, fewer with maxKeys). */
export async function listObjects(s3: S3, options: ListOptions): Promise<S3Result<ListPage>> {
  const url = objectUrl(s3.location, "");
  url.searchParams.set("list-type", "2");
  url.searchParams.set("prefix", options.prefix);
  if (options.delimiter !== undefined) url.searchParams.set("delimiter", options.delimiter);
  if (options.continuationToken) url.searchParams.set("continuation-token", options.continuationToken);
  if (options.maxKeys !== undefined) url.searchParams.set("max-keys", String(options.maxKeys));
  const res = await send(s3, url, { method: "GET" });
  if (isFailure(res)) return { ok: false, reason: res };
  if (res.status !== 200) return { ok: false, reason: await failureFromResponse("s3", res) };
  const result = node(parseXml(await res.text())?.ListBucketResult);
  if (result === null) {
    return {
      ok: false,
      reason: failure("s3", "malformed_response", "S3 answered 200 without a ListBucketResult", 200),
    };
  }
  const objects: S3Object[] = [];
  for (const entry of nodes(result.Contents)) {
    const object = objectOf(entry);
    if (object === null) {
      return {
        ok: false,
        reason: failure("s3", "malformed_response", "S3 listed an object without a key or size", 200),
      };
    }
    objects.push(object);
  }
  const commonPrefixes = nodes(result.CommonPrefixes)
    .map((p) => text(p.Prefix))
    .filter((p): p is string => p !== null);
  const truncated = text(result.IsTruncated) === "true";
  const next = text(result.NextContinuationToken);
  if (truncated && next === null) {
    return {
      ok: false,
      reason: failure("s3", "malformed_response", "S3 said the list goes on but gave no continuation token", 200),
    };
  }
  return { ok: true, value: { objects, commonPrefixes, nextContinuationToken: truncated ? next : null } };
}

/** Every page of a listing, up to `maxObjects` objects (a bound against a runaway prefix). */
export async function listAll(
  s3: S3,
  options: Omit<ListOptions, "continuationToken">,
  maxObjects = 100_000,
): Promise<S3Result<{ objects: S3Object[]; commonPrefixes: string[] }>> {
  const objects: S3Object[] = [];
  const commonPrefixes: string[] = [];
  let token: string | null = null;
  do {
    const page: S3Result<ListPage> = await listObjects(s3, { ...options, continuationToken: token });
    if (!page.ok) return page;
    objects.push(...page.value.objects);
    commonPrefixes.push(...page.value.commonPrefixes);
    if (objects.length > maxObjects) {
      return {
        ok: false,
        reason: failure("s3", "invalid_request", `more than ${maxObjects} objects under ${options.prefix}`),
      };
    }
    token = page.value.nextContinuationToken;
  } while (token !== null);
  return { ok: true, value: { objects, commonPrefixes } };
}

function headerObject(key: string, res: Response, size: number): S3Object {
  const modified = Date.parse(res.headers.get("last-modified") ?? "");
  return { key, size, etag: res.headers.get("etag") ?? "", lastModified: Number.isNaN(modified) ? null : modified };
}

export async function headObject(s3: S3, key: string): Promise<S3Result<S3Object>> {
  const res = await send(s3, objectUrl(s3.location, key), { method: "HEAD" });
  if (isFailure(res)) return { ok: false, reason: res };
  if (res.status !== 200) return { ok: false, reason: await failureFromResponse("s3", res) };
  const size = Number(res.headers.get("content-length"));
  if (!Number.isSafeInteger(size)) {
    return { ok: false, reason: failure("s3", "malformed_response", "S3 answered HEAD without a Content-Length", 200) };
  }
  return { ok: true, value: headerObject(key, res, size) };
}

/** An inclusive byte range, as HTTP writes it: bytes start..end. */
export type ByteRange = { start: number; end: number };

export type ObjectBody = {
  object: S3Object;
  /** the range served, or null for the whole object */
  range: (ByteRange & { total: number }) | null;
  body: ReadableStream<Uint8Array>;
};

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+)$/;

/** GetObject, whole or one range. A range that S3 did not honour exactly is a failure, not data. */
export async function getObject(s3: S3, key: string, range?: ByteRange): Promise<S3Result<ObjectBody>> {
  if (
    range !== undefined &&
    !(
      Number.isSafeInteger(range.start) &&
      Number.isSafeInteger(range.end) &&
      range.start >= 0 &&
      range.end >= range.start
    )
  ) {
    return { ok: false, reason: failure("s3", "invalid_request", "a byte range needs 0 ≤ start ≤ end") };
  }
  const headers: Record<string, string> = range === undefined ? {} : { range: `bytes=${range.start}-${range.end}` };
  const res = await send(s3, objectUrl(s3.location, key), { method: "GET", headers });
  if (isFailure(res)) return { ok: false, reason: res };
  const expected = range === undefined ? 200 : 206;
  if (res.status !== expected || res.body === null) {
    if (res.status === 200 || res.status === 206) {
      await res.body?.cancel();
      return {
        ok: false,
        reason: failure("s3", "malformed_response", `S3 answered ${res.status} where ${expected} was due`, res.status),
      };
    }
    return { ok: false, reason: await failureFromResponse("s3", res) };
  }
  if (range === undefined) {
    const size = Number(res.headers.get("content-length"));
    return {
      ok: true,
      value: { object: headerObject(key, res, Number.isSafeInteger(size) ? size : 0), range: null, body: res.body },
    };
  }
  const served = CONTENT_RANGE.exec(res.headers.get("content-range") ?? "");
  const start = Number(served?.[1]);
  const end = Number(served?.[2]);
  const total = Number(served?.[3]);
  const wanted = Math.min(range.end, total - 1);
  if (served === null || start !== range.start || end !== wanted) {
    await res.body.cancel();
    return {
      ok: false,
      reason: failure("s3", "malformed_response", "S3 served another range than the one asked", 206),
    };
  }
  return { ok: true, value: { object: headerObject(key, res, total), range: { start, end, total }, body: res.body } };
}

/** A small object's text (a manifest), refused past `maxBytes`. */
export async function getText(
  s3: S3,
  key: string,
  maxBytes = 16 * 1024 * 1024,
): Promise<S3Result<{ object: S3Object; text: string }>> {
  const got = await getObject(s3, key);
  if (!got.ok) return got;
  if (got.value.object.size > maxBytes) {
    await got.value.body.cancel();
    return { ok: false, reason: failure("s3", "invalid_request", `${key} is larger than ${maxBytes} bytes`) };
  }
  const body = await new Response(got.value.body).text();
  return { ok: true, value: { object: got.value.object, text: body } };
}
