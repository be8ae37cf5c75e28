// The role table's entries for workers/dashboard/routes/cloud.tsx (see test/auth/role-table.ts).
// Every role may read the page and an import; uploading (the plain form, and the script's
// multipart start, parts and complete) needs `config:write`; so do saving, testing, running and
// disconnecting the AWS connector (/cloud/aws), which every role may read.
import { env } from "cloudflare:workers";
import { createMultipartImport, saveConnection, uploadPart } from "../../workers/cloud/index.ts";
import type { ProbeContext, RoleArea } from "../auth/role-table.ts";
import { completeUpload, putPart, startUpload, uploadForm, utf8 } from "./cloud-support.ts";

const PART = utf8.encode("identity_line_item_id\nx\n");

function importRow(tenantId: string, id: string) {
  return env.DB.prepare("SELECT file_name, upload_id FROM cloud_imports WHERE tenant_id = ? AND id = ?")
    .bind(tenantId, id)
    .first<{ file_name: string; upload_id: string | null }>();
}

async function importNamed(tenantId: string, fileName: string): Promise<boolean> {
  const row = await env.DB.prepare("SELECT id FROM cloud_imports WHERE tenant_id = ? AND file_name = ?")
    .bind(tenantId, fileName)
    .first();
  return row !== null;
}

/** A multipart upload the owner opened (through the same operation the page uses), one part long. */
async function ownersUpload(ctx: ProbeContext, fileName = ctx.unique("owners-")): Promise<string> {
  const owner = { env, tenantId: ctx.org.tenantId, actor: { kind: "user", id: ctx.org.owner.userId } } as const;
  const made = await createMultipartImport(owner, { upload: "multipart", size: PART.length, file_name: fileName });
  if ("code" in made) throw new Error(`owner's upload: ${made.message}`);
  return made.id;
}

/** A connection to a role the AWS stand-in does not know: tests and runs fail, and are recorded. */
const CONNECTION = {
  role_arn: "arn:aws:iam::111122223333:role/NoSuchRole",
  bucket: "outlay-cur",
  prefix: "cur",
  region: "us-east-1",
};

function connectionRow(tenantId: string) {
  return env.DB.prepare("SELECT role_arn, last_checked_at FROM cloud_connections WHERE tenant_id = ?")
    .bind(tenantId)
    .first<{ role_arn: string | null; last_checked_at: number | null }>();
}

/** The owner's saved connection (through the same operation the page uses): unverified, never checked. */
async function ownersConnection(ctx: ProbeContext): Promise<void> {
  const owner = { env, tenantId: ctx.org.tenantId, actor: { kind: "user", id: ctx.org.owner.userId } } as const;
  const saved = await saveConnection(owner, CONNECTION);
  if ("code" in saved) throw new Error(`owner's connection: ${saved.message}`);
}

