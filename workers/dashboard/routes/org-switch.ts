// POST /org/switch: moves the session into another organisation the person belongs to (the
// session is rotated, as on every change of privilege).
import { Hono } from "hono";
import { rotateSession, writeSessionCookie } from "../../auth/index.ts";
import { formField, requireAccount, requireCsrf, type WebEnv } from "../guards.ts";

export const orgSwitch = new Hono<WebEnv>();

orgSwitch.post("/org/switch", requireAccount, requireCsrf, async (c) => {
  const a = c.get("account");
  const tenantId = await formField(c, "tenant_id");
  if (!a || !a.orgs.some((o) => o.tenantId === tenantId))
    return c.text("You are not a member of that organisation.", 403);
  writeSessionCookie(c, await rotateSession(c.env, a.session, { tenantId }));
  return c.redirect("/", 303);
});
