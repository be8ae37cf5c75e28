// Organisations and invitations (workers/dashboard/routes/members.tsx, links.tsx, index.ts): sign-up
// makes a person, an organisation and its owner; a person in two organisations switches between
// them; invitation links are shown once, single use, expiring, revocable and bound to an email
// when made so; role changes and removals apply to the very next request; an organisation
// always keeps an owner; every change leaves its audit event in D1.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { linkHash } from "../../workers/auth/links.ts";
import { SIGN_UPS_PER_ADDRESS } from "../../workers/auth/throttle.ts";
import { Browser, email, openLink, PASSWORD, signIn, signUp } from "./browser.ts";
import {
  acceptAsNew,
  addMember,
  browser,
  count,
  createToken,
  invite,
  newOrg,
  roleIn,
  userByEmail,
  waitForAudit,
  waitForEvents,
  type Org,
  type Person,
} from "./orgs.ts";

const DEAD = "This link does not work";

function sessionsIn(tenantId: string, userId: string): Promise<number> {
  return count("SELECT COUNT(*) AS n FROM sessions WHERE tenant_id = ? AND user_id = ?", tenantId, userId);
}

async function sessionTenant(userId: string): Promise<string | null> {
  const row = await env.DB.prepare("SELECT tenant_id FROM sessions WHERE user_id = ? ORDER BY last_seen_at DESC")
    .bind(userId)
    .first<{ tenant_id: string | null }>();
  return row?.tenant_id ?? null;
}

function membersOf(tenantId: string): Promise<number> {
  return count("SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = ?", tenantId);
}

/** Signs in and opens a page, so the browser holds the new session's CSRF token. */
async function signInAgain(b: Browser, address: string) {
  expect((await signIn(b, address)).status).toBe(303);
  expect((await b.get("/account")).status).toBe(200);
}

/** `person` (signed in) opens and accepts an invitation link. */
async function acceptSignedIn(person: Person, path: string) {
  await openLink(person.b, path);
  return person.b.post("/invite");
}

describe("sign-up", () => {
  it("creates a person, an organisation and an owner membership", async () => {
    const b = new Browser();
    const orgName = `Signup ${Math.random().toString(36).slice(2, 10)}`;
    const { email: address, page } = await signUp(b, { org: orgName, name: "Ada Founder" });
    expect(page.status).toBe(200);

    const user = await userByEmail(address);
    expect(user?.name).toBe("Ada Founder");
    expect(user?.password_hash).toMatch(/^\$scrypt\$/);
    expect(user?.password_hash).not.toContain(PASSWORD);
    const memberships = await env.DB.prepare("SELECT tenant_id, role FROM memberships WHERE user_id = ?")
      .bind(user?.id)
      .all<{ tenant_id: string; role: string }>();
    expect(memberships.results).toHaveLength(1);
    const [membership] = memberships.results;
    expect(membership?.role).toBe("owner");
    const tenant = await env.DB.prepare("SELECT name, closed_at FROM tenants WHERE id = ?")
      .bind(membership?.tenant_id)
      .first<{ name: string; closed_at: number | null }>();
    expect(tenant).toEqual({ name: orgName, closed_at: null });
    expect(await sessionTenant(user?.id ?? "")).toBe(membership?.tenant_id);
    expect((await b.get("/org/members")).html).toContain(`Members of ${orgName}`);
  });

  it("refuses a second account for the same email", async () => {
    const b = new Browser();
    const { email: address } = await signUp(b);
    const again = await new Browser().post("/signup", {
      name: "Someone Else",
      email: address.toUpperCase(),
      organisation: "Takeover Ltd",
      password: "another long pass phrase 7",
    });
    expect(again.status).toBe(409);
    expect(await count("SELECT COUNT(*) AS n FROM users WHERE email = ?", address)).toBe(1);
    expect(await count("SELECT COUNT(*) AS n FROM tenants WHERE name = 'Takeover Ltd'")).toBe(0);
  });
});

