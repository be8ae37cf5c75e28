// The role table's entries for workers/dashboard/routes/rules.tsx (see test/auth/role-table.ts): the same seven
// routes for budgets, policies and rate limits. Reading needs `read`; the forms, saving and
// deleting need `config:write`. Rules a probe edits or deletes are made by the owner first.
import type { Need, Probe, ProbeContext, RoleArea } from "../auth/role-table.ts";
import { count } from "../auth/orgs.ts";

type Base = "/budgets" | "/policies" | "/rate-limits";

/** A valid form for each kind, named `name`. */
const FORMS: Record<Base, (name: string) => Record<string, string>> = {
  "/budgets": (name) => ({ name, limit_usd: "10", window: "monthly", mode: "block", thresholds: "50, 80, 100" }),
  "/policies": (name) => ({ name, deny_models: "o1*" }),
  "/rate-limits": (name) => ({ name, requests_per_minute: "100" }),
};

const HEADINGS: Record<Base, string> = {
  "/budgets": "<h1>Budgets</h1>",
  "/policies": "<h1>Policies</h1>",
  "/rate-limits": "<h1>Rate limits</h1>",
};

function routesOf(base: Base): Record<string, Need> {
  return {
    [`GET ${base}`]: "read",
    [`GET ${base}/new`]: "config:write",
    [`POST ${base}`]: "config:write",
    [`GET ${base}/:id`]: "read",
    [`POST ${base}/:id`]: "config:write",
    [`GET ${base}/:id/delete`]: "config:write",
    [`POST ${base}/:id/delete`]: "config:write",
  };
}

async function ruleNamed(tenantId: string, name: string): Promise<boolean> {
  const n = await count(
    "SELECT COUNT(*) AS n FROM ledger_rules WHERE tenant_id = ? AND json_extract(spec, '$.name') = ?",
    tenantId,
    name,
  );
  return n === 1;
}

async function ruleExists(tenantId: string, id: string): Promise<boolean> {
  return (await count("SELECT COUNT(*) AS n FROM ledger_rules WHERE tenant_id = ? AND id = ?", tenantId, id)) === 1;
}

function probesOf(base: Base, ctx: ProbeContext): Record<string, Probe> {
  /** A rule the owner makes on the page; its id is read off the redirect. */
  async function ownersRule(): Promise<{ id: string; name: string }> {
    const name = ctx.unique("probe rule ");
    const b = ctx.org.owner.b;
    await b.get(`${base}/new`);
    const page = await b.post(base, FORMS[base](name));
    const id = new RegExp(`^${base}\\?saved=([a-z2-7]{12})$`).exec(page.location ?? "")?.[1];
    if (page.status !== 303 || !id) throw new Error(`owner's rule: ${page.status} ${page.html.slice(0, 300)}`);
    return { id, name };
  }

  return {
    [`GET ${base}`]: {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get(base);
        return { page, happened: page.html.includes(HEADINGS[base]) };
      },
    },
    [`GET ${base}/new`]: {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get(`${base}/new`);
        return { page, happened: page.html.includes(`action="${base}"`) };
      },
    },
    [`POST ${base}`]: {
      allowedStatus: 303,
      async run(who) {
        const name = ctx.unique("new rule ");
        await who.b.get(base);
        const page = await who.b.post(base, FORMS[base](name));
        return { page, happened: await ruleNamed(ctx.org.tenantId, name) };
      },
    },
    [`GET ${base}/:id`]: {
      allowedStatus: 200,
      async run(who) {
        const rule = await ownersRule();
        const page = await who.b.get(`${base}/${rule.id}`);
        return { page, happened: page.html.includes(`value="${rule.name}"`) };
      },
    },
    [`POST ${base}/:id`]: {
      allowedStatus: 303,
      async run(who) {
        const rule = await ownersRule();
        const renamed = ctx.unique("renamed rule ");
        await who.b.get(base);
        const page = await who.b.post(`${base}/${rule.id}`, FORMS[base](renamed));
        return { page, happened: await ruleNamed(ctx.org.tenantId, renamed) };
      },
    },
    [`GET ${base}/:id/delete`]: {
      allowedStatus: 200,
      async run(who) {
        const rule = await ownersRule();
        const page = await who.b.get(`${base}/${rule.id}/delete`);
        return { page, happened: page.html.includes(`action="${base}/${rule.id}/delete"`) };
      },
    },
    [`POST ${base}/:id/delete`]: {
      allowedStatus: 303,
      async run(who) {
        const rule = await ownersRule();
        await who.b.get(base);
        const page = await who.b.post(`${base}/${rule.id}/delete`);
        return { page, happened: !(await ruleExists(ctx.org.tenantId, rule.id)) };
      },
    },
  };
}

const BASES: Base[] = ["/budgets", "/policies", "/rate-limits"];

export const rulesArea: RoleArea = {
  routes: Object.assign({}, ...BASES.map(routesOf)) as Record<string, Need>,
  probes: (ctx) => Object.assign({}, ...BASES.map((base) => probesOf(base, ctx))) as Record<string, Probe>,
};
