// /cloud: Cloud AI spend (issue 14 §4). Everyone who may read sees the figures of the imported
// bills and the import history; config:write adds the upload: a plain form post of the file (up to
// 100 MiB, streamed to the import, bill-form.ts) and, for the page's script, a multipart upload
// sent in parts to dashboard routes (session and CSRF header, like every htmx post). Every
// operation is the cloud component's own (workers/cloud/), with the signed-in person as the actor;
// an id is looked up within the signed-in organisation only: another organisation's import is a 404.
import { Hono, type Context, type MiddlewareHandler } from "hono";
import { AppError } from "../../../shared/errors.ts";
import { sameHash } from "../../../shared/crypto.ts";
import { can } from "../../auth/index.ts";
import {
  connectionState,
  completeUpload,
  createMultipartImport,
  createUploadImport,
  declaredLength,
  getImport,
  listImports,
  MAX_UPLOAD_BYTES,
  uploadPart,
  type CloudCaller,
  type CloudImportView,
} from "../../cloud/index.ts";
import { readBillForm } from "../bill-form.ts";
import { requireAccount, requireCsrf, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";
import { wantsFragment } from "../htmx.ts";
import { orgFormat } from "../org-format.ts";
import type { Format } from "../../../web/format.ts";
import { assetPaths } from "../../../web/static/index.ts";
import { ImportRow, type ImportItem } from "../../../web/components/cloud-imports.tsx";
import { CloudPage, ImportPage, NoImportPage, type PageNotice } from "../../../web/pages/cloud.tsx";
import { cloudFigures, cloudRange } from "../cloud-figures.ts";
import { connectorPages } from "./cloud-aws.tsx";

/** The plain upload form's post: multipart, its CSRF field read by the route (bill-form.ts). Any
 * other body sent there goes through the usual checks (64 KiB, forms only, CSRF) first. */
function isBillForm(c: Context): boolean {
  return (
    c.req.method === "POST" &&
    c.req.path === "/cloud/imports" &&
    /^multipart\/form-data\b/i.test(c.req.header("content-type") ?? "")
  );
}

/** The two routes that take a bill's bytes, not a small form: they check length and type themselves. */
export function takesBill(c: Context): boolean {
  return isBillForm(c) || (c.req.method === "PUT" && /^\/cloud\/uploads\/[^/]+\/parts\/[^/]+$/.test(c.req.path));
}

/** `middleware` on every request but the bill uploads. */
export function unlessBill(middleware: MiddlewareHandler): MiddlewareHandler {
  return async function unlessBillUpload(c, next) {
    if (takesBill(c)) return next();
    return middleware(c, next);
  };
}

const CONNECTOR_STATES = {
  unconfigured: "Not set up",
  unverified: "Saved, not tested yet",
  connected: "Connected",
  failing: "Failing (tried again at the next daily run)",
  cut: "Cut off: AWS refused access",
} as const;

const FORM_UPLOAD_MIB = MAX_UPLOAD_BYTES / (1024 * 1024);
const EXPIRED_FORM = "This form has expired or did not come from Outlay. Reload the page and try again.";

export const cloudPages = new Hono<WebEnv>();
// The plain upload form checks its CSRF field itself (reading it means reading the form's start).
cloudPages.use("/cloud/*", requireAccount, async function csrfUnlessForm(c, next) {
  if (isBillForm(c)) return next();
  return requireCsrf(c, next);
});
cloudPages.use("/cloud/*", requirePermission("read"));
cloudPages.post("/cloud/*", requirePermission("config:write"));
cloudPages.put("/cloud/*", requirePermission("config:write"));
cloudPages.route("/", connectorPages);

function caller(c: Context<WebEnv>): CloudCaller {
  const { a, org } = signedInOrg(c);
  return { env: c.env, tenantId: org.tenantId, actor: { kind: "user", id: a.user.id } };
}

function where(e: { row: number | null; column: string | null }): string {
  if (e.row === null) return e.column ?? "";
  return e.column === null ? `row ${e.row}` : `row ${e.row}, column ${e.column}`;
}

export function importItem(v: CloudImportView, f: Format): ImportItem {
  const percent = v.bytes_total > 0 ? Math.floor((v.bytes_read * 100) / v.bytes_total) : 0;
  const located = v.error ? where(v.error) : "";
  return {
    id: v.id,
    status: v.status,
    fileName: v.file_name,
    kind: [v.format, v.schema].filter(Boolean).join(" · ") || "not read yet",
    created: f.dateTime(Date.parse(v.created_at)),
    periods: v.billing_periods.join(", ") || "—",
    rowsRead: f.count(v.rows_read),
    rowsStored: f.count(v.rows_stored),
    bytesRead: v.bytes_read,
    bytesTotal: v.bytes_total,
    percent: `${percent}%`,
    awaitingParts: v.upload !== null,
    warningCount: v.warning_count,
    warnings: v.warnings.map((w) => ({
      row: w.row === null ? "—" : f.count(w.row),
      column: w.column ?? "—",
      message: w.message,
    })),
    error: v.error ? `${v.error.message}${located ? ` (${located})` : ""}` : null,
  };
}

async function page(c: Context<WebEnv>, notice: PageNotice | undefined, status: 200 | 400 | 413 | 415) {
  const { a, org } = signedInOrg(c);
  const f = await orgFormat(c);
  const who = caller(c);
  const range = cloudRange(c.req.query(), Date.now());
  const [figures, imports, assets, connector] = await Promise.all([
    cloudFigures(who, range, f.locale),
    listImports(who, { limit: "20" }),
    assetPaths(),
    connectionState(who),
  ]);
  if (imports instanceof AppError) throw new Error(`listing imports: ${imports.message}`);
  c.status(status);
  return c.render(
    <CloudPage
      v={{
        csrf: a.csrf,
        mayWrite: can(org.role, "config:write"),
        maxFormMiB: FORM_UPLOAD_MIB,
        range: figures.range,
        currencies: figures.currencies,
        imports: imports.data.map((v) => importItem(v, f)),
        uploadScript: assets.upload,
        connector: CONNECTOR_STATES[connector],
      }}
      notice={notice}
    />,
    { title: "Cloud AI spend" },
  );
}

cloudPages.get("/cloud", async (c) => {
  const notice: PageNotice | undefined =
    c.req.query("uploaded") === "1"
      ? { kind: "ok", text: "Uploaded: the import has started; its progress shows under Imports." }
      : undefined;
  return page(c, notice, 200);
});

cloudPages.get("/cloud/imports/:id", async (c) => {
  const found = await getImport(caller(c), c.req.param("id"));
  if (found instanceof AppError) {
    c.status(404);
    return c.render(<NoImportPage />, { title: "Cloud AI spend" });
  }
  const item = importItem(found, await orgFormat(c));
  if (wantsFragment(c)) return c.html(<ImportRow item={item} polled />);
  return c.render(<ImportPage item={item} />, { title: `Import of ${item.fileName}` });
});

/** The plain form post: the CSRF field first, then the file streamed to the import. */
cloudPages.post("/cloud/imports", async (c) => {
  const form = await readBillForm(c.req.raw, MAX_UPLOAD_BYTES);
  if (form instanceof AppError) {
    return page(
      c,
      { kind: "error", text: form.message },
      form.status === 413 || form.status === 415 ? form.status : 400,
    );
  }
  const account = signedInOrg(c).a;
  const sent = form.fields["_csrf"] ?? "";
  if (!sent || !sameHash(sent, account.csrf)) {
    await form.file.cancel();
    return c.text(EXPIRED_FORM, 403);
  }
  const made = await createUploadImport(caller(c), { body: form.file, length: form.length, fileName: form.fileName });
  if (made instanceof AppError) {
    return page(c, { kind: "error", text: made.message }, made.status === 413 ? 413 : 400);
  }
  return c.redirect("/cloud?uploaded=1", 303);
});

function jsonError(c: Context<WebEnv>, error: AppError) {
  const status = error.status === 404 || error.status === 409 || error.status === 413 ? error.status : 400;
  return c.json({ error: { code: error.code, message: error.message } }, status);
}

/** The page's script: a multipart upload of `size` bytes; the answer lists its parts. */
cloudPages.post("/cloud/uploads", async (c) => {
  const body = await c.req.parseBody();
  const size = typeof body.size === "string" && /^\d{1,15}$/.test(body.size) ? Number(body.size) : -1;
  const fileName = typeof body.file_name === "string" ? body.file_name : undefined;
  const made = await createMultipartImport(caller(c), { upload: "multipart", size, file_name: fileName });
  if (made instanceof AppError) return jsonError(c, made);
  const parts = made.parts.map((p) => ({
    part_number: p.part_number,
    size: p.size,
    url: `/cloud/uploads/${made.id}/parts/${p.part_number}`,
  }));
  return c.json({ id: made.id, parts, complete_url: `/cloud/uploads/${made.id}/complete` }, 201);
});

cloudPages.put("/cloud/uploads/:id/parts/:n", async (c) => {
  const sent = await uploadPart(caller(c), c.req.param("id"), c.req.param("n"), {
    body: c.req.raw.body,
    length: declaredLength(c.req.header("content-length")),
  });
  if (sent instanceof AppError) return jsonError(c, sent);
  return c.json(sent, 200);
});

cloudPages.post("/cloud/uploads/:id/complete", async (c) => {
  const done = await completeUpload(caller(c), c.req.param("id"));
  if (done instanceof AppError) return jsonError(c, done);
  return c.json({ id: done.id, status: done.status, url: `/cloud/imports/${done.id}` }, 202);
});
