// What an organisation's admins may do to a person who also exists beyond it (docs/accounts.md,
// "What an organisation may do to a person"). A person's password, sign-in delays, MFA, recovery
// codes and sessions are global: one person, many organisations. An admin of B may change those
// only for someone whose every membership is in B; otherwise B could take over the person's
// access to C. The takeover chain of the probe is tried step by step and must stop at its first
// step; password changes and resets are audited in every organisation the person belongs to.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { openLink, PASSWORD, signIn } from "./browser.ts";
import { addMember, count, newOrg, secrets, userByEmail, waitForAudit, type Org, type Person } from "./orgs.ts";

const NEW_PASSWORD = "the admin of b chose this one 7";

/** `person` (signed in, in some organisation) accepts an invitation into `org` as `role`. */
async function joinAlso(person: Person, org: Org, role: "admin" | "member" | "viewer") {
  await org.owner.b.get("/org/members");
  const made = await org.owner.b.post("/org/invitations", { role, email: "" });
  const url = secrets(made.html).find((s) => s.includes("/invite/"));
  if (!url) throw new Error("no invitation link");
  await openLink(person.b, new URL(url).pathname);
  expect((await person.b.post("/invite")).status).toBe(303);
}

function resetLinks(userId: string): Promise<number> {
  return count("SELECT COUNT(*) AS n FROM password_resets WHERE user_id = ?", userId);
}

describe("an organisation cannot take over a person who exists beyond it", () => {
  it("B's admin cannot make a reset link for a member of B who owns C: refused, nothing stored, the person's password unchanged", async () => {
    const b = await newOrg("B");
    const c = await newOrg("C");
    const bAdmin = await addMember(b, "admin");
    // C's owner is also a plain member of B.
    const victim = c.owner;
    await joinAlso(victim, b, "member");
    const before = await userByEmail(victim.email);

    for (const actor of [bAdmin, b.owner]) {
      const members = await actor.b.get("/org/members");
      expect(members.html).toContain(victim.email);
      // The page offers no reset link (nor unlock) for them, and says why.
      expect(members.html).not.toContain(`/org/members/${victim.userId}/reset-link`);
      expect(members.html).not.toContain(`/org/members/${victim.userId}/unlock`);
      expect(members.html).toContain("also in another organisation");
      // Posting the form anyway is refused.
      const refused = await actor.b.post(`/org/members/${victim.userId}/reset-link`);
      expect(refused.status).toBe(400);
      expect(refused.html).toContain("also belongs to another organisation");
      expect(secrets(refused.html).filter((s) => s.includes("/reset/"))).toEqual([]);
      const unlock = await actor.b.post(`/org/members/${victim.userId}/unlock`);
      expect(unlock.status).toBe(400);
    }
    expect(await resetLinks(victim.userId)).toBe(0);
    expect((await userByEmail(victim.email))?.password_hash).toBe(before?.password_hash);

    // The rest of the chain has nothing to work with: the victim's own password still works and
    // the attacker's does not.
    expect((await signIn(bAdmin.b, victim.email, NEW_PASSWORD)).status).toBe(401);
    expect((await signIn(victim.b, victim.email, PASSWORD)).status).toBe(303);
  });

  it("also for a viewer, an admin or a member of B who belongs to any other organisation, closed ones aside", async () => {
    const b = await newOrg("B");
    for (const role of ["viewer", "admin", "member"] as const) {
      const other = await newOrg(`Other ${role}`);
      const person = await addMember(other, "viewer");
      await joinAlso(person, b, role);
      await b.owner.b.get("/org/members");
      const refused = await b.owner.b.post(`/org/members/${person.userId}/reset-link`);
      expect({ role, status: refused.status }).toEqual({ role, status: 400 });
      expect(await resetLinks(person.userId)).toBe(0);
    }
    // Someone whose only other organisation was closed belongs to B alone now.
    const closed = await newOrg("Closed");
    const leaving = await addMember(closed, "viewer");
    await joinAlso(leaving, b, "member");
    await env.DB.prepare("UPDATE tenants SET closed_at = ? WHERE id = ?").bind(Date.now(), closed.tenantId).run();
    await b.owner.b.get("/org/members");
    expect((await b.owner.b.post(`/org/members/${leaving.userId}/reset-link`)).status).toBe(200);
  });

  it("a link made while the person belonged to B alone dies when they join another organisation", async () => {
    const b = await newOrg("B");
    const c = await newOrg("C");
    const person = await addMember(b, "member");
    await b.owner.b.get("/org/members");
    const made = await b.owner.b.post(`/org/members/${person.userId}/reset-link`);
    expect(made.status).toBe(200);
    const path = new URL(secrets(made.html).find((s) => s.includes("/reset/")) ?? "").pathname;
    const before = await userByEmail(person.email);

    // B's admin opens the link (the page still works), then the person joins C as an admin...
    const attacker = b.owner.b;
    expect((await openLink(attacker, path)).status).toBe(200);
    await joinAlso(person, c, "admin");
    // ...and the link no longer sets anything.
    expect((await attacker.post("/reset", { password: NEW_PASSWORD })).status).toBe(404);
    expect((await openLink(attacker, path)).status).toBe(404);
    expect((await userByEmail(person.email))?.password_hash).toBe(before?.password_hash);
    expect(
      await count("SELECT COUNT(*) AS n FROM password_resets WHERE user_id = ? AND used_at IS NOT NULL", person.userId),
    ).toBe(0);
  });

  it("for someone in B alone a reset still works, and is audited in B", async () => {
    const b = await newOrg("B");
    const person = await addMember(b, "member");
    await b.owner.b.get("/org/members");
    const made = await b.owner.b.post(`/org/members/${person.userId}/reset-link`);
    const path = new URL(secrets(made.html).find((s) => s.includes("/reset/")) ?? "").pathname;
    expect((await openLink(person.b, path)).status).toBe(200);
    expect((await person.b.post("/reset", { password: NEW_PASSWORD })).status).toBe(303);
    const reset = await waitForAudit(b.tenantId, "auth.password_reset", person.userId);
    expect(reset.parsed).toMatchObject({ issuedIn: b.tenantId, source: person.b.source });
    expect((await signIn(person.b, person.email, NEW_PASSWORD)).status).toBe(303);
  });
});

describe("password changes are audited in every organisation of the person", () => {
  it("a change on /account reaches B and C", async () => {
    const b = await newOrg("B");
    const c = await newOrg("C");
    const person = c.owner;
    await joinAlso(person, b, "member");
    await person.b.get("/account");
    const changed = await person.b.post("/account/password", { current: PASSWORD, password: NEW_PASSWORD });
    expect(changed.status).toBe(303);
    for (const org of [b, c]) {
      const event = await waitForAudit(org.tenantId, "auth.password_changed", person.userId);
      expect(event.actor_id).toBe(person.userId);
    }
  });
});
