// /cloud/aws: the AWS connector on the dashboard (docs/cloud.md, "The AWS connector"). Reading
// is open to every role; saving, testing, importing now and disconnecting need config:write (the
// /cloud/* guards of cloud.tsx, which mounts these routes, apply: session, CSRF, permission).
// Every operation is the cloud component's own, on the signed-in organisation's connection only.
import type { Context } from "hono";
import { AppError } from "../../../shared/errors.ts";
import { can } from "../../auth/index.ts";
import {
  connectionTemplate,
  deleteConnection,
  getConnection,
  saveConnection,
  syncConnection,
  testConnectionNow,
  TEMPLATE_HEADERS,
  type CloudCaller,
  type ConnectionView,
} from "../../cloud/index.ts";
import { signedInOrg, type WebEnv } from "../guards.ts";
import { orgFormat } from "../org-format.ts";
import { ConnectorPage } from "../../../web/pages/cloud-aws.tsx";
import type { PageNotice } from "../../../web/pages/cloud.tsx";
import { Hono } from "hono";

/** Mounted by cloud.tsx under its /cloud/* guards. */
export const connectorPages = new Hono<WebEnv>();

function caller(c: Context<WebEnv>): CloudCaller {
  const { a, org } = signedInOrg(c);
  return { env: c.env, tenantId: org.tenantId, actor: { kind: "user", id: a.user.id } };
}

/** What a redirect after an action says (?done=). */
const DONE: Record<string, PageNotice> = {
  saved: { kind: "ok", text: "Saved. Test the connection to check the role." },
  tested: { kind: "ok", text: "Tested: the result is below." },
  synced: { kind: "ok", text: "Checked the export: new or changed billing periods are being imported (see Imports)." },
  deleted: { kind: "ok", text: "Disconnected: Outlay no longer reads your bill. Delete the role in AWS too." },
};

async function page(
  c: Context<WebEnv>,
  found: ConnectionView,
  notice: PageNotice | undefined,
  fieldError: { field: string; message: string } | null = null,
  typed: Record<string, string> = {},
) {
  const { a, org } = signedInOrg(c);
  const f = await orgFormat(c);
  const at = (iso: string | null) => (iso === null ? null : f.dateTime(Date.parse(iso)));
  return c.render(
    <ConnectorPage
      v={{
        csrf: a.csrf,
        mayWrite: can(org.role, "config:write"),
        outlayAccountId: found.outlay_account_id,
        externalId: found.external_id,
        state: found.state,
        roleArn: typed.role_arn ?? found.role_arn ?? "",
        bucket: typed.bucket ?? found.bucket ?? "",
        prefix: typed.prefix ?? found.prefix,
        region: typed.region ?? found.region ?? "",
        checkedAt: at(found.last_checked_at),
        syncedAt: at(found.last_sync_at),
        steps: found.last_result?.steps.map((s) => ({ ok: s.ok, message: s.message })) ?? [],
        fieldError,
      }}
      notice={notice}
    />,
    { title: "AWS connector" },
  );
}

connectorPages.get("/cloud/aws", async (c) => {
  const done = c.req.query("done");
  return page(c, await getConnection(caller(c)), done === undefined ? undefined : DONE[done]);
});

connectorPages.get("/cloud/aws/template", async (c) => {
  const template = await connectionTemplate(caller(c));
  if (template instanceof AppError) return c.text(template.message, 409);
  return c.body(template, 200, TEMPLATE_HEADERS);
});

connectorPages.post("/cloud/aws", async (c) => {
  const form = await c.req.parseBody();
  const typed: Record<string, string> = {};
  for (const name of ["role_arn", "bucket", "prefix", "region"]) {
    const value = form[name];
    if (typeof value === "string") typed[name] = value.trim();
  }
  const saved = await saveConnection(caller(c), typed);
  if (saved instanceof AppError) {
    c.status(400);
    const field = saved.param ?? "role_arn";
    const notice: PageNotice = { kind: "error", text: saved.message };
    return page(c, await getConnection(caller(c)), notice, { field, message: saved.message }, typed);
  }
  return c.redirect("/cloud/aws?done=saved", 303);
});

/** A test or a run: its outcome is on the connection (state and steps), shown after the redirect. */
async function act(c: Context<WebEnv>, outcome: object | AppError, done: string) {
  if (outcome instanceof AppError) {
    c.status(409);
    return page(c, await getConnection(caller(c)), { kind: "error", text: outcome.message });
  }
  return c.redirect(`/cloud/aws?done=${done}`, 303);
}

connectorPages.post("/cloud/aws/test", async (c) => act(c, await testConnectionNow(caller(c)), "tested"));

connectorPages.post("/cloud/aws/sync", async (c) => act(c, await syncConnection(caller(c)), "synced"));

connectorPages.post("/cloud/aws/delete", async (c) => {
  const problem = await deleteConnection(caller(c));
  return act(c, problem ?? {}, "deleted");
});
