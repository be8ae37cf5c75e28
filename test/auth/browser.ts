// A scripted browser for the dashboard's route tests: a cookie jar, the Origin header a real
// browser sends with a form post, redirects not followed (each step is asserted), and the page's
// CSRF token picked up from its forms.
import { env, exports } from "cloudflare:workers";
import { createAccount } from "../../workers/auth/accounts.ts";
import { hashPassword } from "../../workers/auth/password.ts";

export type Page = { status: number; html: string; location: string | null; headers: Headers };

export class Browser {
  readonly base: string;
  readonly source: string;
  readonly cookies = new Map<string, string>();
  csrf: string | null = null;

  constructor(options: { base?: string; source?: string } = {}) {
    this.base = options.base ?? "https://outlay.test";
    // Each browser gets its own address unless told, so per-address limits (sign-ups, sign-in
    // failures) of one test do not reach another.
    this.source = options.source ?? randomAddress();
  }

  async request(path: string, init: RequestInit = {}): Promise<Page> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    if (!headers.has("cf-connecting-ip")) headers.set("cf-connecting-ip", this.source);
    const url = path.startsWith("http") ? path : `${this.base}${path}`;
    const response = await exports.default.fetch(new Request(url, { ...init, headers, redirect: "manual" }));
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (value === "" || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const html = await response.text();
    const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
    if (token) this.csrf = token;
    return { status: response.status, html, location: response.headers.get("location"), headers: response.headers };
  }

  get(path: string): Promise<Page> {
    return this.request(path);
  }

  /** A form post as a browser sends it: form-encoded, same Origin, with this page's CSRF token. */
  post(
    path: string,
    fields: Record<string, string> = {},
    options: { csrf?: boolean; origin?: string } = {},
  ): Promise<Page> {
    const form = new URLSearchParams(fields);
    if (options.csrf !== false && this.csrf && !form.has("_csrf")) form.set("_csrf", this.csrf);
    return this.request(path, {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        origin: options.origin ?? new URL(this.base).origin,
      },
      body: form.toString(),
    });
  }

  sessionCookie(): string | undefined {
    return this.cookies.get("__Host-outlay_session") ?? this.cookies.get("outlay_session");
  }
}

function randomAddress(): string {
  const [a = 0, b = 0, c = 0] = crypto.getRandomValues(new Uint8Array(3));
  return `10.${a}.${b}.${c}`;
}

let counter = 0;

/** A unique email for a test person. */
export function email(label = "person"): string {
  counter += 1;
  return `${label}-${Date.now().toString(36)}-${counter}-${Math.random().toString(36).slice(2, 8)}@example.test`;
}

export const PASSWORD = "correct horse battery staple 42";

/** Signs up a new person with a new organisation; the browser is then signed in. */
export async function signUp(b: Browser, who: { email?: string; org?: string; name?: string } = {}) {
  const address = who.email ?? email();
  const page = await b.post("/signup", {
    name: who.name ?? "Test Person",
    email: address,
    organisation: who.org ?? `Org ${address.slice(0, 12)}`,
    password: PASSWORD,
  });
  if (page.status !== 303) throw new Error(`sign-up: ${page.status} ${page.html.slice(0, 300)}`);
  const account = await b.get("/account");
  return { email: address, page: account };
}

/** PASSWORD's scrypt hash, made once per test file (see existingAccount). */
let passwordHash: Promise<string> | undefined;

/** A person with PASSWORD who owns a new organisation, signed out (no session): made by the
 * function sign-up ends in (createAccount), with PASSWORD hashed once per file instead of once per
 * person. For tests that need someone to exist but are not about signing up: a scrypt run is most
 * of what a sign-up costs. Unlike signUp, nothing is audited and no sign-up is counted. */
export async function existingAccount(who: { email?: string; org?: string; name?: string } = {}) {
  const address = who.email ?? email();
  const orgName = who.org ?? `Org ${address.slice(0, 12)}`;
  passwordHash ??= hashPassword(PASSWORD, env.KEY_PEPPER);
  const created = await createAccount(env, {
    email: address,
    name: who.name ?? "Test Person",
    orgName,
    passwordHash: await passwordHash,
  });
  if (!created) throw new Error(`an account for ${address} exists already`);
  return { email: address, orgName, ...created };
}

export async function signIn(b: Browser, address: string, password = PASSWORD): Promise<Page> {
  await b.get("/login");
  return b.post("/login", { email: address, password });
}

/** The path of a new invitation link made by `admin` (signed in, may manage members). */
export async function inviteLink(admin: Browser, role = "member"): Promise<string> {
  await admin.get("/org/members");
  const page = await admin.post("/org/invitations", { role, email: "" });
  const url = /<p class="secret">(https?:\/\/[^<]+\/invite\/[^<]+)<\/p>/.exec(page.html)?.[1];
  if (!url) throw new Error(`invitation: ${page.status} ${page.html.slice(0, 300)}`);
  return new URL(url).pathname;
}

/** The token-free page a link (/invite/{token}, /reset/{token}) redirects to. */
export function linkPage(link: string): "/invite" | "/reset" {
  return link.startsWith("/reset") ? "/reset" : "/invite";
}

/** Opens a link as a browser does: its first answer moves the token into a cookie and redirects
 * to the token-free page, which is fetched. A dead link's 404 is returned as it is. */
export async function openLink(b: Browser, link: string): Promise<Page> {
  const first = await b.get(link);
  if (first.status !== 303) return first;
  if (first.location !== linkPage(link)) throw new Error(`${link} redirected to ${first.location}`);
  return b.get(first.location);
}

/** Someone new creates their account through an invitation link; the browser is then signed in. */
export async function joinAsNew(b: Browser, link: string, who: { email?: string; name?: string } = {}) {
  const address = who.email ?? email("invited");
  await openLink(b, link);
  const page = await b.post("/invite", { name: who.name ?? "Invited Person", email: address, password: PASSWORD });
  if (page.status !== 303) throw new Error(`join: ${page.status} ${page.html.slice(0, 300)}`);
  return { email: address };
}
