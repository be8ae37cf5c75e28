// The dashboard's account pages, mounted at / by workers/index.ts: security headers, Hono's
// Origin check on every form post, the session loaded for every page, then the routes.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import { pageLayout } from "../../web/layouts/page.tsx";
import { activityPages } from "../../web/routes/activity.tsx";
import { keyPages } from "../../web/routes/keys.tsx";
import { overviewPages } from "../../web/routes/overview.tsx";
import { providersPages } from "../../web/routes/providers.tsx";
import { quickStart } from "../../web/routes/quick-start.tsx";
import { rulesPages } from "../../web/routes/rules.tsx";
import { usagePages } from "../../web/routes/usage.tsx";
import { account } from "./routes/account.tsx";
import { links } from "./routes/links.tsx";
import { members } from "./routes/members.tsx";
import { orgSettings } from "./routes/org-settings.tsx";
import { signIn } from "./routes/sign-in.tsx";
import { sso } from "./routes/sso.tsx";
import { rotateSession, writeSessionCookie } from "./sessions.ts";
import { formField, formsOnly, loadAccount, requireAccount, requireCsrf, type WebEnv } from "./web-auth.ts";

export const web = new Hono<WebEnv>();

/** The paths these pages own ("/x/*" also matches "/x"); other paths never load a session. */
export const PAGE_PATHS = [
  "/",
  "/signup",
  "/login/*",
  "/logout",
  "/account/*",
  "/org/*",
  "/invite/*",
  "/reset/*",
  "/sso/*",
  "/keys/*",
  "/usage/*",
  "/budgets/*",
  "/policies/*",
  "/rate-limits/*",
  "/providers/*",
  "/activity/*",
  "/quickstart",
];

const pageMiddleware = [
  secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      connectSrc: ["'self'"],
      // SSO sends the browser on to the organisation's identity provider (any https origin).
      formAction: ["'self'", "https:"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
    referrerPolicy: "same-origin",
  }),
  createMiddleware<WebEnv>(async function noStore(c, next) {
    await next();
    if (!c.res.headers.has("cache-control")) c.header("cache-control", "no-store");
  }),
  bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.text("The form is too large.", 413) }),
  csrf(),
  formsOnly,
  loadAccount,
  pageLayout,
] as const;
/** Link pages send no Referer at all: the link's first request carries its token in the URL, and
 * nothing on these pages should pass even the token-free URL on. Registered before the pages'
 * middleware so that it runs last and overrides secureHeaders' same-origin policy. */
const noReferrer = createMiddleware<WebEnv>(async function noReferrer(c, next) {
  await next();
  c.header("referrer-policy", "no-referrer");
});
web.use("/invite/*", noReferrer);
web.use("/reset/*", noReferrer);
for (const path of PAGE_PATHS) web.use(path, ...pageMiddleware);

web.post("/org/switch", requireAccount, requireCsrf, async (c) => {
  const a = c.get("account");
  const tenantId = await formField(c, "tenant_id");
  if (!a || !a.orgs.some((o) => o.tenantId === tenantId))
    return c.text("You are not a member of that organisation.", 403);
  writeSessionCookie(c, await rotateSession(c.env, a.session, { tenantId }));
  return c.redirect("/", 303);
});

web.route("/", signIn);
web.route("/", account);
web.route("/", members);
web.route("/", orgSettings);
web.route("/", links);
web.route("/", sso);
web.route("/", overviewPages);
web.route("/", usagePages);
web.route("/", keyPages);
web.route("/", rulesPages);
web.route("/", providersPages);
web.route("/", activityPages);
web.route("/", quickStart);

/** A page that fails answers a plain page: never a page without its session checks, never details. */
web.onError((error, c) => {
  // Hono's csrf() refuses a cross-site post by throwing its 403: that answer stands.
  if (error instanceof HTTPException) return error.getResponse();
  console.error("page error", error.name, error.message.slice(0, 200));
  return c.html(
    "<!doctype html><title>Error · Outlay</title><h1>Something went wrong</h1><p>Try again in a moment. If it keeps happening, tell your Outlay operator.</p>",
    500,
  );
});
