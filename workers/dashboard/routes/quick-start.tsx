// /quickstart for the signed-in organisation: its base URLs and SDK snippets.
import { Hono } from "hono";
import { tenantDb } from "../../store/index.ts";
import { requireAccount, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";
import { QuickStartPage } from "../../../web/pages/quick-start.tsx";

export const quickStart = new Hono<WebEnv>();

quickStart.get("/quickstart", requireAccount, requirePermission("read"), async (c) => {
  const { org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const [keys, providers] = await Promise.all([
    db.first<{ n: number }>("SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ?1 AND revoked_at IS NULL"),
    db.first<{ n: number }>("SELECT COUNT(*) AS n FROM provider_credentials WHERE tenant_id = ?1"),
  ]);
  const origin = new URL(c.req.url).origin;
  return c.render(
    <QuickStartPage
      origin={origin}
      orgName={org.name}
      hasKeys={(keys?.n ?? 0) > 0}
      hasProviders={(providers?.n ?? 0) > 0}
    />,
    { title: "Quick start" },
  );
});
