// The signed-in organisation's formats: its locale and time zone live in its ledger's settings.
import type { Context } from "hono";
import { formatFor, type Format } from "../../web/format.ts";
import { signedInOrg, type WebEnv } from "../auth/index.ts";
import { ledgerFor } from "../ledger/index.ts";

export async function orgFormat(c: Context<WebEnv>): Promise<Format> {
  const { org } = signedInOrg(c);
  const settings = await ledgerFor(c.env, org.tenantId).getSettings();
  return formatFor(settings.locale, settings.timeZone);
}
