// The MFA requirement is asked afresh on every request: turned on, a signed-in member is sent to
// enrolment at once; turned off again, the same session (started at the enrolment stage) is free.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PASSWORD, signIn } from "./browser.ts";
import { addMember, browser, newOrg } from "./orgs.ts";

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