describe("sign-up limit", () => {
  it(`refuses the account after ${SIGN_UPS_PER_ADDRESS} from one address in an hour, creating nothing; another address may`, async () => {
    const { source } = new Browser();
    for (let i = 0; i < SIGN_UPS_PER_ADDRESS; i++) await signUp(new Browser({ source }));
    const address = email("over-limit");
    const refused = await new Browser({ source }).post("/signup", {
      name: "One Too Many",
      email: address,
      organisation: "Over Limit Ltd",
      password: PASSWORD,
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("3600");
    expect(refused.html).toContain("Too many accounts were made from your network");
    expect(refused.headers.getSetCookie()).toEqual([]);
    expect(await count("SELECT COUNT(*) AS n FROM users WHERE email = ?", address)).toBe(0);
    expect(await count("SELECT COUNT(*) AS n FROM tenants WHERE name = 'Over Limit Ltd'")).toBe(0);
    // The limit is the address's: the same person from another network gets in.
    const elsewhere = await signUp(new Browser(), { email: address, org: "Over Limit Ltd" });
    expect(elsewhere.page.status).toBe(200);
  });
});

describe("a person in two organisations", () => {
  it("switches between them and sees only the current organisation's members", async () => {
    const home = await newOrg("Home");
    const colleague = await addMember(home, "member");
    const away = await newOrg("Away");
    const person = home.owner;

    const inv = await invite(away.owner.b, "admin", person.email);
    const joined = await acceptSignedIn(person, inv.path);
    expect(joined.status).toBe(303);
    expect(await roleIn(away.tenantId, person.userId)).toBe("admin");
    expect(await sessionTenant(person.userId)).toBe(away.tenantId);

    const inAway = await person.b.get("/org/members");
    expect(inAway.html).toContain(`Members of ${away.name}`);
    expect(inAway.html).toContain(away.owner.email);
    expect(inAway.html).not.toContain(colleague.email);

    const switched = await person.b.post("/org/switch", { tenant_id: home.tenantId });
    expect(switched.status).toBe(303);
    expect(await sessionTenant(person.userId)).toBe(home.tenantId);
    const inHome = await person.b.get("/org/members");
    expect(inHome.html).toContain(`Members of ${home.name}`);
    expect(inHome.html).toContain(colleague.email);
    expect(inHome.html).not.toContain(away.owner.email);

    // The colleague belongs to Home only: no way into Away.
    expect((await colleague.b.post("/org/switch", { tenant_id: away.tenantId })).status).toBe(403);
    expect(await sessionTenant(colleague.userId)).toBe(home.tenantId);
  });
});

describe("invitations", () => {
  it("shows the link once and stores only its hash", async () => {
    const org = await newOrg("Once");
    const inv = await invite(org.owner.b, "member");
    expect(inv.page.headers.get("cache-control")).toBe("no-store");
    expect(inv.page.html).toContain("shown once");
    const secret = inv.token.split(".")[1] ?? "";
    expect(secret).toMatch(/^[a-z2-7]{32}$/);
    const later = await org.owner.b.get("/org/members");
    expect(later.html).toContain("anyone with the link");
    expect(later.html).not.toContain(secret);
    const row = await env.DB.prepare("SELECT * FROM invitations WHERE tenant_id = ? AND id = ?")
      .bind(org.tenantId, inv.id)
      .first();
    expect(row?.token_hash).toBe(await linkHash(env, "invite", inv.token));
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it("is single use: a second acceptance finds a dead link and makes no second membership", async () => {
    const org = await newOrg("Single");
    const inv = await invite(org.owner.b, "member");
    const first = await acceptAsNew(inv.path);
    expect(first.page.status).toBe(303);
    const members = await membersOf(org.tenantId);

    const second = await acceptAsNew(inv.path);
    expect(second.page.status).toBe(404);
    expect(second.page.html).toContain(DEAD);
    expect(await userByEmail(second.email)).toBeNull();
    expect((await openLink(new Browser(), inv.path)).status).toBe(404);

    const someone = await newOrg("Latecomer");
    expect((await acceptSignedIn(someone.owner, inv.path)).status).toBe(404);
    expect(await roleIn(org.tenantId, someone.owner.userId)).toBeNull();
    expect(await membersOf(org.tenantId)).toBe(members);
  });

  it("expires", async () => {
    const org = await newOrg("Expiring");
    const inv = await invite(org.owner.b, "member");
    await env.DB.prepare("UPDATE invitations SET expires_at = ? WHERE tenant_id = ? AND id = ?")
      .bind(Date.now() - 1, org.tenantId, inv.id)
      .run();
    expect((await openLink(new Browser(), inv.path)).status).toBe(404);
    const late = await acceptAsNew(inv.path);
    expect(late.page.status).toBe(404);
    expect(await userByEmail(late.email)).toBeNull();
    const someone = await newOrg("Late");
    expect((await acceptSignedIn(someone.owner, inv.path)).status).toBe(404);
    expect(await membersOf(org.tenantId)).toBe(1);
    expect((await org.owner.b.get("/org/members")).html).toContain("No open invitations.");
  });

  it("can be revoked, once", async () => {
    const org = await newOrg("Revoking");
    const inv = await invite(org.owner.b, "member");
    expect((await openLink(new Browser(), inv.path)).status).toBe(200);
    const revoked = await org.owner.b.post(`/org/invitations/${inv.id}/revoke`);
    expect(revoked.status).toBe(200);
    expect(revoked.html).toContain("Invitation revoked.");
    expect(revoked.html).toContain("No open invitations.");
    expect((await openLink(new Browser(), inv.path)).status).toBe(404);
    const late = await acceptAsNew(inv.path);
    expect(late.page.status).toBe(404);
    expect(await userByEmail(late.email)).toBeNull();
    const again = await org.owner.b.post(`/org/invitations/${inv.id}/revoke`);
    expect(again.status).toBe(400);
    expect(again.html).toContain("No such open invitation.");
    // An accepted invitation cannot be revoked after the fact either.
    const used = await invite(org.owner.b, "viewer");
    expect((await acceptAsNew(used.path)).page.status).toBe(303);
    expect((await org.owner.b.post(`/org/invitations/${used.id}/revoke`)).status).toBe(400);
  });

  it("bound to an email, refuses anyone else, signed in or signing up", async () => {
    const org = await newOrg("Bound");
    const invitee = email("bound");
    const inv = await invite(org.owner.b, "member", invitee);

    const other = await newOrg("Other");
    const signedIn = await acceptSignedIn(other.owner, inv.path);
    expect(signedIn.status).toBe(400);
    expect(signedIn.html).toContain(`This invitation is for ${invitee}`);
    expect(await roleIn(org.tenantId, other.owner.userId)).toBeNull();
    expect(await sessionTenant(other.owner.userId)).toBe(other.tenantId);

    const wrong = await acceptAsNew(inv.path, { email: email("intruder") });
    expect(wrong.page.status).toBe(400);
    expect(wrong.page.html).toContain(`This invitation is for ${invitee}`);
    expect(await userByEmail(wrong.email)).toBeNull();
    expect(await membersOf(org.tenantId)).toBe(1);

    // The address it was made for, typed in another case, is the same address.
    const right = await acceptAsNew(inv.path, { email: invitee.toUpperCase() });
    expect(right.page.status).toBe(303);
    const user = await userByEmail(invitee);
    expect(await roleIn(org.tenantId, user?.id ?? "")).toBe("member");
  });

  it("accepted while signed in, adds the membership and moves the session into the organisation", async () => {
    const org = await newOrg("Joining");
    const person = (await newOrg("Own")).owner;
    const inv = await invite(org.owner.b, "viewer");
    const cookieBefore = person.b.sessionCookie();
    const page = await acceptSignedIn(person, inv.path);
    expect(page.status).toBe(303);
    expect(page.location).toBe("/");
    expect(await roleIn(org.tenantId, person.userId)).toBe("viewer");
    expect(await sessionTenant(person.userId)).toBe(org.tenantId);
    expect(person.b.sessionCookie()).not.toBe(cookieBefore);
    expect((await person.b.get("/org/members")).html).toContain(`Members of ${org.name}`);
    // Accepting a second invitation to the same organisation is refused.
    const another = await invite(org.owner.b, "admin");
    const twice = await acceptSignedIn(person, another.path);
    expect(twice.status).toBe(400);
    expect(twice.html).toContain(`You are already a member of ${org.name}`);
    expect(await roleIn(org.tenantId, person.userId)).toBe("viewer");
  });

  it("accepted by someone new, creates their account, signed in to the organisation", async () => {
    const org = await newOrg("Newcomers");
    const inv = await invite(org.owner.b, "member");
    const joined = await acceptAsNew(inv.path, { name: "Grace New" });
    expect(joined.page.status).toBe(303);
    const user = await userByEmail(joined.email);
    expect(user?.name).toBe("Grace New");
    expect(await roleIn(org.tenantId, user?.id ?? "")).toBe("member");
    expect(await count("SELECT COUNT(*) AS n FROM memberships WHERE user_id = ?", user?.id)).toBe(1);
    expect((await joined.b.get("/org/members")).html).toContain(`Members of ${org.name}`);
    const again = new Browser();
    expect((await signIn(again, joined.email)).status).toBe(303);
  });

  it("for an existing email without a session, asks to sign in and takes nothing over", async () => {
    const existing = await newOrg("Existing");
    const org = await newOrg("Inviting");
    const inv = await invite(org.owner.b, "admin", existing.owner.email);
    const hashBefore = (await userByEmail(existing.owner.email))?.password_hash;

    const attacker = await acceptAsNew(inv.path, { email: existing.owner.email, name: "Not Them" });
    expect(attacker.page.status).toBe(400);
    expect(attacker.page.html).toContain("An account with this email exists: sign in, then open this link again.");
    expect(attacker.b.sessionCookie()).toBeUndefined();
    expect(await count("SELECT COUNT(*) AS n FROM users WHERE email = ?", existing.owner.email)).toBe(1);
    const after = await userByEmail(existing.owner.email);
    expect(after?.password_hash).toBe(hashBefore);
    expect(after?.name).toBe(`Owner of ${existing.name}`);
    expect(await roleIn(org.tenantId, existing.owner.userId)).toBeNull();
    expect(await count("SELECT COUNT(*) AS n FROM invitations WHERE id = ? AND accepted_at IS NULL", inv.id)).toBe(1);

    // The owner of the address signs in and accepts.
    const page = await acceptSignedIn(existing.owner, inv.path);
    expect(page.status).toBe(303);
    expect(await roleIn(org.tenantId, existing.owner.userId)).toBe("admin");
  });

  it("accepted by two new people at once, makes exactly one membership", async () => {
    const org = await newOrg("Race");
    const inv = await invite(org.owner.b, "member");
    const racers = [browser(), browser()];
    for (const b of racers) expect((await openLink(b, inv.path)).status).toBe(200);
    const addresses = [email("racer"), email("racer")];
    const pages = await Promise.all(
      racers.map((b, i) => b.post("/invite", { name: `Racer ${i}`, email: addresses[i] ?? "", password: PASSWORD })),
    );
    expect(pages.map((p) => p.status).sort((x, y) => x - y)).toEqual([303, 404]);
    const winner = pages[0]?.status === 303 ? 0 : 1;
    const winnerUser = await userByEmail(addresses[winner] ?? "");
    expect(await userByEmail(addresses[1 - winner] ?? "")).toBeNull();
    expect(await membersOf(org.tenantId)).toBe(2);
    expect(await roleIn(org.tenantId, winnerUser?.id ?? "")).toBe("member");
    const accepted = await env.DB.prepare("SELECT accepted_by FROM invitations WHERE id = ?")
      .bind(inv.id)
      .first<{ accepted_by: string }>();
    expect(accepted?.accepted_by).toBe(winnerUser?.id);
  });
});

describe("role changes and removals", () => {
  /** A person with an organisation of their own, then invited into `org` with `role`. */
  async function outsiderIn(org: Org, role: string): Promise<Person> {
    const person = (await newOrg("Own")).owner;
    expect((await acceptSignedIn(person, (await invite(org.owner.b, role, person.email)).path)).status).toBe(303);
    return person;
  }

  it("a role change signs the person out of that organisation at once", async () => {
    const org = await newOrg("Demoting");
    const person = await outsiderIn(org, "admin");
    const second = new Browser();
    await signInAgain(second, person.email);
    expect((await second.post("/org/switch", { tenant_id: org.tenantId })).status).toBe(303);
    expect(await sessionsIn(org.tenantId, person.userId)).toBe(2);

    const changed = await org.owner.b.post(`/org/members/${person.userId}/role`, { role: "viewer" });
    expect(changed.status).toBe(200);
    expect(await sessionsIn(org.tenantId, person.userId)).toBe(0);
    for (const b of [person.b, second]) {
      const next = await b.get("/org/members");
      expect(next.status).toBe(303);
      expect(next.location).toMatch(/^\/login/);
      expect((await b.post("/org/invitations", { role: "member" })).status).toBe(401);
    }
    // Signed in again, in that organisation, the person has the new role.
    await signInAgain(person.b, person.email);
    expect((await person.b.post("/org/switch", { tenant_id: org.tenantId })).status).toBe(303);
    expect((await person.b.post("/org/invitations", { role: "member" })).status).toBe(403);
  });

  it("a removal signs the person out of that organisation only; they land in their other one", async () => {
    const org = await newOrg("Removing");
    const person = await outsiderIn(org, "member");
    const elsewhere = new Browser();
    await signInAgain(elsewhere, person.email);
    const ownTenant = await sessionTenant(person.userId);
    expect(ownTenant).not.toBe(org.tenantId);
    expect(await sessionsIn(org.tenantId, person.userId)).toBe(1);

    const removed = await org.owner.b.post(`/org/members/${person.userId}/remove`);
    expect(removed.status).toBe(200);
    expect((await org.owner.b.get("/org/members")).html).not.toContain(person.email);
    expect(await roleIn(org.tenantId, person.userId)).toBeNull();
    expect(await sessionsIn(org.tenantId, person.userId)).toBe(0);

    const next = await person.b.get("/org/members");
    expect(next.status).toBe(303);
    expect(next.location).toMatch(/^\/login/);
    // The session in their own organisation goes on.
    const own = await elsewhere.get("/org/members");
    expect(own.status).toBe(200);
    expect(own.html).not.toContain(org.name);
    // Signing in again lands in the organisation they still belong to; the other is closed to them.
    await signInAgain(person.b, person.email);
    expect(await sessionTenant(person.userId)).not.toBe(org.tenantId);
    expect((await person.b.post("/org/switch", { tenant_id: org.tenantId })).status).toBe(403);
    expect((await person.b.get("/org/members")).html).not.toContain(org.name);
  });

  it("no route removes or demotes the last owner", async () => {
    const org = await newOrg("Owned");
    const admin = await addMember(org, "admin");
    const owners = () =>
      count("SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = ? AND role = 'owner'", org.tenantId);
    for (const action of ["remove", "role"]) {
      const self = await org.owner.b.post(`/org/members/${org.owner.userId}/${action}`, { role: "admin" });
      expect(self.status).toBe(400);
      expect(self.html).toContain("You cannot change your own membership here.");
      const byAdmin = await admin.b.post(`/org/members/${org.owner.userId}/${action}`, { role: "admin" });
      expect(byAdmin.status).toBe(400);
      expect(byAdmin.html).toContain("Only an owner can change an owner.");
    }
    expect(await owners()).toBe(1);
    expect(await roleIn(org.tenantId, org.owner.userId)).toBe("owner");
    // With a second owner, one owner may remove the other: there is still one left.
    const second = await addMember(org, "owner");
    expect((await org.owner.b.post(`/org/members/${second.userId}/remove`)).status).toBe(200);
    expect(await owners()).toBe(1);
  });
});

describe("audit events", () => {
  it("records invitations, joins, role changes, removals and tokens with actor, subject and source", async () => {
    const org = await newOrg("Audited");
    const owner = org.owner;
    const joinedAsOwner = await waitForAudit(org.tenantId, "member.joined", owner.userId);
    expect(joinedAsOwner.parsed).toMatchObject({ role: "owner", source: owner.b.source });

    const inv = await invite(owner.b, "member");
    const invited = await waitForAudit(org.tenantId, "member.invited", inv.id);
    expect(invited).toMatchObject({ actor_kind: "user", actor_id: owner.userId });
    expect(invited.parsed).toEqual({ role: "member", email: null, source: owner.b.source });

    const joined = await acceptAsNew(inv.path);
    expect(joined.page.status).toBe(303);
    const newcomer = await userByEmail(joined.email);
    const joinedEvent = await waitForAudit(org.tenantId, "member.joined", newcomer?.id ?? "");
    expect(joinedEvent).toMatchObject({ actor_kind: "user", actor_id: newcomer?.id });
    expect(joinedEvent.parsed).toEqual({ role: "member", invitation: inv.id, source: joined.b.source });

    await owner.b.post(`/org/members/${newcomer?.id}/role`, { role: "viewer" });
    const changed = await waitForAudit(org.tenantId, "member.role_changed", newcomer?.id ?? "");
    expect(changed).toMatchObject({ actor_kind: "user", actor_id: owner.userId });
    expect(changed.parsed).toEqual({ from: "member", to: "viewer", source: owner.b.source });

    await owner.b.post(`/org/members/${newcomer?.id}/remove`);
    const removed = await waitForAudit(org.tenantId, "member.removed", newcomer?.id ?? "");
    expect(removed).toMatchObject({ actor_kind: "user", actor_id: owner.userId });
    expect(removed.parsed).toEqual({ role: "viewer", source: owner.b.source });

    const bound = await invite(owner.b, "admin", "someone@example.test");
    await owner.b.post(`/org/invitations/${bound.id}/revoke`);
    const revoked = await waitForAudit(org.tenantId, "member.invitation_revoked", bound.id);
    expect(revoked).toMatchObject({ actor_kind: "user", actor_id: owner.userId });
    expect(revoked.parsed).toEqual({ source: owner.b.source });
    expect((await waitForAudit(org.tenantId, "member.invited", bound.id)).parsed).toMatchObject({
      email: "someone@example.test",
      role: "admin",
    });

    const token = await createToken(owner.b, "member", "audited token");
    const created = await waitForAudit(org.tenantId, "token.created", token.id);
    expect(created).toMatchObject({ actor_kind: "user", actor_id: owner.userId });
    expect(created.parsed).toEqual({ name: "audited token", role: "member", source: owner.b.source });
    expect(created.data).not.toContain(token.token);
    await owner.b.post(`/org/settings/tokens/${token.id}/revoke`);
    const tokenRevoked = await waitForAudit(org.tenantId, "token.revoked", token.id);
    expect(tokenRevoked).toMatchObject({ actor_kind: "user", actor_id: owner.userId });
    expect(tokenRevoked.parsed).toEqual({ source: owner.b.source });
  });

  it("records nothing for a refused action", async () => {
    const org = await newOrg("Quiet");
    const viewer = await addMember(org, "viewer");
    const member = await addMember(org, "member");
    expect((await viewer.b.post(`/org/members/${member.userId}/remove`)).status).toBe(403);
    expect((await viewer.b.post("/org/invitations", { role: "viewer" })).status).toBe(403);
    // A marker event after the refusals: once it is in D1, anything queued before it is too.
    const inv = await invite(org.owner.b, "viewer");
    await waitForAudit(org.tenantId, "member.invited", inv.id);
    const byViewer = await env.DB.prepare(
      "SELECT type FROM audit_events WHERE tenant_id = ? AND actor_id = ? AND type != 'access.dashboard'",
    )
      .bind(org.tenantId, viewer.userId)
      .all<{ type: string }>();
    expect(byViewer.results.map((r) => r.type).sort()).toEqual(["auth.signed_in", "member.joined"]);
    // The refused posts are on record as the viewer's page access, with their 403s.
    const refused = await waitForEvents(org.tenantId, "access.dashboard", (data) => data.status === 403, 2);
    expect(refused.map((e) => `${e.actor_id} ${String(e.parsed.method)} ${String(e.parsed.route)}`).sort()).toEqual([
      `${viewer.userId} POST /org/invitations`,
      `${viewer.userId} POST /org/members/:id/remove`,
    ]);
    expect(
      await count(
        "SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = ? AND type = 'member.removed'",
        org.tenantId,
      ),
    ).toBe(0);
  });
});
