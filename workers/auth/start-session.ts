// Signing a person in, after the password or the identity provider said yes: a fresh session (any
// old one in this browser revoked), in the organisation asked for or their first, at the stage
// their MFA state calls for.
import type { Context } from "hono";
import { membershipsOf, type User } from "./accounts.ts";
import { auditAccount } from "./audit.ts";
import {
  createSession,
  findSession,
  readSessionCookie,
  revokeSession,
  writeSessionCookie,
  type Stage,
} from "./sessions.ts";
import { safeNext } from "./sign-in.ts";
import type { WebEnv } from "./web-account.ts";

export async function startSession(
  c: Context<WebEnv>,
  user: Pick<User, "id" | "mfa_enabled_at">,
  next: string,
  options: { method: "password" | "sso"; tenantId?: string },
): Promise<Response> {
  const old = await findSession(c.env, readSessionCookie(c));
  if (old) await revokeSession(c.env, old.userId, old.id);
  const orgs = await membershipsOf(c.env, user.id);
  const org = orgs.find((o) => o.tenantId === options.tenantId) ?? orgs[0] ?? null;
  const stage: Stage = user.mfa_enabled_at !== null ? "mfa" : org?.mfaRequired ? "enrol" : "full";
  const token = await createSession(c.env, {
    userId: user.id,
    tenantId: org?.tenantId ?? null,
    stage,
    source: c.get("source"),
    agent: (c.req.header("user-agent") ?? "").slice(0, 200) || null,
  });
  writeSessionCookie(c, token);
  if (stage !== "mfa" && org) {
    const actor = { kind: "user", id: user.id } as const;
    const event = {
      type: "auth.signed_in",
      actor,
      subject: user.id,
      source: c.get("source"),
      data: { method: options.method },
    } as const;
    await auditAccount(c.env, [org.tenantId], event);
  }
  if (stage === "mfa") return c.redirect("/login/mfa", 303);
  if (stage === "enrol") return c.redirect("/account/mfa", 303);
  return c.redirect(safeNext(next), 303);
}
