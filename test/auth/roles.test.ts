// The role table (workers/auth/roles.ts) against what the routes enforce. The dashboard: every
// route of workers/dashboard/routes/*.tsx is listed with the permission it needs, and every
// organisation route is sent by an owner, an admin, a member and a viewer; what `can()` says
// is compared with what happened (status and effect in D1). The management API: admin tokens
// made on /org/settings with each role, against every /api/v1 write route. Cross-tenant: one
// organisation's owner and token against another organisation's members, invitations, tokens
// and keys.
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { keyHash } from "../../shared/crypto.ts";
import { ledgerFor } from "../../workers/ledger/index.ts";
import { api as apiRoutes } from "../../workers/api/index.ts";
import { web } from "../../workers/dashboard/index.ts";
import { can, ROLES, type Permission, type Role } from "../../workers/auth/roles.ts";
import { activityArea } from "../web/activity.probes.ts";
import { cloudArea } from "../web/cloud.probes.ts";
import { overviewArea } from "../web/overview.probes.ts";
import { providersArea } from "../web/providers.probes.ts";
import { rulesArea } from "../web/rules.probes.ts";
import { usageArea } from "../web/usage.probes.ts";
import { webhooksArea } from "../web/webhooks.probes.ts";
import type { Need, Probe, ProbeContext } from "./role-table.ts";
import {
  acceptAsNew,
  addMember,
  api,
  count,
  createToken,
  invite,
  newOrg,
  roleIn,
  secrets,
  userByEmail,
  type Org,
  type Person,
} from "./orgs.ts";
import { Browser, openLink } from "./browser.ts";

/** Every dashboard route, as registered in workers/dashboard/index.ts and routes/*.tsx. */
const AREAS = [overviewArea, usageArea, rulesArea, providersArea, activityArea, webhooksArea, cloudArea];

const DASHBOARD: Record<string, Need> = {
  "POST /org/switch": "signed-in",
  // routes/sign-in.tsx
  "GET /signup": "anyone",
  "POST /signup": "anyone",
  "GET /login": "anyone",
  "POST /login": "anyone",
  "GET /login/mfa": "anyone",
  "POST /login/mfa": "anyone",
  "GET /logout": "anyone",
  "POST /logout": "anyone",
  // routes/account.tsx: one's own account, whatever one's role
  "GET /account": "signed-in",
  "POST /account/password": "signed-in",
  "GET /account/mfa": "signed-in",
  "POST /account/mfa/start": "signed-in",
  "POST /account/mfa/confirm": "signed-in",
  "POST /account/mfa/remove": "signed-in",
  "POST /account/recovery-codes": "signed-in",
  "POST /account/sessions/:id/revoke": "signed-in",
  "POST /account/sessions/revoke-all": "signed-in",
  // routes/members.tsx
  "GET /org/members": "read",
  "POST /org/invitations": "members:manage",
  "POST /org/invitations/:id/revoke": "members:manage",
  "POST /org/members/:id/role": "members:manage",
  "POST /org/members/:id/remove": "members:manage",
  "POST /org/members/:id/unlock": "members:manage",
  "POST /org/members/:id/reset-link": "members:manage",
  // routes/org-settings.tsx
  "GET /org/settings": "read",
  "POST /org/settings/region": "config:write",
  "POST /org/settings/mfa": "security:manage",
  "POST /org/settings/sso": "security:manage",
  "POST /org/settings/sso/remove": "security:manage",
  "POST /org/settings/tokens": "tokens:manage",
  "POST /org/settings/tokens/:id/revoke": "tokens:manage",
  "POST /org/settings/close": "org:own",
  // routes/links.tsx
  "GET /invite/:token": "anyone",
  "GET /invite": "anyone",
  "POST /invite": "anyone",
  "GET /reset/:token": "anyone",
  "GET /reset": "anyone",
  "POST /reset": "anyone",
  // routes/sso.tsx
  "GET /sso": "anyone",
  "GET /sso/start": "anyone",
  "GET /sso/:org{[a-z2-7]{12}}": "anyone",
  "GET /sso/callback": "anyone",
  // workers/dashboard/routes/keys.tsx, quick-start.tsx (revoking a key someone else made needs keys:any)
  "GET /keys": "read",
  "POST /keys": "keys:own",
  "GET /keys/:id/revoke": "read",
  "POST /keys/:id/revoke": "keys:any",
  "GET /keys/:id/rotate": "read",
  "POST /keys/:id/rotate": "keys:any",
  "GET /quickstart": "read",
  ...Object.assign({}, ...AREAS.map((area) => area.routes)),
};

/** The routes an app registered handlers for (wildcard paths are middleware). */
function registered(app: { routes: { method: string; path: string }[] }, methods: string[]): string[] {
  const found = app.routes
    .filter((r) => methods.includes(r.method) && !r.path.endsWith("*"))
    .map((r) => `${r.method} ${r.path}`);
  return [...new Set(found)].sort();
}

async function tenantOpen(tenantId: string): Promise<boolean> {
  const row = await env.DB.prepare("SELECT closed_at FROM tenants WHERE id = ?")
    .bind(tenantId)
    .first<{ closed_at: number | null }>();
  return row !== null && row.closed_at === null;
}

function unique(label: string): string {
  return `${label}${Math.random().toString(36).slice(2, 10)}`;
}

// ---- dashboard ----------------------------------------------------------------------------------

