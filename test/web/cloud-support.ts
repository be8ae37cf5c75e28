// Shared steps of the /cloud page tests (cloud.test.ts) and its role-table probes
// (cloud.probes.ts): the page's upload form as a browser sends it (multipart/form-data, the file
// last), the requests of its upload script (session cookie and CSRF header), the imports' D1 rows.
import { env } from "cloudflare:workers";
import type { Browser } from "../auth/browser.ts";
import type { Org } from "../auth/orgs.ts";

export const utf8 = new TextEncoder();

/** A multipart/form-data body as a browser sends the page's form: the fields, then the file last. */
export function formBody(
  fields: [string, string][],
  file: { name: string; bytes: Uint8Array } | null,
  fieldsAfter: [string, string][] = [],
) {
  const boundary = `----OutlayTestBoundary${Math.random().toString(36).slice(2)}`;
  const chunks: Uint8Array[] = [];
  for (const [name, value] of fields) {
    chunks.push(utf8.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  if (file) {
    chunks.push(
      utf8.encode(
        `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${file.name}"\r\nContent-Type: text/csv\r\n\r\n`,
      ),
      file.bytes,
      utf8.encode("\r\n"),
    );
  }
  for (const [name, value] of fieldsAfter) {
    chunks.push(utf8.encode(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  chunks.push(utf8.encode(`--${boundary}--\r\n`));
  const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    body.set(c, at);
    at += c.length;
  }
  return { body, contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Posts the page's upload form (with this page's CSRF token unless told otherwise). */
export async function uploadForm(
  b: Browser,
  file: { name: string; bytes: Uint8Array },
  options: { csrf?: boolean; after?: [string, string][] } = {},
) {
  await b.get("/cloud");
  const fields: [string, string][] = options.csrf === false ? [] : [["_csrf", b.csrf ?? ""]];
  const { body, contentType } = formBody(fields, file, options.after);
  return b.request("/cloud/imports", {
    method: "POST",
    headers: { "content-type": contentType, "content-length": String(body.length), origin: new URL(b.base).origin },
    body,
  });
}

export type ImportRow = { id: string; status: string; file_name: string; error: string | null };

export function importsOf(org: Org): Promise<ImportRow[]> {
  return env.DB.prepare(
    "SELECT id, status, file_name, error FROM cloud_imports WHERE tenant_id = ? ORDER BY created_at",
  )
    .bind(org.tenantId)
    .all<ImportRow>()
    .then((r) => r.results);
}

export async function finished(org: Org, id: string): Promise<ImportRow> {
  const until = Date.now() + 20_000;
  for (;;) {
    const row = await env.DB.prepare(
      "SELECT id, status, file_name, error FROM cloud_imports WHERE tenant_id = ? AND id = ?",
    )
      .bind(org.tenantId, id)
      .first<ImportRow>();
    if (!row) throw new Error(`no import ${id}`);
    if (row.status === "done" || row.status === "failed" || Date.now() > until) return row;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A request from the page's script: the session cookie and the CSRF token as a header. */
export function scriptRequest(b: Browser, path: string, init: RequestInit & { csrf?: boolean } = {}) {
  const headers = new Headers(init.headers);
  if (init.csrf !== false && b.csrf) headers.set("x-csrf-token", b.csrf);
  headers.set("origin", new URL(b.base).origin);
  return b.request(path, { ...init, headers });
}

/** The script's "complete" post: an empty form. */
export function completeUpload(b: Browser, url: string) {
  return scriptRequest(b, url, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: "",
  });
}

export function startUpload(b: Browser, size: number, fileName = "big.csv") {
  return scriptRequest(b, "/cloud/uploads", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ size: String(size), file_name: fileName }).toString(),
  });
}

export function putPart(b: Browser, url: string, bytes: Uint8Array, options: { csrf?: boolean } = {}) {
  return scriptRequest(b, url, {
    method: "PUT",
    headers: { "content-type": "application/octet-stream", "content-length": String(bytes.length) },
    body: bytes,
    csrf: options.csrf,
  });
}
