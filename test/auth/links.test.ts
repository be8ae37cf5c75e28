// Invitation and reset links keep their token out of every URL but the link's own first request
// (workers/auth/link-cookie.ts): GET /invite/{token} (or /reset/{token}) moves the token into a
// short HttpOnly cookie scoped to /invite (or /reset) and redirects to the token-free page; the
// page, its form, the sign-in detour and everything after carry no token. Those pages send
// `Referrer-Policy: no-referrer`. The links stay single use and short-lived (docs/security.md,
// "What the platform logs").
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { INVITATION_TTL_MS, RESET_TTL_MS } from "../../workers/auth/links.ts";
import { Browser, openLink, PASSWORD, signIn, type Page } from "./browser.ts";
import { addMember, count, invite, newOrg, secrets } from "./orgs.ts";

type Cookie = { name: string; value: string; attributes: Map<string, string> };

function cookiesOf(page: Page): Cookie[] {
  return page.headers.getSetCookie().map((line) => {
    const [pair = "", ...rest] = line.split(";").map((p) => p.trim());
    const eq = pair.indexOf("=");
    const attributes = new Map(
      rest.map((a) => {
        const i = a.indexOf("=");
        return i < 0 ? [a.toLowerCase(), ""] : [a.slice(0, i).toLowerCase(), a.slice(i + 1)];
      }),
    );
    return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes };
  });
}

/** Everything of a page a log, history entry or Referer could carry: its URL parts and links. */
function urlsIn(page: Page): string[] {
  const found = [...page.html.matchAll(/(?:href|action|src)="([^"]*)"/g)].map((m) => m[1] ?? "");
  return [...found, page.location ?? ""];
}

async function resetLinkFor(org: { owner: { b: Browser } }, userId: string): Promise<string> {
  await org.owner.b.get("/org/members");
  const made = await org.owner.b.post(`/org/members/${userId}/reset-link`);
  const url = secrets(made.html).find((s) => s.includes("/reset/"));
  if (!url) throw new Error(`no reset link: ${made.status}`);
  return new URL(url).pathname;
}

describe("the link's first request moves its token out of the URL", () => {
  it.each(["invite", "reset"] as const)(
    "/%s/{token}: 303 to the token-free page, the token in a short HttpOnly cookie",
    async (kind) => {
      const org = await newOrg("Links");
      const path =
        kind === "invite"
          ? (await invite(org.owner.b, "member")).path
          : await resetLinkFor(org, (await addMember(org, "member")).userId);
      const token = path.split("/")[2] ?? "";
      const b = new Browser();
      const first = await b.get(path);
      expect(first.status).toBe(303);
      expect(first.location).toBe(`/${kind}`);
      expect(first.headers.get("referrer-policy")).toBe("no-referrer");
      const [cookie, ...others] = cookiesOf(first);
      expect(others).toEqual([]);
      expect(cookie?.name).toBe(`outlay_${kind}`);
      expect(cookie?.value).toBe(token);
      expect(cookie?.attributes.get("path")).toBe(`/${kind}`);
      expect(cookie?.attributes.has("httponly")).toBe(true);
      expect(cookie?.attributes.has("secure")).toBe(true);
      expect(cookie?.attributes.get("samesite")).toBe("Lax");
      const maxAge = Number(cookie?.attributes.get("max-age"));
      expect(maxAge).toBeGreaterThan(0);
      expect(maxAge).toBeLessThanOrEqual(30 * 60);

      const page = await b.get(`/${kind}`);
      expect(page.status).toBe(200);
      expect(page.headers.get("referrer-policy")).toBe("no-referrer");
      expect(page.headers.get("cache-control")).toContain("no-store");
      expect(page.html).not.toContain(token);
      expect(page.html).not.toContain(token.split(".")[1] ?? "");
      for (const url of urlsIn(page)) expect(url).not.toContain(token.split(".")[1] ?? "");
      expect(page.html).toContain(`action="/${kind}"`);
    },
  );

  it("the cookie never outlives the link: a reset link with a minute left gets a cookie of a minute at most", async () => {
    const org = await newOrg("Links");
    const member = await addMember(org, "member");
    const path = await resetLinkFor(org, member.userId);
    await env.DB.prepare("UPDATE password_resets SET expires_at = ? WHERE user_id = ?")
      .bind(Date.now() + 60_000, member.userId)
      .run();
    const [cookie] = cookiesOf(await new Browser().get(path));
    expect(Number(cookie?.attributes.get("max-age"))).toBeLessThanOrEqual(60);
  });

  it("a dead or malformed link sets no cookie and answers 404", async () => {
    const org = await newOrg("Links");
    const inv = await invite(org.owner.b, "member");
    const [tenant, secret = ""] = inv.token.split(".");
    for (const path of [
      `/invite/${tenant}.${secret.replace(/^./, (ch) => (ch === "a" ? "b" : "a"))}`,
      `/invite/${inv.token}x`,
      "/invite/nonsense",
      `/reset/${inv.token}`,
    ]) {
      const page = await new Browser().get(path);
      expect({ path, status: page.status }).toEqual({ path, status: 404 });
      expect(cookiesOf(page).filter((c) => c.value !== "")).toEqual([]);
    }
    // The token-free pages without a cookie are dead ends too.
    for (const path of ["/invite", "/reset"]) expect((await new Browser().get(path)).status).toBe(404);
  });

  it("the token in the URL of a form post is not accepted: only the cookie carries it", async () => {
    const org = await newOrg("Links");
    const inv = await invite(org.owner.b, "member");
    const b = new Browser();
    const posted = await b.post(inv.path, { name: "Someone", email: "someone@example.test", password: PASSWORD });
    expect(posted.status).toBe(404);
    expect(await count("SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = ?", org.tenantId)).toBe(1);
    // The same browser, after opening the link, joins through /invite.
    await openLink(b, inv.path);
    expect(
      (await b.post("/invite", { name: "Someone", email: `s-${Date.now()}@example.test`, password: PASSWORD })).status,
    ).toBe(303);
  });
});

