// Audit events of account actions (sign-ins, MFA, sessions, members, tokens, SSO). They go
// through the organisation's ledger, so they join its one ordered trail of events (and reach D1,
// the archive and webhooks the same way); `data.source` is the address the action came from.
import type { AuditActor, AuditType } from "../../shared/audit.ts";
import type { Context } from "hono";
import { ledgerFor } from "../ledger/index.ts";
import { signedInOrg, type WebEnv } from "./web-account.ts";

export type AccountEvent = {
  type: AuditType;
  actor: AuditActor;
  /** the person, member, invitation, token or session the action was about */
  subject: string | null;
  source: string;
  data?: Record<string, string | number | boolean | null>;
};

export async function auditAccount(env: Env, tenantIds: readonly string[], e: AccountEvent, now = Date.now()) {
  await Promise.all(
    tenantIds.map((tenantId) =>
      ledgerFor(env, tenantId).recordAudit({
        tenantId,
        drafts: [
          {
            at: now,
            type: e.type,
            actor: e.actor,
            requestId: null,
            subject: e.subject,
            data: { ...e.data, source: e.source },
          },
        ],
      }),
    ),
  );
}

/** An action by the signed-in person in their current organisation. */
export function auditInOrg(c: Context<WebEnv>, e: Omit<AccountEvent, "actor" | "source">) {
  const { a, org } = signedInOrg(c);
  return auditAccount(c.env, [org.tenantId], { ...e, actor: { kind: "user", id: a.user.id }, source: c.get("source") });
}
