// The MFA requirement is asked afresh on every request: turned on, a signed-in member is sent to
// enrolment at once; turned off again, the same session (started at the enrolment stage) is free.
// Admin API tokens: a token is as strong as the sign-in of whoever made it, so turning the
// requirement on revokes the active tokens made by people without MFA (the page names them
// first; each revocation is audited); tokens made by people with MFA, and the operator's, keep
// working (docs/accounts.md).
import { env } from "cloudflare:workers";
import { Secret } from "otpauth";
import { describe, expect, it } from "vitest";
import { createAdminToken } from "../../workers/auth/admin-tokens.ts";
import { totpAt } from "../../workers/auth/totp.ts";
import { type Browser, PASSWORD, signIn } from "./browser.ts";
import { addMember, api, browser, createToken, newOrg, waitForAudit } from "./orgs.ts";

async function enrol(b: Browser) {
  await b.get("/account/mfa");
  await b.post("/account/mfa/start");
  const setup = await b.get("/account/mfa");
  const secret = /<p class="secret">([A-Z2-7]+)<\/p>/.exec(setup.html)?.[1] ?? "";
  const code = totpAt(Secret.fromBase32(secret).bytes, Date.now(), { algorithm: "SHA1", digits: 6 });
  expect((await b.post("/account/mfa/confirm", { code })).status).toBe(200);
}

describe("organisation MFA requirement", () => {
  it("applies while it is on, and no longer once it is off, to the same session", async () => {
    const org = await newOrg("Mfa");
    const member = await addMember(org, "member");
    await org.owner.b.get("/org/settings");
    expect((await org.owner.b.post("/org/settings/mfa", { required: "on" })).status).toBe(303);

    const b = browser();
    const first = await signIn(b, member.email, PASSWORD);
    expect(first.location).toBe("/account/mfa");
    expect((await b.get("/org/members")).location).toBe("/account/mfa");

    // The owner, without MFA, is held at enrolment too now; another owner with MFA turns it off.
    expect((await org.owner.b.get("/org/settings")).location).toBe("/account/mfa");
    await env.DB.prepare("UPDATE tenants SET mfa_required = 0 WHERE id = ?").bind(org.tenantId).run();
    const members = await b.get("/org/members");
    expect(members.location).toBeNull();
    expect(members.status).toBe(200);
    expect(members.html).toContain(member.email);
  });
});

describe("admin tokens when the organisation starts requiring MFA", () => {
  it("tokens made by people without MFA are revoked (named first, audited); those of people with MFA and the operator's keep working", async () => {
    const org = await newOrg("Tokens");
    const admin = await addMember(org, "admin");
    await enrol(admin.b);
    await admin.b.get("/org/settings");
    const withMfa = await createToken(admin.b, "admin", "made with mfa");
    await org.owner.b.get("/org/settings");
    const withoutMfa = await createToken(org.owner.b, "viewer", "made without mfa");
    const operatorMade = await createAdminToken(env, org.tenantId, {
      name: "operator",
      role: "admin",
      createdBy: null,
    });
    for (const token of [withMfa.token, withoutMfa.token, operatorMade.token]) {
      expect((await api(token, "/keys")).status).toBe(200);
    }

    // The page says which tokens turning it on revokes.
    const settings = await admin.b.get("/org/settings");
    expect(settings.html).toContain("Turning this on revokes this token");
    expect(settings.html).toContain("made without mfa");
    expect(settings.html).not.toMatch(/revokes this token:[^<]*made with mfa/);

    expect((await admin.b.post("/org/settings/mfa", { required: "on" })).status).toBe(303);
    expect((await api(withoutMfa.token, "/keys")).status).toBe(401);
    expect((await api(withMfa.token, "/keys")).status).toBe(200);
    expect((await api(operatorMade.token, "/keys")).status).toBe(200);

    const changed = await waitForAudit(org.tenantId, "org.mfa_requirement_changed", org.tenantId);
    expect(changed.parsed).toMatchObject({ required: true, tokensRevoked: 1 });
    const revoked = await waitForAudit(org.tenantId, "token.revoked", withoutMfa.id);
    expect(revoked.parsed).toMatchObject({ reason: "mfa_required" });
    expect(revoked.actor_id).toBe(admin.userId);

    // Saving again (already required) revokes nothing more; a token made now needs MFA to make.
    expect((await admin.b.post("/org/settings/mfa", { required: "on" })).status).toBe(303);
    expect((await api(withMfa.token, "/keys")).status).toBe(200);
    expect((await org.owner.b.get("/org/settings")).location).toBe("/account/mfa");
    expect((await org.owner.b.post("/org/settings/tokens", { name: "sneaky", role: "admin" })).location).toBe(
      "/account/mfa",
    );
  });
});
