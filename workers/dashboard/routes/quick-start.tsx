// /quickstart for the signed-in organisation: its base URLs and SDK snippets.
import { Hono } from "hono";
import { countLiveKeys, countProviderCredentials, tenantDb } from "../../store/index.ts";
import { requireAccount, requirePermission, signedInOrg, type WebEnv } from "../guards.ts";
import { QuickStartPage } from "../../../web/pages/quick-start.tsx";

export const quickStart = new Hono<WebEnv>();

quickStart.get("/quickstart", requireAccount, requirePermission("read"), async (c) => {
  const { org } = signedInOrg(c);
  const db = tenantDb(c.env.DB, org.tenantId);
  const [keys, providers] = await Promise.all([countLiveKeys(db), countProviderCredentials(db)]);
  const origin = new URL(c.req.url).origin;
  return c.render(
    <QuickStartPage origin={origin} orgName={org.name} hasKeys={keys > 0} hasProviders={providers > 0} />,
    { title: "Quick start" },
  );
});
