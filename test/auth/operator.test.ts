// PUT /internal/v1/tenants/{id}/members: the operator's way to make a deployment's first owner
// (and the self-trial's demo user). Idempotent; resets the password and lifts a lockout.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { accountSubject } from "../../workers/auth/throttle.ts";
import { newTenant, operator, worker } from "../helpers.ts";
import { Browser, email, PASSWORD, signIn } from "./browser.ts";

describe("operator: members", () => {
  it("creates a person with a role who can sign in, and is idempotent", async () => {
    const t = await newTenant({ providers: false });
    const address = email("op");
    const res = await operator(`/tenants/${t.tenantId}/members`, "PUT", {
      email: address,
      name: "Op",
      password: PASSWORD,
      role: "owner",
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { user_id: string; role: string };
    expect(body.role).toBe("owner");
    const again = await operator(`/tenants/${t.tenantId}/members`, "PUT", {
      email: address.toUpperCase(),
      name: "Op",
      password: PASSWORD,
      role: "owner",
    });
    expect(((await again.json()) as { user_id: string }).user_id).toBe(body.user_id);
    const rows = await env.DB.prepare("SELECT role FROM memberships WHERE tenant_id = ? AND user_id = ?")
      .bind(t.tenantId, body.user_id)
      .all();
    expect(rows.results).toEqual([{ role: "owner" }]);
    const b = new Browser();
    expect((await signIn(b, address)).status).toBe(303);
    expect((await b.get("/org/settings")).html).toContain("Close Test");
  });

  it("sets the password again and clears the sign-in delays", async () => {
    const t = await newTenant({ providers: false });
    const address = email("locked");
    await operator(`/tenants/${t.tenantId}/members`, "PUT", {
      email: address,
      name: "L",
      password: PASSWORD,
      role: "viewer",
    });
    const b = new Browser();
    const subject = await accountSubject(env, address);
    for (let i = 0; i < 10; i++) {
      // Each attempt after the free ones must wait: move its last failure into the past.
      await env.DB.prepare(
        "UPDATE sign_in_failures SET last_at = last_at - 20 * 60 * 1000 WHERE scope = 'account' AND subject = ?",
      )
        .bind(subject)
        .run();
      await signIn(b, address, "not the password at all");
    }
    expect((await signIn(b, address)).status).toBe(429);
    const fresh = "another long passphrase 77";
    expect(
      (
        await operator(`/tenants/${t.tenantId}/members`, "PUT", {
          email: address,
          name: "L",
          password: fresh,
          role: "viewer",
        })
      ).status,
    ).toBe(200);
    expect((await signIn(b, address, fresh)).status).toBe(303);
  });

  it("refuses bad input, weak passwords, unknown tenants and callers without the operator token", async () => {
    const t = await newTenant({ providers: false });
    const cases: [string, unknown, number][] = [
      [`/tenants/${t.tenantId}/members`, { email: "nope", name: "x", password: PASSWORD, role: "owner" }, 400],
      [`/tenants/${t.tenantId}/members`, { email: email(), name: "x", password: "short", role: "owner" }, 400],
      [`/tenants/${t.tenantId}/members`, { email: email(), name: "x", password: PASSWORD, role: "god" }, 400],
      [
        `/tenants/${t.tenantId}/members`,
        { email: email(), name: "x", password: PASSWORD, role: "owner", extra: 1 },
        400,
      ],
      ["/tenants/zzzzzzzzzzzz/members", { email: email(), name: "x", password: PASSWORD, role: "owner" }, 404],
    ];
    for (const [path, body, status] of cases) {
      const res = await operator(path, "PUT", body);
      expect({ body, status: res.status }).toEqual({ body, status });
    }
    const denied = await worker(`/internal/v1/tenants/${t.tenantId}/members`, {
      method: "PUT",
      headers: { authorization: `Bearer ${t.adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ email: email(), name: "x", password: PASSWORD, role: "owner" }),
    });
    expect(denied.status).toBe(401);
    const count = await env.DB.prepare("SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = ?")
      .bind(t.tenantId)
      .first<{ n: number }>();
    expect(count?.n).toBe(0);
  });
});