describe("single use and short-lived", () => {
  it("an accepted invitation clears its cookie, and neither the link nor the page works again", async () => {
    const org = await newOrg("Links");
    const inv = await invite(org.owner.b, "viewer");
    const b = new Browser();
    await openLink(b, inv.path);
    const joined = await b.post("/invite", { name: "New", email: `n-${Date.now()}@example.test`, password: PASSWORD });
    expect(joined.status).toBe(303);
    expect(cookiesOf(joined).find((c) => c.name === "outlay_invite")?.value).toBe("");
    expect(b.cookies.has("outlay_invite")).toBe(false);
    expect((await new Browser().get(inv.path)).status).toBe(404);
    // A copy of the cookie taken before acceptance is dead too.
    const copy = new Browser();
    copy.cookies.set("outlay_invite", inv.token);
    expect((await copy.get("/invite")).status).toBe(404);
    expect(
      (await copy.post("/invite", { name: "X", email: `x-${Date.now()}@example.test`, password: PASSWORD })).status,
    ).toBe(404);
  });

  it("invitations live 7 days and reset links 1 hour", () => {
    expect(INVITATION_TTL_MS).toBe(7 * 24 * 60 * 60 * 1000);
    expect(RESET_TTL_MS).toBe(60 * 60 * 1000);
  });
});

describe("the sign-in detour carries no token", () => {
  it("someone with an account opens the link signed out, signs in through the page's link, and joins", async () => {
    const org = await newOrg("Links");
    const other = await newOrg("Other");
    const person = other.owner;
    await person.b.get("/logout");
    await person.b.post("/logout");
    const inv = await invite(org.owner.b, "member");
    const page = await openLink(person.b, inv.path);
    const signInHref = /href="(\/login\?next=[^"]*)"/.exec(page.html)?.[1] ?? "";
    expect(signInHref).toBe("/login?next=%2Finvite");
    const form = await person.b.get(signInHref.replaceAll("&amp;", "&"));
    expect(form.html).toContain('name="next" value="/invite"');
    const signedIn = await person.b.post("/login", { email: person.email, password: PASSWORD, next: "/invite" });
    expect(signedIn.location).toBe("/invite");
    const again = await person.b.get("/invite");
    expect(again.status).toBe(200);
    expect(again.html).toContain(`signed in as ${person.email}`);
    expect((await person.b.post("/invite")).status).toBe(303);
    expect(
      await count(
        "SELECT COUNT(*) AS n FROM memberships WHERE tenant_id = ? AND user_id = ?",
        org.tenantId,
        person.userId,
      ),
    ).toBe(1);
    expect((await signIn(new Browser(), person.email)).status).toBe(303);
  });
});
