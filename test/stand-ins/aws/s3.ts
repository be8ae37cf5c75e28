// A local S3: s3rver (a maintained-enough S3 server that speaks the REST API's XML, ranges and
// ListObjectsV2 continuation) behind a thin proxy that does what s3rver cannot: checks each
// request's SigV4 signature and session token against the sessions the STS stand-in issued,
// answers `ExpiredToken` (400) for an expired session and `AccessDenied` (403) for a bucket the
// role may not read or for any write, then passes the read on without its credentials.
// PUT /_control/put/<bucket>/<key> writes an object unsigned (tests seed their own layouts).
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, request, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { BUCKET, DENIED_BUCKET, REGION } from "./fixtures.ts";
import { listWithDelimiter } from "./s3-delimiter.ts";
import { letS3rverSealTokens } from "./s3rver-des.ts";
import type { Sessions } from "./sessions.ts";
import { checkSignature, readBody, xmlEscape } from "./sigv4.ts";

function error(req: IncomingMessage, res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { "content-type": "application/xml", "x-amz-request-id": "0000000000000000" });
  // HEAD answers carry no body, as S3's do.
  if (req.method === "HEAD") return void res.end();
  res.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><RequestId>0000000000000000</RequestId></Error>`,
  );
}

function forward(
  upstream: string,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  method: string,
  body: Buffer,
): void {
  const headers: Record<string, string> = {};
  for (const name of ["range", "content-type", "if-match", "if-none-match"]) {
    const value = req.headers[name];
    if (typeof value === "string") headers[name] = value;
  }
  if (method === "PUT") headers["content-length"] = String(body.length);
  const out = request(`${upstream}${path}`, { method, headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  out.on("error", (e) => error(req, res, 500, "InternalError", e.message));
  out.end(method === "PUT" ? body : undefined);
}

export async function startS3(
  sessions: Sessions,
): Promise<{ url: string; put(bucket: string, key: string, body: Uint8Array): Promise<void>; close(): Promise<void> }> {
  letS3rverSealTokens();
  const directory = mkdtempSync(join(tmpdir(), "outlay-s3-"));
  const s3rver = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: BUCKET }, { name: DENIED_BUCKET }],
  });
  const inner = await s3rver.run();
  const upstream = `http://${inner.address}:${inner.port}`;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readBody(req);
    const url = req.url ?? "/";
    if (url.startsWith("/_control/put/") && req.method === "PUT") {
      return forward(upstream, req, res, url.slice("/_control/put".length), "PUT", body);
    }
    const checked = await checkSignature(
      { method: req.method ?? "GET", url, headers: req.headers, body },
      "s3",
      REGION,
      (id) => {
        // The signature is checked over the token as sent; whether that token is the session's comes next.
        const session = sessions.get(id);
        const sent = req.headers["x-amz-security-token"];
        return session === null
          ? null
          : { secretAccessKey: session.secretAccessKey, ...(typeof sent === "string" ? { sessionToken: sent } : {}) };
      },
      "InvalidAccessKeyId",
    );
    if (!checked.ok) {
      const message =
        checked.code === "InvalidAccessKeyId"
          ? "The AWS Access Key Id you provided does not exist in our records."
          : checked.message;
      return error(req, res, checked.status, checked.code, message);
    }
    const session = sessions.get(checked.accessKeyId);
    if (session === null || req.headers["x-amz-security-token"] !== session.sessionToken) {
      return error(req, res, 400, "InvalidToken", "The provided token is malformed or otherwise invalid.");
    }
    if (Date.now() >= session.expiresAt) return error(req, res, 400, "ExpiredToken", "The provided token has expired.");
    const bucket = decodeURIComponent(new URL(url, "http://stand-in").pathname.split("/")[1] ?? "");
    const method = req.method ?? "GET";
    if (!session.role.buckets.includes(bucket) || (method !== "GET" && method !== "HEAD")) {
      return error(req, res, 403, "AccessDenied", "Access Denied");
    }
    const query = new URL(url, "http://stand-in").searchParams;
    if (method === "GET" && query.get("list-type") === "2" && query.has("delimiter")) {
      const listed = await listWithDelimiter(upstream, bucket, query);
      res.writeHead(listed.status, { "content-type": "application/xml" });
      return void res.end(listed.body);
    }
    forward(upstream, req, res, url, method, body);
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) error(req, res, 500, "InternalError", e instanceof Error ? e.message : "stand-in failure");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async put(bucket, key, data) {
      const res = await fetch(`${upstream}/${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`, {
        method: "PUT",
        body: data,
      });
      if (!res.ok) throw new Error(`s3rver PUT ${key}: ${res.status}`);
    },
    async close() {
      await new Promise<void>((done) => server.close(() => done()));
      await s3rver.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
