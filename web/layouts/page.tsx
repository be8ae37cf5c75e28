// The one layout (jsxRenderer): top bar with navigation, the organisation switcher and sign-out
// for signed-in people; the hashed stylesheet and htmx; no inline script (the CSP forbids it).
import type { Child } from "hono/jsx";
import { jsxRenderer, useRequestContext } from "hono/jsx-renderer";
import type { Account, WebEnv } from "../../workers/auth/index.ts";
import { CsrfField } from "../components/form.tsx";
import { assetPaths } from "../static/index.ts";

export type PageProps = { title: string; narrow?: boolean };

declare module "hono" {
  interface ContextRenderer {
    (content: string | Promise<string>, props: PageProps): Response | Promise<Response>;
  }
}

const NAV = [
  { href: "/", label: "Overview" },
  { href: "/usage", label: "Usage" },
  { href: "/keys", label: "Keys" },
  { href: "/budgets", label: "Budgets" },
  { href: "/policies", label: "Policies" },
  { href: "/providers", label: "Providers" },
  { href: "/webhooks", label: "Webhooks" },
  { href: "/cloud", label: "Cloud AI spend" },
  { href: "/activity", label: "Activity" },
  { href: "/quickstart", label: "Quick start" },
  { href: "/org/members", label: "Members" },
  { href: "/org/settings", label: "Organisation" },
  { href: "/account", label: "Account" },
] as const;

/** The navigation entry a path belongs to ("/" only for itself; /rate-limits under Policies). */
function current(href: string, path: string): boolean {
  if (href === "/") return path === "/";
  if (href === "/policies" && path.startsWith("/rate-limits")) return true;
  return path === href || path.startsWith(`${href}/`);
}

function TopBar({ account, path }: { account: Account; path: string }) {
  const full = account.session.stage === "full";
  return (
    <header class="top">
      <a class="brand" href="/">
        Outlay
      </a>
      {full && (
        <nav aria-label="Main">
          {NAV.map((item) => (
            <a href={item.href} aria-current={current(item.href, path) ? "page" : undefined}>
              {item.label}
            </a>
          ))}
        </nav>
      )}
      <div class="who">
        {full && account.orgs.length > 1 ? (
          <form class="inline" method="post" action="/org/switch">
            <CsrfField token={account.csrf} />
            <label>
              <span class="hint">Organisation</span>
              <select name="tenant_id">
                {account.orgs.map((o) => (
                  <option value={o.tenantId} selected={o.tenantId === account.org?.tenantId}>
                    {o.name}
                  </option>
                ))}
              </select>
            </label>
            <button class="secondary" type="submit">
              Switch
            </button>
          </form>
        ) : (
          account.org && <span>{account.org.name}</span>
        )}
        <span>{account.user.email}</span>
        <form class="inline" method="post" action="/logout">
          <CsrfField token={account.csrf} />
          <button class="secondary" type="submit">
            Sign out
          </button>
        </form>
      </div>
    </header>
  );
}

export const pageLayout = jsxRenderer(async function Page({
  children,
  title,
  narrow,
}: PageProps & { children?: Child }) {
  const c = useRequestContext<WebEnv>();
  const account = c.get("account");
  const assets = await assetPaths();
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · Outlay`}</title>
        <link rel="stylesheet" href={assets.css} />
        <script src={assets.htmx} defer />
        <script src={assets.app} defer />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        {account && <TopBar account={account} path={c.req.path} />}
        <main id="main" class={narrow ? "narrow" : undefined}>
          {children}
        </main>
      </body>
    </html>
  );
});
