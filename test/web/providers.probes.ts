// The role table's entries for workers/dashboard/routes/providers.tsx (see test/auth/role-table.ts).
import { env } from "cloudflare:workers";
import { ledgerFor } from "../../workers/ledger/index.ts";
import type { Person } from "../auth/orgs.ts";
import type { ProbeContext, RoleArea } from "../auth/role-table.ts";

async function stored(tenantId: string, name: string): Promise<boolean> {
  return (await ledgerFor(env, tenantId).listProviders()).some((p) => p.name === name);
}

/** An OpenAI-compatible provider pointed at the demo upstream, saved on the page by `by`. */
async function saveCompatible(by: Person, name: string, apiKey = "demo-probe-credential-0000") {
  await by.b.get("/providers");
  return by.b.post("/providers", {
    provider: "compatible",
    name,
    api_key: apiKey,
    base_url: `${env.UPSTREAM_URL}/openai/v1`,
  });
}

/** A provider the owner made, for the probes that act on one. */
async function ownersProvider(ctx: ProbeContext): Promise<string> {
  const name = ctx.unique("probe-");
  const saved = await saveCompatible(ctx.org.owner, name);
  if (saved.status !== 303) throw new Error(`owner's provider: ${saved.status}`);
  return name;
}

export const providersArea: RoleArea = {
  routes: {
    "GET /providers": "read",
    "POST /providers": "config:write",
    "GET /providers/:name/remove": "config:write",
    "POST /providers/:name/remove": "config:write",
    "POST /providers/:name/test": "config:write",
  },
  probes: (ctx) => ({
    "GET /providers": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get("/providers");
        return { page, happened: page.html.includes("<h1>Providers</h1>") };
      },
    },
    "POST /providers": {
      allowedStatus: 303,
      async run(who) {
        const name = ctx.unique("made-");
        const page = await saveCompatible(who, name);
        return { page, happened: await stored(ctx.org.tenantId, name) };
      },
    },
    "GET /providers/:name/remove": {
      allowedStatus: 200,
      async run(who) {
        const name = await ownersProvider(ctx);
        const page = await who.b.get(`/providers/${name}/remove`);
        return { page, happened: page.html.includes("Remove the credential") };
      },
    },
    "POST /providers/:name/remove": {
      allowedStatus: 303,
      async run(who) {
        const name = await ownersProvider(ctx);
        await who.b.get("/providers");
        const page = await who.b.post(`/providers/${name}/remove`);
        return { page, happened: !(await stored(ctx.org.tenantId, name)) };
      },
    },
    "POST /providers/:name/test": {
      allowedStatus: 200,
      async run(who) {
        const name = await ownersProvider(ctx);
        await who.b.get("/providers");
        const page = await who.b.post(`/providers/${name}/test`);
        return { page, happened: page.html.includes("Connected: HTTP 200") };
      },
    },
  }),
};