describe("dashboard routes against the role table", () => {
  let org: Org;
  const as = {} as Record<Role, Person>;

  beforeAll(async () => {
    org = await newOrg("Roles");
    as.owner = org.owner;
    as.admin = await addMember(org, "admin");
    as.member = await addMember(org, "member");
    as.viewer = await addMember(org, "viewer");
  }, 60_000);

  const target = () => addMember(org, "viewer");

  async function ssoClientId(): Promise<string | null> {
    const row = await env.DB.prepare("SELECT client_id FROM sso_configs WHERE tenant_id = ?")
      .bind(org.tenantId)
      .first<{ client_id: string }>();
    return row?.client_id ?? null;
  }

  function ssoForm(clientId: string) {
    return {
      issuer: env.OIDC_TEST_ISSUER,
      client_id: clientId,
      client_secret: env.OIDC_TEST_CLIENT_SECRET,
      default_role: "viewer",
    };
  }

  const context: ProbeContext = {
    get org() {
      return org;
    },
    unique,
    ownersKey: () => ownersKey(),
  };

  const PROBES: Record<string, Probe> = {
    ...Object.assign({}, ...AREAS.map((area) => area.probes(context))),
    "GET /org/members": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get("/org/members");
        return { page, happened: page.html.includes(`Members of ${org.name}`) };
      },
    },
    "GET /org/settings": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get("/org/settings");
        return { page, happened: page.html.includes(`Organisation id ${org.tenantId}`) };
      },
    },
    "POST /org/invitations": {
      allowedStatus: 200,
      async run(who) {
        const address = `${unique("invitee-")}@example.test`;
        const page = await who.b.post("/org/invitations", { email: address, role: "viewer" });
        const made = await count(
          "SELECT COUNT(*) AS n FROM invitations WHERE tenant_id = ? AND email = ?",
          org.tenantId,
          address,
        );
        return { page, happened: made === 1 };
      },
    },
    "POST /org/invitations/:id/revoke": {
      allowedStatus: 200,
      async run(who) {
        const inv = await invite(org.owner.b, "viewer");
        const page = await who.b.post(`/org/invitations/${inv.id}/revoke`);
        const revoked = await count(
          "SELECT COUNT(*) AS n FROM invitations WHERE tenant_id = ? AND id = ? AND revoked_at IS NOT NULL",
          org.tenantId,
          inv.id,
        );
        return { page, happened: revoked === 1 };
      },
    },
    "POST /org/members/:id/role": {
      allowedStatus: 200,
      async run(who) {
        const t = await target();
        const page = await who.b.post(`/org/members/${t.userId}/role`, { role: "member" });
        return { page, happened: (await roleIn(org.tenantId, t.userId)) === "member" };
      },
    },
    "POST /org/members/:id/remove": {
      allowedStatus: 200,
      async run(who) {
        const t = await target();
        const page = await who.b.post(`/org/members/${t.userId}/remove`);
        return { page, happened: (await roleIn(org.tenantId, t.userId)) === null };
      },
    },
    "POST /org/members/:id/unlock": {
      allowedStatus: 200,
      async run(who) {
        const t = await target();
        await env.DB.prepare("UPDATE users SET locked_at = ? WHERE id = ?").bind(Date.now(), t.userId).run();
        const page = await who.b.post(`/org/members/${t.userId}/unlock`);
        return { page, happened: (await userByEmail(t.email))?.locked_at === null };
      },
    },
    "POST /org/members/:id/reset-link": {
      allowedStatus: 200,
      async run(who) {
        const t = await target();
        const page = await who.b.post(`/org/members/${t.userId}/reset-link`);
        const links = await count("SELECT COUNT(*) AS n FROM password_resets WHERE user_id = ?", t.userId);
        return { page, happened: links === 1 && secrets(page.html).some((s) => s.includes("/reset/")) };
      },
    },
    "POST /org/settings/region": {
      allowedStatus: 200,
      async run(who) {
        // Each allowed role sets a zone of its own, so "happened" is this probe's doing.
        const zones: Record<Role, string> = {
          owner: "Europe/Berlin",
          admin: "Asia/Tokyo",
          member: "America/Chicago",
          viewer: "Australia/Sydney",
        };
        const zone = zones[((await roleIn(org.tenantId, who.userId)) ?? "viewer") as Role];
        await who.b.get("/org/settings");
        const page = await who.b.post("/org/settings/region", { time_zone: zone, locale: "en-GB" });
        const settings = await ledgerFor(env, org.tenantId).getSettings();
        return { page, happened: settings.timeZone === zone };
      },
    },
    "POST /org/settings/mfa": {
      allowedStatus: 303,
      async run(who) {
        const page = await who.b.post("/org/settings/mfa", { required: "on" });
        const row = await env.DB.prepare("SELECT mfa_required FROM tenants WHERE id = ?")
          .bind(org.tenantId)
          .first<{ mfa_required: number }>();
        // Put it back at once: a requirement left on would send every member to enrol.
        await env.DB.prepare("UPDATE tenants SET mfa_required = 0 WHERE id = ?").bind(org.tenantId).run();
        return { page, happened: row?.mfa_required === 1 };
      },
    },
    "POST /org/settings/sso": {
      allowedStatus: 200,
      async run(who) {
        const clientId = unique("client-");
        const page = await who.b.post("/org/settings/sso", ssoForm(clientId));
        return { page, happened: (await ssoClientId()) === clientId };
      },
    },
    "POST /org/settings/sso/remove": {
      allowedStatus: 200,
      async run(who) {
        const set = await org.owner.b.post("/org/settings/sso", ssoForm(unique("client-")));
        expect(set.status).toBe(200);
        expect(await ssoClientId()).not.toBeNull();
        const page = await who.b.post("/org/settings/sso/remove");
        return { page, happened: (await ssoClientId()) === null };
      },
    },
    "POST /org/settings/tokens": {
      allowedStatus: 200,
      async run(who) {
        const name = unique("token ");
        const page = await who.b.post("/org/settings/tokens", { name, role: "viewer" });
        const made = await count(
          "SELECT COUNT(*) AS n FROM admin_tokens WHERE tenant_id = ? AND name = ?",
          org.tenantId,
          name,
        );
        return { page, happened: made === 1 };
      },
    },
    "POST /org/settings/tokens/:id/revoke": {
      allowedStatus: 200,
      async run(who) {
        const made = await createToken(org.owner.b, "viewer");
        const page = await who.b.post(`/org/settings/tokens/${made.id}/revoke`);
        const revoked = await count(
          "SELECT COUNT(*) AS n FROM admin_tokens WHERE tenant_id = ? AND id = ? AND revoked_at IS NOT NULL",
          org.tenantId,
          made.id,
        );
        return { page, happened: revoked === 1 };
      },
    },
    "POST /org/settings/close": {
      // Those allowed are sent a wrong name (the organisation must outlive this test: the handler
      // answering 400 shows the request got past the role check); the others the exact name.
      allowedStatus: 400,
      async run(who, role) {
        const allowed = can(role, "org:own");
        const page = await who.b.post("/org/settings/close", {
          confirm: allowed ? `${org.name} (not quite)` : org.name,
        });
        const handled = page.html.includes("Type the organisation") && page.html.includes("name exactly");
        return { page, happened: handled || !(await tenantOpen(org.tenantId)) };
      },
    },
    "GET /keys": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get("/keys");
        return { page, happened: page.html.includes("<h1>Proxy keys</h1>") };
      },
    },
    "POST /keys": {
      allowedStatus: 200,
      async run(who) {
        const name = unique("key-");
        await who.b.get("/keys");
        const page = await who.b.post("/keys", { name });
        const made = await count(
          "SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND name = ?",
          org.tenantId,
          name,
        );
        return { page, happened: made === 1 };
      },
    },
    "GET /keys/:id/revoke": {
      allowedStatus: 200,
      async run(who) {
        const id = await ownersKey();
        const page = await who.b.get(`/keys/${id}/revoke`);
        return { page, happened: page.html.includes("Revoke the key") };
      },
    },
    "POST /keys/:id/revoke": {
      allowedStatus: 303,
      async run(who) {
        const id = await ownersKey();
        await who.b.get("/keys");
        const page = await who.b.post(`/keys/${id}/revoke`);
        const revoked = await count(
          "SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND id = ? AND revoked_at IS NOT NULL",
          org.tenantId,
          id,
        );
        return { page, happened: revoked === 1 };
      },
    },
    "GET /keys/:id/rotate": {
      allowedStatus: 200,
      async run(who) {
        const id = await ownersKey();
        const page = await who.b.get(`/keys/${id}/rotate`);
        return { page, happened: page.html.includes("Rotate “") };
      },
    },
    "POST /keys/:id/rotate": {
      allowedStatus: 200,
      async run(who) {
        const id = await ownersKey();
        await who.b.get("/keys");
        const page = await who.b.post(`/keys/${id}/rotate`, { grace: "3600", rotation_id: "rotateprobe2" });
        const rotated = await count(
          "SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND id = ? AND rotated_at IS NOT NULL",
          org.tenantId,
          id,
        );
        return { page, happened: rotated === 1 };
      },
    },
    "GET /quickstart": {
      allowedStatus: 200,
      async run(who) {
        const page = await who.b.get("/quickstart");
        return { page, happened: page.html.includes("<h1>Quick start</h1>") };
      },
    },
  };

  /** A key the owner made (so only keys:any may revoke it). */
  async function ownersKey(): Promise<string> {
    await org.owner.b.get("/keys");
    const page = await org.owner.b.post("/keys", { name: unique("owners-key-") });
    const id = /olk_[a-z2-7]{12}_([a-z2-7]{12})_/.exec(page.html)?.[1];
    if (!id) throw new Error(`owner's key: ${page.status}`);
    return id;
  }

  it("lists every dashboard route the app registers, and probes every route that needs a role", () => {
    expect(registered(web, ["GET", "POST", "PUT", "PATCH", "DELETE"])).toEqual(Object.keys(DASHBOARD).sort());
    const needsRole = Object.entries(DASHBOARD)
      .filter(([, need]) => need !== "anyone" && need !== "signed-in")
      .map(([route]) => route);
    expect(Object.keys(PROBES).sort()).toEqual(needsRole.sort());
  });

  for (const [route, probe] of Object.entries(PROBES)) {
    const permission = DASHBOARD[route] as Permission;
    for (const role of ROLES) {
      const allowed = can(role, permission);
      it(`${route} needs ${permission}: ${role} ${allowed ? "may" : "gets 403"}`, async () => {
        const { page, happened } = await probe.run(as[role], role);
        expect({
          status: page.status,
          happened,
          refusal: page.html.includes(`Your role (${role}) may not do this`),
        }).toEqual({ status: allowed ? probe.allowedStatus : 403, happened: allowed, refusal: !allowed });
      });
    }
  }

  it("every role sees its own account page", async () => {
    for (const role of ROLES) expect((await as[role].b.get("/account")).status).toBe(200);
  });

  // Spot checks written out by hand, independent of the table above.
  it("a viewer cannot invite", async () => {
    const before = await count("SELECT COUNT(*) AS n FROM invitations WHERE tenant_id = ?", org.tenantId);
    const page = await as.viewer.b.post("/org/invitations", { email: "", role: "viewer" });
    expect(page.status).toBe(403);
    expect(await count("SELECT COUNT(*) AS n FROM invitations WHERE tenant_id = ?", org.tenantId)).toBe(before);
  });

  it("a member cannot create admin tokens", async () => {
    const page = await as.member.b.post("/org/settings/tokens", { name: "member's token", role: "admin" });
    expect(page.status).toBe(403);
    expect(secrets(page.html).some((s) => s.startsWith("ola_"))).toBe(false);
    expect(
      await count(
        "SELECT COUNT(*) AS n FROM admin_tokens WHERE tenant_id = ? AND name = ?",
        org.tenantId,
        "member's token",
      ),
    ).toBe(0);
  });

  it("an admin cannot close the organisation, even with its exact name", async () => {
    const page = await as.admin.b.post("/org/settings/close", { confirm: org.name });
    expect(page.status).toBe(403);
    expect(await tenantOpen(org.tenantId)).toBe(true);
    expect((await as.admin.b.get("/org/members")).status).toBe(200);
  });

  it("an admin cannot make owners: not by role change, invitation or token", async () => {
    const t = await target();
    const change = await as.admin.b.post(`/org/members/${t.userId}/role`, { role: "owner" });
    expect(change.status).toBe(400);
    expect(change.html).toContain("Choose a role you may give.");
    expect(await roleIn(org.tenantId, t.userId)).toBe("viewer");

    const before = await count("SELECT COUNT(*) AS n FROM invitations WHERE tenant_id = ?", org.tenantId);
    const inv = await as.admin.b.post("/org/invitations", { email: "", role: "owner" });
    expect(inv.status).toBe(400);
    expect(await count("SELECT COUNT(*) AS n FROM invitations WHERE tenant_id = ?", org.tenantId)).toBe(before);

    const token = await as.admin.b.post("/org/settings/tokens", { name: "owner token", role: "owner" });
    expect(token.status).toBe(400);
    expect(
      await count("SELECT COUNT(*) AS n FROM admin_tokens WHERE tenant_id = ? AND role = 'owner'", org.tenantId),
    ).toBe(0);
  });

  it("an admin cannot change, remove, unlock or reset an owner; an owner can", async () => {
    const second = await target();
    const made = await org.owner.b.post(`/org/members/${second.userId}/role`, { role: "owner" });
    expect(made.status).toBe(200);
    expect(await roleIn(org.tenantId, second.userId)).toBe("owner");

    for (const action of ["role", "remove", "unlock", "reset-link"]) {
      const page = await as.admin.b.post(`/org/members/${second.userId}/${action}`, { role: "viewer" });
      expect({ action, status: page.status }).toEqual({ action, status: 400 });
      expect(page.html).toContain("Only an owner can change an owner.");
    }
    expect(await roleIn(org.tenantId, second.userId)).toBe("owner");
    expect(await count("SELECT COUNT(*) AS n FROM password_resets WHERE user_id = ?", second.userId)).toBe(0);
    // The original owner too.
    const onFounder = await as.admin.b.post(`/org/members/${org.owner.userId}/remove`);
    expect(onFounder.status).toBe(400);
    expect(await roleIn(org.tenantId, org.owner.userId)).toBe("owner");

    const demoted = await org.owner.b.post(`/org/members/${second.userId}/role`, { role: "admin" });
    expect(demoted.status).toBe(200);
    expect(await roleIn(org.tenantId, second.userId)).toBe("admin");
    await org.owner.b.post(`/org/members/${second.userId}/role`, { role: "owner" });
    const removed = await org.owner.b.post(`/org/members/${second.userId}/remove`);
    expect(removed.status).toBe(200);
    expect(await roleIn(org.tenantId, second.userId)).toBeNull();
  });

  it("nobody changes or removes their own membership here", async () => {
    for (const role of ROLES) {
      const who = as[role];
      for (const action of ["role", "remove"]) {
        const page = await who.b.post(`/org/members/${who.userId}/${action}`, {
          role: role === "owner" ? "viewer" : "owner",
        });
        const manages = can(role, "members:manage");
        expect({
          who: `${role} ${action}`,
          status: page.status,
          explained: page.html.includes("You cannot change your own membership here."),
          role: await roleIn(org.tenantId, who.userId),
        }).toEqual({ who: `${role} ${action}`, status: manages ? 400 : 403, explained: manages, role });
      }
    }
  });
});

