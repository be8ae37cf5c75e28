// The dashboard, mounted at / by workers/index.ts: security headers, Hono's Origin check on every
// form post, the session loaded for every page, then the pages' routes (routes/), which render the
// views of web/. Its static assets are served under /static.
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { csrf } from "hono/csrf";
import { HTTPException } from "hono/http-exception";
import { createMiddleware } from "hono/factory";
import { secureHeaders } from "hono/secure-headers";
import { pageLayout } from "../../web/layouts/page.tsx";
import { staticRoutes } from "../../web/static/index.ts";
import { formsOnly, loadAccount, type WebEnv } from "./guards.ts";
import { pagePaths } from "./page-paths.ts";
import { account } from "./routes/account.tsx";
import { activityPages } from "./routes/activity.tsx";
import { cloudPages, unlessBill } from "./routes/cloud.tsx";
import { keyPages } from "./routes/keys.tsx";
import { links } from "./routes/links.tsx";
import { members } from "./routes/members.tsx";
import { orgSettings } from "./routes/org-settings.tsx";
import { orgSwitch } from "./routes/org-switch.ts";
import { overviewPages } from "./routes/overview.tsx";
import { providersPages } from "./routes/providers.tsx";
import { quickStart } from "./routes/quick-start.tsx";
import { rulesPages } from "./routes/rules.tsx";
import { signIn } from "./routes/sign-in.tsx";
import { sso } from "./routes/sso.tsx";
import { usagePages } from "./routes/usage.tsx";
import { webhookPages } from "./routes/webhooks.tsx";

export { staticRoutes };

/** Every page router, in the order their routes are tried. */
const PAGES = [
  orgSwitch,
  signIn,
  account,
  members,
  orgSettings,
  links,
  sso,
  overviewPages,
  usagePages,
  keyPages,
  rulesPages,
  providersPages,
  webhookPages,
  cloudPages,
  activityPages,
  quickStart,
];

/** The paths these pages own, derived from their routes ("/x/*" also matches "/x"); other paths
 * never load a session. */
export const PAGE_PATHS = pagePaths(PAGES);

export const web = new Hono<WebEnv>();

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
  // The cloud page's bill uploads (routes/cloud.tsx) take a file, not a small form: they check
  // its length and type themselves.
  unlessBill(bodyLimit({ maxSize: 64 * 1024, onError: (c) => c.text("The form is too large.", 413) })),
  csrf(),
  unlessBill(formsOnly),
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

for (const pages of PAGES) web.route("/", pages);

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
