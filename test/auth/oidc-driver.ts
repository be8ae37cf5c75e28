// Plays the user's browser against the real OpenID Provider (test/oidc-server.ts): follows its
// redirects by hand with a cookie jar, fills in the development login form (any login, any
// password) and the consent form, and stops at the redirect back to Outlay's callback, which it
// returns without fetching. Runs in workerd.
//
//   GET  /auth?...                    → 303 /interaction/<uid>          (sets _interaction cookies)
//   GET  /interaction/<uid>           → 200 login form
//   POST /interaction/<uid>/login     → 303 /auth/<uid> → 303 /interaction/<uid2>  (consent)
//   POST /interaction/<uid2>/confirm  → 303 /auth/<uid2> → 303 <callback>?code=…&state=…&iss=…
//
// With `cancel`, the driver follows the form's "[ Cancel ]" link instead of signing in: the
// provider then redirects to the callback with error=access_denied.

export type DriveOptions = {
  /** The user's login name at the provider; the account's email is <login>@sso.example. */
  login: string;
  /** Where the provider hands the user back; the driver stops at the first redirect there. */
  callback?: string;
  cancel?: boolean;
};

const CALLBACK = "http://outlay.test/sso/callback";
const MAX_STEPS = 12;

type Cookie = { name: string; value: string; path: string };
type Step = { url: URL; method: "GET" | "POST"; form?: URLSearchParams };

/** Just enough of RFC 6265 for one host: name, value and path; expired cookies are dropped. */
class CookieJar {
  readonly #cookies = new Map<string, Cookie>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = line.split(";").map((part) => part.trim());
      const equals = pair.indexOf("=");
      if (equals <= 0) continue;
      const cookie = { name: pair.slice(0, equals), value: pair.slice(equals + 1), path: "/" };
      let expired = false;
      for (const attribute of attributes) {
        const [key = "", value = ""] = attribute.split("=", 2);
        if (key.toLowerCase() === "path" && value.startsWith("/")) cookie.path = value;
        if (key.toLowerCase() === "expires" && Date.parse(value) <= Date.now()) expired = true;
        if (key.toLowerCase() === "max-age" && Number(value) <= 0) expired = true;
      }
      const key = `${cookie.name};${cookie.path}`;
      if (expired) this.#cookies.delete(key);
      else this.#cookies.set(key, cookie);
    }
  }

  header(url: URL): string {
    const matches = [...this.#cookies.values()].filter(
      (c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`),
    );
    return matches.map((c) => `${c.name}=${c.value}`).join("; ");
  }
}

function decodeEntities(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;|&#x27;/g, "'")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&amp;/g, "&");
}

function attributeOf(tag: string, name: string): string | null {
  const match = new RegExp(`\\s${name}="([^"]*)"`, "i").exec(tag);
  return match?.[1] === undefined ? null : decodeEntities(match[1]);
}

/** The page's first form, filled in: hidden inputs as given, login and password when asked. */
function submission(html: string, page: URL, login: string): Step {
  const form = /<form\b[^>]*>[\s\S]*?<\/form>/i.exec(html)?.[0];
  const action = form === undefined ? null : attributeOf(form, "action");
  if (form === undefined || action === null) throw new Error(`no form at ${page.pathname}: ${html.slice(0, 300)}`);
  const fields = new URLSearchParams();
  for (const [input] of form.matchAll(/<input\b[^>]*>/gi)) {
    const name = attributeOf(input, "name");
    if (name === "login") fields.set(name, login);
    else if (name === "password") fields.set(name, "any password");
    else if (name !== null) fields.set(name, attributeOf(input, "value") ?? "");
  }
  return { url: new URL(action, page), method: "POST", form: fields };
}

function cancelLink(html: string, page: URL): Step {
  const link = /<a\b[^>]*>\s*\[ Cancel \]\s*<\/a>/i.exec(html)?.[0];
  const href = link === undefined ? null : attributeOf(link, "href");
  if (href === null) throw new Error(`no cancel link at ${page.pathname}`);
  return { url: new URL(href, page), method: "GET" };
}

/** Signs in at the provider from `authorizationUrl` and returns the redirect to the callback. */
export async function driveSignIn(authorizationUrl: string, options: DriveOptions): Promise<URL> {
  const callback = new URL(options.callback ?? CALLBACK);
  const jar = new CookieJar();
  let step: Step = { url: new URL(authorizationUrl), method: "GET" };
  for (let i = 0; i < MAX_STEPS; i++) {
    const headers = new Headers();
    const cookies = jar.header(step.url);
    if (cookies !== "") headers.set("cookie", cookies);
    const response = await fetch(step.url, { method: step.method, headers, body: step.form, redirect: "manual" });
    jar.store(response);
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location !== null) {
      await response.body?.cancel();
      const next = new URL(location, step.url);
      if (next.origin === callback.origin && next.pathname === callback.pathname) return next;
      step = { url: next, method: "GET" };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) throw new Error(`${step.method} ${step.url.pathname}: ${response.status} ${html}`);
    step = options.cancel === true ? cancelLink(html, step.url) : submission(html, step.url, options.login);
  }
  throw new Error(`no redirect to ${callback.href} after ${MAX_STEPS} steps`);
}