// ---- management API -----------------------------------------------------------------------------

type ApiProbe = {
  permission: Permission;
  allowedStatus: number;
  /** runs the request with `token`; happened: whether its change is visible afterwards */
  run(token: string): Promise<{ res: Response; happened: boolean }>;
};

describe("/api/v1 with admin tokens made on /org/settings", () => {
  let org: Org;
  const tokens = {} as Record<"viewer" | "member" | "admin", string>;
  let member2: string;

  beforeAll(async () => {
    org = await newOrg("Api");
    for (const role of ["viewer", "member", "admin"] as const)
      tokens[role] = (await createToken(org.owner.b, role)).token;
    member2 = (await createToken(org.owner.b, "member", "second member token")).token;
    const provider = await api(tokens.admin, "/providers/openai", {
      method: "PUT",
      json: { api_key: "demo-openai-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    if (provider.status !== 200) throw new Error(`provider: ${provider.status}`);
  }, 60_000);

  const admin = (path: string, init: RequestInit & { json?: unknown } = {}) => api(tokens.admin, path, init);

  async function newKey(token: string, name = unique("key ")) {
    const res = await api(token, "/keys", { method: "POST", json: { name } });
    expect(res.status).toBe(201);
    return (await res.json()) as { id: string; key: string };
  }

  async function keyRevoked(id: string): Promise<boolean> {
    return (
      (await count(
        "SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND id = ? AND revoked_at IS NOT NULL",
        org.tenantId,
        id,
      )) === 1
    );
  }

  async function providerExists(name: string): Promise<boolean> {
    return (
      (await count(
        "SELECT COUNT(*) AS n FROM provider_credentials WHERE tenant_id = ? AND provider = ?",
        org.tenantId,
        name,
      )) === 1
    );
  }

  async function ruleNamed(name: string): Promise<boolean> {
    return (
      (await count(
        "SELECT COUNT(*) AS n FROM ledger_rules WHERE tenant_id = ? AND json_extract(spec, '$.name') = ?",
        org.tenantId,
        name,
      )) === 1
    );
  }

  async function overrideExists(model: string): Promise<boolean> {
    const res = await admin("/prices/overrides");
    const body = (await res.json()) as { overrides: { model: string }[] };
    return body.overrides.some((o) => o.model === model);
  }

  const CUSTOM_PROVIDER = { api_key: "demo-custom-credential-0000", base_url: `${env.UPSTREAM_URL}/openai/v1` };

  const RULE_BODIES = {
    budgets: (name: string) => ({ name, window: "daily", limit_usd: "1" }),
    policies: (name: string) => ({ name }),
    "rate-limits": (name: string) => ({ name, requests_per_minute: 60 }),
  } as const;

  const ruleProbes = (group: keyof typeof RULE_BODIES): Record<string, ApiProbe> => ({
    [`POST /${group}`]: {
      permission: "config:write",
      allowedStatus: 201,
      async run(token) {
        const name = unique("rule ");
        const res = await api(token, `/${group}`, { method: "POST", json: RULE_BODIES[group](name) });
        return { res, happened: await ruleNamed(name) };
      },
    },
    [`PUT /${group}/:id`]: {
      permission: "config:write",
      allowedStatus: 200,
      async run(token) {
        const made = await admin(`/${group}`, { method: "POST", json: RULE_BODIES[group](unique("rule ")) });
        const { id } = (await made.json()) as { id: string };
        const name = unique("renamed ");
        const res = await api(token, `/${group}/${id}`, { method: "PUT", json: RULE_BODIES[group](name) });
        return { res, happened: await ruleNamed(name) };
      },
    },
    [`DELETE /${group}/:id`]: {
      permission: "config:write",
      allowedStatus: 204,
      async run(token) {
        const name = unique("doomed ");
        const made = await admin(`/${group}`, { method: "POST", json: RULE_BODIES[group](name) });
        const { id } = (await made.json()) as { id: string };
        const res = await api(token, `/${group}/${id}`, { method: "DELETE" });
        return { res, happened: !(await ruleNamed(name)) };
      },
    },
  });

  /** Every write route of /api/v1 (workers/api/*.ts), with what it needs. */
  const WRITES: Record<string, ApiProbe> = {
    "POST /keys": {
      permission: "keys:own",
      allowedStatus: 201,
      async run(token) {
        const name = unique("key ");
        const res = await api(token, "/keys", { method: "POST", json: { name } });
        const made = await count(
          "SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND name = ?",
          org.tenantId,
          name,
        );
        return { res, happened: made === 1 };
      },
    },
    "POST /keys/:id/revoke": {
      // Anyone's key: a member may revoke only its own (below), so this needs keys:any.
      permission: "keys:any",
      allowedStatus: 200,
      async run(token) {
        const key = await newKey(tokens.admin);
        const res = await api(token, `/keys/${key.id}/revoke`, { method: "POST" });
        return { res, happened: await keyRevoked(key.id) };
      },
    },
    "POST /keys/:id/rotate": {
      // Anyone's key, like revoking: a member may rotate only its own (test/api/keys-rotate.test.ts).
      permission: "keys:any",
      allowedStatus: 200,
      async run(token) {
        const key = await newKey(tokens.admin);
        const res = await api(token, `/keys/${key.id}/rotate`, { method: "POST", json: { grace_seconds: 60 } });
        const rotated = await count(
          "SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND id = ? AND rotated_at IS NOT NULL",
          org.tenantId,
          key.id,
        );
        return { res, happened: rotated === 1 };
      },
    },
    "PUT /providers/:provider": {
      permission: "config:write",
      allowedStatus: 200,
      async run(token) {
        const name = unique("p");
        const res = await api(token, `/providers/${name}`, { method: "PUT", json: CUSTOM_PROVIDER });
        return { res, happened: await providerExists(name) };
      },
    },
    "DELETE /providers/:provider": {
      permission: "config:write",
      allowedStatus: 204,
      async run(token) {
        const name = unique("p");
        expect((await admin(`/providers/${name}`, { method: "PUT", json: CUSTOM_PROVIDER })).status).toBe(200);
        const res = await api(token, `/providers/${name}`, { method: "DELETE" });
        return { res, happened: !(await providerExists(name)) };
      },
    },
    ...ruleProbes("budgets"),
    ...ruleProbes("policies"),
    ...ruleProbes("rate-limits"),
    "PATCH /settings": {
      permission: "config:write",
      allowedStatus: 200,
      async run(token) {
        expect((await admin("/settings", { method: "PATCH", json: { time_zone: "UTC" } })).status).toBe(200);
        const res = await api(token, "/settings", { method: "PATCH", json: { time_zone: "Europe/Berlin" } });
        const now = (await (await admin("/settings")).json()) as { time_zone: string };
        return { res, happened: now.time_zone === "Europe/Berlin" };
      },
    },
    "PUT /prices/overrides": {
      permission: "config:write",
      allowedStatus: 200,
      async run(token) {
        const model = unique("model-");
        const res = await api(token, "/prices/overrides", {
          method: "PUT",
          json: { provider: "openai", model, input_per_mtok: "1", output_per_mtok: "2" },
        });
        return { res, happened: await overrideExists(model) };
      },
    },
    "DELETE /prices/overrides": {
      permission: "config:write",
      allowedStatus: 204,
      async run(token) {
        const model = unique("model-");
        const put = await admin("/prices/overrides", {
          method: "PUT",
          json: { provider: "openai", model, input_per_mtok: "1", output_per_mtok: "2" },
        });
        expect(put.status).toBe(200);
        const res = await api(token, `/prices/overrides?provider=openai&model=${model}`, { method: "DELETE" });
        return { res, happened: !(await overrideExists(model)) };
      },
    },
    "POST /webhooks": {
      permission: "config:write",
      allowedStatus: 201,
      async run(token) {
        const description = unique("hook ");
        await noWebhooks();
        const res = await api(token, "/webhooks", {
          method: "POST",
          json: { url: hookUrl(), description, event_types: ["org.closed"] },
        });
        return { res, happened: (await webhookRow("description", description)) !== null };
      },
    },
    "PATCH /webhooks/:id": {
      permission: "config:write",
      allowedStatus: 200,
      async run(token) {
        const id = await newWebhook();
        const description = unique("changed ");
        const res = await api(token, `/webhooks/${id}`, { method: "PATCH", json: { description } });
        return { res, happened: (await webhookRow("id", id))?.description === description };
      },
    },
    "DELETE /webhooks/:id": {
      permission: "config:write",
      allowedStatus: 204,
      async run(token) {
        const id = await newWebhook();
        const res = await api(token, `/webhooks/${id}`, { method: "DELETE" });
        return { res, happened: (await webhookRow("id", id)) === null };
      },
    },
    "POST /webhooks/:id/rotate-secret": {
      permission: "config:write",
      allowedStatus: 200,
      async run(token) {
        const id = await newWebhook();
        const before = (await webhookRow("id", id))?.secret_hint;
        const res = await api(token, `/webhooks/${id}/rotate-secret`, { method: "POST" });
        return { res, happened: (await webhookRow("id", id))?.secret_hint !== before };
      },
    },
    "POST /webhooks/:id/test": {
      permission: "config:write",
      allowedStatus: 202,
      async run(token) {
        const id = await newWebhook();
        const res = await api(token, `/webhooks/${id}/test`, { method: "POST" });
        return { res, happened: (await webhookMessages(id, "webhook.test")) === 1 };
      },
    },
    "POST /webhooks/:id/recover": {
      permission: "config:write",
      allowedStatus: 202,
      async run(token) {
        const id = await newWebhook();
        await env.DB.prepare(
          `INSERT INTO webhook_messages (tenant_id, id, endpoint_id, seq, type, payload, status, attempts, created_at)
           VALUES (?, ?, ?, 1, 'org.closed', '{}', 'failed', 8, ?)`,
        )
          .bind(org.tenantId, `msg_${id}_1`, id, Date.now())
          .run();
        const res = await api(token, `/webhooks/${id}/recover`, {
          method: "POST",
          json: { since: "2020-01-01T00:00:00Z" },
        });
        const row = await env.DB.prepare("SELECT status FROM webhook_messages WHERE tenant_id = ? AND id = ?")
          .bind(org.tenantId, `msg_${id}_1`)
          .first<{ status: string }>();
        return { res, happened: row?.status !== "failed" };
      },
    },
    "POST /webhooks/:id/replay": {
      permission: "config:write",
      allowedStatus: 202,
      async run(token) {
        // Takes webhook.created: its own creation event, once fanned out and then forgotten, is
        // what the replay sends again.
        const id = await newWebhook(["webhook.created"]);
        const until = Date.now() + 10_000;
        while ((await webhookMessages(id, "webhook.created")) === 0 && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 50));
        }
        const seq = await env.DB.prepare(
          "SELECT seq FROM audit_events WHERE tenant_id = ? AND type = 'webhook.created' AND subject = ?",
        )
          .bind(org.tenantId, id)
          .first<{ seq: number }>();
        await env.DB.prepare("DELETE FROM webhook_messages WHERE tenant_id = ? AND endpoint_id = ?")
          .bind(org.tenantId, id)
          .run();
        const res = await api(token, `/webhooks/${id}/replay`, {
          method: "POST",
          json: { from_seq: seq?.seq ?? 1, to_seq: seq?.seq ?? 1 },
        });
        return { res, happened: (await webhookMessages(id, "webhook.created")) === 1 };
      },
    },
    "POST /cloud/imports": {
      permission: "config:write",
      allowedStatus: 201,
      async run(token) {
        const name = unique("bill ");
        const res = await api(token, "/cloud/imports", {
          method: "POST",
          json: { upload: "multipart", size: 4, file_name: name },
        });
        const made = await count(
          "SELECT COUNT(*) AS n FROM cloud_imports WHERE tenant_id = ? AND file_name = ?",
          org.tenantId,
          name,
        );
        return { res, happened: made === 1 };
      },
    },
    "PUT /cloud/imports/:id/parts/:part": {
      permission: "config:write",
      allowedStatus: 200,
      async run(token) {
        const id = await openCloudUpload();
        const res = await api(token, `/cloud/imports/${id}/parts/1`, {
          method: "PUT",
          headers: { "content-length": "4" },
          body: "abcd",
        });
        const parts = await count(
          "SELECT COUNT(*) AS n FROM cloud_import_parts WHERE tenant_id = ? AND import_id = ?",
          org.tenantId,
          id,
        );
        return { res, happened: parts === 1 };
      },
    },
    "POST /cloud/imports/:id/complete": {
      permission: "config:write",
      allowedStatus: 202,
      async run(token) {
        const id = await openCloudUpload();
        await admin(`/cloud/imports/${id}/parts/1`, {
          method: "PUT",
          headers: { "content-length": "4" },
          body: "abcd",
        });
        const res = await api(token, `/cloud/imports/${id}/complete`, { method: "POST" });
        const open = await count(
          "SELECT COUNT(*) AS n FROM cloud_imports WHERE tenant_id = ? AND id = ? AND upload_id IS NOT NULL",
          org.tenantId,
          id,
        );
        return { res, happened: open === 0 };
      },
    },
    "PUT /cloud/connection": {
      permission: "config:write",
      allowedStatus: 200,
      async run(token) {
        await admin("/cloud/connection", { method: "DELETE" });
        const res = await api(token, "/cloud/connection", { method: "PUT", json: CLOUD_CONNECTION });
        return { res, happened: (await cloudConnection())?.role_arn === CLOUD_CONNECTION.role_arn };
      },
    },
    "DELETE /cloud/connection": {
      permission: "config:write",
      allowedStatus: 204,
      async run(token) {
        await admin("/cloud/connection", { method: "PUT", json: CLOUD_CONNECTION });
        const res = await api(token, "/cloud/connection", { method: "DELETE" });
        return { res, happened: (await cloudConnection())?.role_arn === null };
      },
    },
    "POST /cloud/connection/test": {
      permission: "config:write",
      allowedStatus: 200,
      async run(token) {
        await admin("/cloud/connection", { method: "PUT", json: CLOUD_CONNECTION });
        const res = await api(token, "/cloud/connection/test", { method: "POST" });
        return { res, happened: (await cloudConnection())?.last_checked_at !== null };
      },
    },
    "POST /cloud/connection/sync": {
      permission: "config:write",
      allowedStatus: 200,
      async run(token) {
        await admin("/cloud/connection", { method: "PUT", json: CLOUD_CONNECTION });
        const res = await api(token, "/cloud/connection/sync", { method: "POST" });
        return { res, happened: (await cloudConnection())?.last_checked_at !== null };
      },
    },
  };

  /** A connection to a role that does not exist in the AWS stand-in: tests and runs fail, and are recorded. */
  const CLOUD_CONNECTION = {
    role_arn: "arn:aws:iam::111122223333:role/RolesTestNoSuchRole",
    bucket: "outlay-cur",
    prefix: "cur",
    region: "us-east-1",
  };

  function cloudConnection() {
    return env.DB.prepare("SELECT role_arn, last_checked_at FROM cloud_connections WHERE tenant_id = ?")
      .bind(org.tenantId)
      .first<{ role_arn: string | null; last_checked_at: number | null }>();
  }

  /** A multipart upload of 4 bytes (one part), opened by the admin token. */
  async function openCloudUpload(): Promise<string> {
    const opened = await admin("/cloud/imports", { method: "POST", json: { upload: "multipart", size: 4 } });
    return ((await opened.json()) as { id: string }).id;
  }

  function hookUrl(): string {
    return `${env.WEBHOOK_RECEIVER_URL}/hooks/${unique("roles")}`;
  }

  /** The probes run one after another and an organisation keeps at most 20 endpoints. */
  async function noWebhooks(): Promise<void> {
    await env.DB.prepare("DELETE FROM webhook_endpoints WHERE tenant_id = ?").bind(org.tenantId).run();
  }

  async function newWebhook(types = ["org.closed"]): Promise<string> {
    await noWebhooks();
    const made = await admin("/webhooks", { method: "POST", json: { url: hookUrl(), event_types: types } });
    return ((await made.json()) as { id: string }).id;
  }

  function webhookRow(column: "id" | "description", value: string) {
    return env.DB.prepare(
      `SELECT id, description, secret_hint FROM webhook_endpoints WHERE tenant_id = ? AND ${column} = ?`,
    )
      .bind(org.tenantId, value)
      .first<{ id: string; description: string; secret_hint: string }>();
  }

  async function webhookMessages(endpointId: string, type: string): Promise<number> {
    const row = await env.DB.prepare(
      "SELECT COUNT(*) AS n FROM webhook_messages WHERE tenant_id = ? AND endpoint_id = ? AND type = ?",
    )
      .bind(org.tenantId, endpointId, type)
      .first<{ n: number }>();
    return row?.n ?? 0;
  }

  it("probes every write route the API registers", () => {
    expect(registered(apiRoutes, ["POST", "PUT", "PATCH", "DELETE"])).toEqual(Object.keys(WRITES).sort());
  });

  it("shows a new token once, in the page's secret, and stores only its hash", async () => {
    const made = await createToken(org.owner.b, "viewer", "shown once");
    expect(made.token).toMatch(new RegExp(`^ola_${org.tenantId}_${made.id}_[a-z2-7]{32}$`));
    expect(made.page.headers.get("cache-control")).toBe("no-store");
    const secret = made.token.split("_")[3] ?? "";
    const again = await org.owner.b.get("/org/settings");
    expect(again.html).toContain("shown once");
    expect(again.html).not.toContain(secret);
    const row = await env.DB.prepare("SELECT * FROM admin_tokens WHERE tenant_id = ? AND id = ?")
      .bind(org.tenantId, made.id)
      .first();
    expect(row?.token_hash).toBe(await keyHash(env.KEY_PEPPER, made.token));
    expect(row?.role).toBe("viewer");
    expect(JSON.stringify(row)).not.toContain(secret);
    expect((await api(made.token, "/keys")).status).toBe(200);
  });

  it("every role may read every GET route", async () => {
    const budget = await admin("/budgets", { method: "POST", json: RULE_BODIES.budgets(unique("read ")) });
    const { id } = (await budget.json()) as { id: string };
    const reads = [
      "/keys",
      "/providers",
      "/providers/openai",
      "/usage",
      "/usage/events",
      "/budgets",
      `/budgets/${id}`,
      "/policies",
      "/rate-limits",
      "/audit",
      "/settings",
      "/prices/overrides",
      "/cloud/imports",
      "/cloud/spend",
      "/cloud/connection",
      "/cloud/connection/template",
    ];
    for (const role of ["viewer", "member", "admin"] as const) {
      for (const path of reads) expect((await api(tokens[role], path)).status, `${role} GET ${path}`).toBe(200);
    }
  });

  for (const [route, probe] of Object.entries(WRITES)) {
    for (const role of ["viewer", "member", "admin"] as const) {
      const allowed = can(role, probe.permission);
      it(`${route} needs ${probe.permission}: a ${role} token ${allowed ? "may" : "gets 403 forbidden"}`, async () => {
        const { res, happened } = await probe.run(tokens[role]);
        const code = res.status === 403 ? ((await res.json()) as { error: { code: string } }).error.code : null;
        expect({ status: res.status, happened, code }).toEqual({
          status: allowed ? probe.allowedStatus : 403,
          happened: allowed,
          code: allowed ? null : "forbidden",
        });
      });
    }
  }

  it("a member token creates keys and revokes only those it created", async () => {
    const own = await newKey(tokens.member);
    const byAdmin = await newKey(tokens.admin);
    const byOtherMember = await newKey(member2);
    for (const other of [byAdmin, byOtherMember]) {
      const res = await api(tokens.member, `/keys/${other.id}/revoke`, { method: "POST" });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("forbidden");
      expect(await keyRevoked(other.id)).toBe(false);
    }
    const mine = await api(tokens.member, `/keys/${own.id}/revoke`, { method: "POST" });
    expect(mine.status).toBe(200);
    expect(await keyRevoked(own.id)).toBe(true);
    // An unknown key id is not found, not forbidden.
    expect((await api(tokens.member, "/keys/aaaaaaaaaaaa/revoke", { method: "POST" })).status).toBe(404);
  });

  it("a viewer token cannot create a key", async () => {
    const res = await api(tokens.viewer, "/keys", { method: "POST", json: { name: "viewer's key" } });
    expect(res.status).toBe(403);
    expect(
      await count("SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND name = ?", org.tenantId, "viewer's key"),
    ).toBe(0);
  });

  it("an admin token writes config", async () => {
    const provider = await admin("/providers/openai", {
      method: "PUT",
      json: { api_key: "demo-openai-credential-1111", base_url: `${env.UPSTREAM_URL}/openai/v1` },
    });
    expect(provider.status).toBe(200);
    expect((await admin("/budgets", { method: "POST", json: RULE_BODIES.budgets("admin budget") })).status).toBe(201);
    expect(await ruleNamed("admin budget")).toBe(true);
  });

  it("a revoked token gets 401", async () => {
    const made = await createToken(org.owner.b, "admin", "to revoke");
    expect((await api(made.token, "/keys")).status).toBe(200);
    const revoked = await org.owner.b.post(`/org/settings/tokens/${made.id}/revoke`);
    expect(revoked.status).toBe(200);
    for (const res of [
      await api(made.token, "/keys"),
      await api(made.token, "/keys", { method: "POST", json: { name: "x" } }),
    ]) {
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("invalid_api_key");
    }
  });
});

// ---- cross-tenant -------------------------------------------------------------------------------

describe("one organisation's owner and token against another organisation", () => {
  let a: Org;
  let b: Org;
  let bMember: Person;
  let aToken: string;
  let bToken: { token: string; id: string };

  beforeAll(async () => {
    a = await newOrg("Alpha");
    b = await newOrg("Bravo");
    bMember = await addMember(b, "member");
    aToken = (await createToken(a.owner.b, "admin")).token;
    bToken = await createToken(b.owner.b, "admin");
  }, 60_000);

  async function membershipRow(tenantId: string, userId: string) {
    return env.DB.prepare("SELECT * FROM memberships WHERE tenant_id = ? AND user_id = ?")
      .bind(tenantId, userId)
      .first();
  }

  it("cannot switch into the other organisation", async () => {
    const page = await a.owner.b.post("/org/switch", { tenant_id: b.tenantId });
    expect(page.status).toBe(403);
    const members = await a.owner.b.get("/org/members");
    expect(members.html).toContain(`Members of ${a.name}`);
    expect(members.html).not.toContain(b.name);
  });

  it("cannot act on the other organisation's members", async () => {
    await env.DB.prepare("UPDATE users SET locked_at = ? WHERE id = ?").bind(Date.now(), bMember.userId).run();
    const before = await membershipRow(b.tenantId, bMember.userId);
    for (const action of ["role", "remove", "unlock", "reset-link"]) {
      const page = await a.owner.b.post(`/org/members/${bMember.userId}/${action}`, { role: "admin" });
      expect({ action, status: page.status }).toEqual({ action, status: 400 });
      expect(page.html).toContain("No such member.");
      expect(secrets(page.html).some((s) => s.includes("/reset/"))).toBe(false);
    }
    expect(await membershipRow(b.tenantId, bMember.userId)).toEqual(before);
    expect((await userByEmail(bMember.email))?.locked_at).not.toBeNull();
    expect(await count("SELECT COUNT(*) AS n FROM password_resets WHERE user_id = ?", bMember.userId)).toBe(0);
    // B's member still works in B.
    expect((await bMember.b.get("/org/members")).status).toBe(200);
    await env.DB.prepare("UPDATE users SET locked_at = NULL WHERE id = ?").bind(bMember.userId).run();
  });

  it("cannot revoke the other organisation's invitations or tokens", async () => {
    const inv = await invite(b.owner.b, "viewer");
    const revokeInv = await a.owner.b.post(`/org/invitations/${inv.id}/revoke`);
    expect(revokeInv.status).toBe(400);
    expect(revokeInv.html).toContain("No such open invitation.");
    expect(
      await count(
        "SELECT COUNT(*) AS n FROM invitations WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL",
        b.tenantId,
        inv.id,
      ),
    ).toBe(1);
    expect((await openLink(new Browser(), inv.path)).status).toBe(200);

    const revokeToken = await a.owner.b.post(`/org/settings/tokens/${bToken.id}/revoke`);
    expect(revokeToken.status).toBe(400);
    expect(revokeToken.html).toContain("No such active token.");
    expect((await api(bToken.token, "/keys")).status).toBe(200);
  });

  it("A's token sees none of B's keys and cannot revoke them", async () => {
    const bKey = (await (await api(bToken.token, "/keys", { method: "POST", json: { name: "bravo key" } })).json()) as {
      id: string;
    };
    const aKeys = (await (await api(aToken, "/keys")).json()) as { keys: { id: string; name: string }[] };
    expect(aKeys.keys.map((k) => k.id)).not.toContain(bKey.id);
    expect(aKeys.keys.map((k) => k.name)).not.toContain("bravo key");
    const revoke = await api(aToken, `/keys/${bKey.id}/revoke`, { method: "POST" });
    expect(revoke.status).toBe(404);
    expect(
      await count(
        "SELECT COUNT(*) AS n FROM api_keys WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL",
        b.tenantId,
        bKey.id,
      ),
    ).toBe(1);
  });

  it("a token or link made of one tenant's prefix and another's secret is dead", async () => {
    const [, , bId, bSecret] = bToken.token.split("_");
    const forged = await api(`ola_${a.tenantId}_${bId}_${bSecret}`, "/keys");
    expect(forged.status).toBe(401);

    const inv = await invite(b.owner.b, "admin");
    const secret = inv.token.split(".")[1];
    const path = `/invite/${a.tenantId}.${secret}`;
    expect((await a.owner.b.get(path)).status).toBe(404);
    const taken = await a.owner.b.post("/invite");
    expect(taken.status).toBe(404);
    const stranger = await acceptAsNew(path);
    expect(stranger.page.status).toBe(404);
    expect(await userByEmail(stranger.email)).toBeNull();
    expect(await membershipRow(a.tenantId, a.owner.userId)).not.toBeNull();
    expect(await membershipRow(b.tenantId, a.owner.userId)).toBeNull();
  });

  it("A's pages never show B's names or emails", async () => {
    for (const path of ["/account", "/org/members", "/org/settings"]) {
      const page = await a.owner.b.get(path);
      expect({ path, status: page.status }).toEqual({ path, status: 200 });
      const leaked = [b.name, b.owner.email, bMember.email, b.tenantId].filter((text) => page.html.includes(text));
      expect({ path, leaked }).toEqual({ path, leaked: [] });
    }
  });

  it("B's invitation accepted by A's owner makes them a member of B only", async () => {
    const inv = await invite(b.owner.b, "viewer");
    await openLink(a.owner.b, inv.path);
    const page = await a.owner.b.post("/invite");
    expect(page.status).toBe(303);
    expect(await roleIn(b.tenantId, a.owner.userId)).toBe("viewer");
    expect(await roleIn(a.tenantId, a.owner.userId)).toBe("owner");
    expect(await roleIn(a.tenantId, b.owner.userId)).toBeNull();
    const inB = await a.owner.b.get("/org/members");
    expect(inB.html).toContain(`Members of ${b.name}`);
    // A viewer in B: the role of B, not of A.
    expect((await a.owner.b.post("/org/invitations", { email: "", role: "viewer" })).status).toBe(403);
  });
});