export const cloudArea: RoleArea = {
  routes: {
    "GET /cloud": "read",
    "GET /cloud/imports/:id": "read",
    "POST /cloud/imports": "config:write",
    "POST /cloud/uploads": "config:write",
    "PUT /cloud/uploads/:id/parts/:n": "config:write",
    "POST /cloud/uploads/:id/complete": "config:write",
    "GET /cloud/aws": "read",
    "GET /cloud/aws/template": "read",
    "POST /cloud/aws": "config:write",
    "POST /cloud/aws/test": "config:write",
    "POST /cloud/aws/sync": "config:write",
    "POST /cloud/aws/delete": "config:write",
  },
  probes: (ctx) => {
    const tenantId = () => ctx.org.tenantId;
    return {
      "GET /cloud": {
        allowedStatus: 200,
        async run(who) {
          const page = await who.b.get("/cloud");
          return { page, happened: page.html.includes("<h1>Cloud AI spend</h1>") };
        },
      },
      "GET /cloud/imports/:id": {
        allowedStatus: 200,
        async run(who) {
          const name = ctx.unique("seen-");
          const id = await ownersUpload(ctx, name);
          const page = await who.b.get(`/cloud/imports/${id}`);
          return { page, happened: page.html.includes(`<h1>Import of ${name}</h1>`) };
        },
      },
      "POST /cloud/imports": {
        allowedStatus: 303,
        async run(who) {
          const name = ctx.unique("form-");
          const page = await uploadForm(who.b, { name, bytes: PART });
          return { page, happened: await importNamed(tenantId(), name) };
        },
      },
      "POST /cloud/uploads": {
        allowedStatus: 201,
        async run(who) {
          const name = ctx.unique("parts-");
          await who.b.get("/cloud");
          const page = await startUpload(who.b, 1000, name);
          return { page, happened: await importNamed(tenantId(), name) };
        },
      },
      "PUT /cloud/uploads/:id/parts/:n": {
        allowedStatus: 200,
        async run(who) {
          const id = await ownersUpload(ctx);
          await who.b.get("/cloud");
          const page = await putPart(who.b, `/cloud/uploads/${id}/parts/1`, PART);
          const part = await env.DB.prepare(
            "SELECT COUNT(*) AS n FROM cloud_import_parts WHERE tenant_id = ? AND import_id = ?",
          )
            .bind(tenantId(), id)
            .first<{ n: number }>();
          return { page, happened: (part?.n ?? 0) === 1 };
        },
      },
      "POST /cloud/uploads/:id/complete": {
        allowedStatus: 202,
        async run(who) {
          const id = await ownersUpload(ctx);
          const owner = { env, tenantId: tenantId(), actor: { kind: "user", id: ctx.org.owner.userId } } as const;
          const sent = await uploadPart(owner, id, "1", { body: new Blob([PART]).stream(), length: PART.length });
          if ("code" in sent) throw new Error(`owner's part: ${sent.message}`);
          await who.b.get("/cloud");
          const page = await completeUpload(who.b, `/cloud/uploads/${id}/complete`);
          return { page, happened: (await importRow(tenantId(), id))?.upload_id === null };
        },
      },
      "GET /cloud/aws": {
        allowedStatus: 200,
        async run(who) {
          const page = await who.b.get("/cloud/aws");
          return { page, happened: page.html.includes("<h1>AWS connector</h1>") };
        },
      },
      "GET /cloud/aws/template": {
        allowedStatus: 200,
        async run(who) {
          const page = await who.b.get("/cloud/aws/template");
          return { page, happened: page.html.includes("sts:ExternalId") };
        },
      },
      "POST /cloud/aws": {
        allowedStatus: 303,
        async run(who) {
          const roleArn = `arn:aws:iam::111122223333:role/${ctx.unique("probe-")}`;
          await who.b.get("/cloud/aws");
          const page = await who.b.post("/cloud/aws", { ...CONNECTION, role_arn: roleArn });
          return { page, happened: (await connectionRow(tenantId()))?.role_arn === roleArn };
        },
      },
      "POST /cloud/aws/test": {
        allowedStatus: 303,
        async run(who) {
          await ownersConnection(ctx);
          await who.b.get("/cloud/aws");
          const page = await who.b.post("/cloud/aws/test");
          return { page, happened: (await connectionRow(tenantId()))?.last_checked_at !== null };
        },
      },
      "POST /cloud/aws/sync": {
        allowedStatus: 303,
        async run(who) {
          await ownersConnection(ctx);
          await who.b.get("/cloud/aws");
          const page = await who.b.post("/cloud/aws/sync");
          return { page, happened: (await connectionRow(tenantId()))?.last_checked_at !== null };
        },
      },
      "POST /cloud/aws/delete": {
        allowedStatus: 303,
        async run(who) {
          await ownersConnection(ctx);
          await who.b.get("/cloud/aws");
          const page = await who.b.post("/cloud/aws/delete");
          return { page, happened: (await connectionRow(tenantId()))?.role_arn === null };
        },
      },
    };
  },
};
