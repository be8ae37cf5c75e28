// Where the pages send a browser after signing in (workers/auth/sign-in.ts safeNext): only a path
// on this site that a browser reads exactly as we do. Anything else — another host spelled any
// way a WHATWG URL parser accepts, control characters (which a browser strips and a Location
// header cannot carry), very long values — falls back to "/", and never to a 500 once the
// password was accepted.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { safeNext } from "../../workers/auth/sign-in.ts";
import { Browser, PASSWORD, signUp } from "./browser.ts";

/** Values that must fall back to "/": decoded as a form field would carry them. */
const OFF_SITE = [
  "//evil.example",
  "///evil.example",
  "//evil.example/path",
  "/\\evil.example",
  "\\/evil.example",
  "\\\\evil.example",
  "/\\/evil.example",
  "/\t/evil.example",
  "/\t\t/evil.example",
  "/\n/evil.example",
  "/\r/evil.example",
  "/\r\n/evil.example",
  "/ok\r\nset-cookie: x=1",
  "/ok\rlocation: https://evil.example",
  "/ok\nx",
  "/\u0000/evil.example",
  "/\u000b/evil.example",
  "/\u000c/evil.example",
  " //evil.example",
  "\t//evil.example",
  "/../evil.example",
  "/..//evil.example",
  "/.//evil.example",
  "/%2e%2e//evil.example",
  "/./\\evil.example",
  "https://evil.example",
  "https:evil.example",
  "http://outlay.test@evil.example",
  "//outlay.test@evil.example",
  "javascript:alert(1)",
  "JAVASCRIPT:alert(1)",
  "data:text/html,<script>alert(1)</script>",
  "evil.example",
  "",
  "/é",
  "/\u2028/evil.example",
  "/\uff0f/evil.example",
  `/${"a".repeat(5000)}`,
  `/${"%".repeat(3000)}`,
];

/** Values a browser reads exactly as written: kept. */
const SAME_SITE = ["/", "/org/members", "/usage?range=30d", "/keys#new", "/%2F%2Fevil.example", "/%09/evil.example"];

describe("safeNext", () => {
  it.each(OFF_SITE.map((v) => [JSON.stringify(v).slice(0, 60), v]))("%s falls back to /", (_, next) => {
    expect(safeNext(next)).toBe("/");
  });

  it.each(SAME_SITE)("%s is kept", (next) => {
    expect(safeNext(next)).toBe(next);
  });

  it("every kept value resolves on this site and is a valid header value", () => {
    for (const next of [...OFF_SITE, ...SAME_SITE]) {
      const kept = safeNext(next);
      const url = new URL(kept, "https://outlay.test");
      expect(url.origin).toBe("https://outlay.test");
      expect(() => new Headers({ location: kept })).not.toThrow();
    }
  });
});

/** Signs this browser out (the sign-out page gives the new session's CSRF token). */
async function signOut(b: Browser) {
  await b.get("/logout");
  expect((await b.post("/logout")).status).toBe(303);
  expect(b.sessionCookie()).toBeUndefined();
}

describe("sign-in with a next parameter", () => {
  /** Values as they arrive in a query string, raw and percent-encoded. */
  const QUERIES = [
    "/%09/evil.example",
    "/%0d%0a/evil.example",
    "/%0A/evil.example",
    "%2F%2Fevil.example",
    "/%5Cevil.example",
    "%5C%2Fevil.example",
    "https%3A%2F%2Fevil.example",
    "javascript%3Aalert(1)",
    "/%00/evil.example",
    "/%E2%80%A8/evil.example",
  ];

  it("never sends the browser off-site and never answers 500, whatever the form or the query carried", async () => {
    const b = new Browser();
    const { email: who } = await signUp(b);
    await b.post("/logout");
    for (const next of OFF_SITE.filter((v) => v.length < 2000)) {
      const page = await b.post("/login", { email: who, password: PASSWORD, next });
      expect({ next, status: page.status, location: page.location }).toEqual({ next, status: 303, location: "/" });
      await signOut(b);
    }
    for (const query of QUERIES) {
      const form = await b.get(`/login?next=${query}`);
      expect(form.status).toBe(200);
      // The form carries `next` only when it would be followed.
      const carried = /name="next" value="([^"]*)"/.exec(form.html)?.[1];
      const next = new URLSearchParams(`next=${query}`).get("next") ?? "";
      const page = await b.post("/login", { email: who, password: PASSWORD, ...(carried ? { next: carried } : {}) });
      expect({ query, status: page.status }).toEqual({ query, status: 303 });
      expect(page.location).toBe(safeNext(next));
      expect(new URL(page.location ?? "", "https://outlay.test").origin).toBe("https://outlay.test");
      await signOut(b);
    }
  });

  it("a very long next still signs in, to /", async () => {
    const b = new Browser();
    const { email: who } = await signUp(b);
    await b.post("/logout");
    const page = await b.post("/login", { email: who, password: PASSWORD, next: `/${"x".repeat(20_000)}` });
    expect(page.status).toBe(303);
    expect(page.location).toBe("/");
  });

  it("a path on this site is followed, query included", async () => {
    const b = new Browser();
    const { email: who } = await signUp(b);
    await b.post("/logout");
    const page = await b.post("/login", { email: who, password: PASSWORD, next: "/usage?range=30d" });
    expect(page.location).toBe("/usage?range=30d");
    expect(await env.DB.prepare("SELECT 1 FROM users WHERE email = ?").bind(who).first()).not.toBeNull();
  });
});
