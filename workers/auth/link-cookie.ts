// A link's token leaves the URL at the link's first request. GET /invite/{token} (or /reset/{token})
// puts the token in a short HttpOnly cookie scoped to /invite (or /reset) and redirects to the
// token-free /invite (or /reset): the page, its form posts, the sign-in detour and every later
// request carry no token in their URL, so request logs, history and Referer never see it again.
// The cookie lives 30 minutes at most, and never past the link's own expiry; the token in it stays
// single use (the link's row is taken when used).
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import type { LinkKind } from "./links.ts";

/** How long an opened link's page can be used before the link must be opened again. */
export const LINK_COOKIE_MAX_S = 30 * 60;

const NAME: Record<LinkKind, string> = { invite: "outlay_invite", reset: "outlay_reset" };

function options(c: Context, kind: LinkKind) {
  const secure = new URL(c.req.url).protocol === "https:";
  // Lax: the link is opened from mail or chat (a cross-site top-level GET), and the redirect that
  // follows must carry the cookie.
  return { path: `/${kind}`, httpOnly: true, sameSite: "Lax", secure } as const;
}

export function writeLinkCookie(c: Context, kind: LinkKind, token: string, expiresAt: number, now = Date.now()) {
  const maxAge = Math.max(1, Math.min(LINK_COOKIE_MAX_S, Math.floor((expiresAt - now) / 1000)));
  setCookie(c, NAME[kind], token, { ...options(c, kind), maxAge });
}

export function readLinkCookie(c: Context, kind: LinkKind): string {
  return getCookie(c, NAME[kind]) ?? "";
}

export function clearLinkCookie(c: Context, kind: LinkKind) {
  deleteCookie(c, NAME[kind], options(c, kind));
}
