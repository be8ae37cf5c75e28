// One audit event as a row of /activity: what happened, who did it (a key's name and prefix, a
// member's email, an admin token's name, or Outlay itself), what it was about (a rule linked to its
// page, a key, a provider, a member) and its details. Audit data holds metadata only (names, codes,
// amounts, hints), so whatever is shown here was already safe to store.
import type { AuditRow } from "../store/index.ts";
import type { Format } from "../../web/format.ts";
import { REFUSAL_CODES, type ActivityRow, type Link } from "../../web/pages/activity.tsx";

/** Names from this organisation's own rows (looked up by the ids on the page). */
export type Lookups = {
  keys: Map<string, { name: string; prefix: string }>;
  rules: Map<string, { kind: string; name: string }>;
  users: Map<string, string>;
  tokens: Map<string, string>;
};

type Data = Record<string, unknown>;
type Tools = { time(ms: number): string; f: Format };

const LABELS: Record<string, string> = {
  "call.admitted": "Admitted",
  "budget.threshold": "Budget threshold",
  "hold.expired": "Hold expired",
  "lease.granted": "Lease granted",
  "key.created": "Key created",
  "key.revoked": "Key revoked",
  "key.rotated": "Key rotated",
  "provider.set": "Provider credential saved",
  "provider.deleted": "Provider credential removed",
  "settings.updated": "Settings changed",
  "auth.signed_in": "Signed in",
  "auth.sign_in_failed": "Sign-in failed",
  "auth.locked": "Account locked",
  "auth.unlocked": "Account unlocked",
  "auth.password_changed": "Password changed",
  "auth.password_reset_issued": "Reset link made",
  "auth.password_reset": "Password reset",
  "mfa.enrolled": "Two-factor turned on",
  "mfa.removed": "Two-factor turned off",
  "mfa.recovery_code_used": "Recovery code used",
  "mfa.recovery_codes_regenerated": "New recovery codes",
  "session.revoked": "Session signed out",
  "member.invited": "Member invited",
  "member.invitation_revoked": "Invitation revoked",
  "member.joined": "Member joined",
  "member.role_changed": "Role changed",
  "member.removed": "Member removed",
  "token.created": "API token created",
  "token.revoked": "API token revoked",
  "org.mfa_requirement_changed": "Two-factor requirement changed",
  "org.sso_configured": "Single sign-on configured",
  "org.sso_removed": "Single sign-on removed",
  "org.closed": "Organisation closed",
  "webhook.created": "Webhook endpoint added",
  "webhook.updated": "Webhook endpoint changed",
  "webhook.deleted": "Webhook endpoint removed",
  "webhook.secret_rotated": "Webhook secret rotated",
  "webhook.disabled": "Webhook endpoint disabled",
  "cloud.import_created": "Cloud bill import started",
  "cloud.connection_saved": "AWS connection saved",
  "cloud.connection_deleted": "AWS connection removed",
  "cloud.connection_cut": "AWS connection cut off",
  "access.dashboard": "Dashboard page",
  "access.api": "API request",
  "access.operator": "Operator request",
};

const RULES: Record<string, { label: string; path: string }> = {
  budget: { label: "Budget", path: "/budgets" },
  policy: { label: "Policy", path: "/policies" },
  rate_limit: { label: "Rate limit", path: "/rate-limits" },
};

const TONES: Record<string, ActivityRow["tone"]> = {
  "call.refused": "danger",
  "budget.threshold": "warn",
  "hold.expired": "warn",
  "call.admitted": "ok",
  "auth.sign_in_failed": "warn",
  "auth.locked": "danger",
};

function text(value: unknown): string | null {
  if (typeof value === "string") return value.length > 80 ? `${value.slice(0, 79)}…` : value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map((v) => text(v) ?? "").join(", ");
  return null;
}

function usd(f: Format, value: unknown): string | null {
  return typeof value === "string" && /^-?\d{1,30}$/.test(value) ? f.usd(BigInt(value)) : null;
}

function keyLink(l: Lookups, id: string): Link {
  const key = l.keys.get(id);
  return key ? { text: key.name, code: `${key.prefix}…` } : { text: "unknown key", code: id };
}

function ruleLink(l: Lookups, id: string, data: Data, fallbackKind = ""): Link {
  const rule = l.rules.get(id);
  const kind = RULES[rule?.kind ?? text(data.kind) ?? fallbackKind];
  if (rule && kind) return { text: `${kind.label} “${rule.name}”`, href: `${kind.path}/${id}` };
  const name = text(data.name);
  return { text: `${kind?.label ?? "Rule"} ${name ? `“${name}” ` : ""}(deleted)` };
}

function who(r: AuditRow, l: Lookups): Link {
  const id = r.actor_id ?? "";
  if (r.actor_kind === "key") return keyLink(l, id);
  if (r.actor_kind === "user") return { text: l.users.get(id) ?? "a former member" };
  if (r.actor_kind === "admin") {
    const name = l.tokens.get(id);
    return name ? { text: `API token “${name}”` } : { text: "an API token", code: id };
  }
  if (r.actor_kind === "operator") return { text: "the operator" };
  return { text: "Outlay" };
}

function about(r: AuditRow, data: Data, l: Lookups): Link | null {
  const s = r.subject;
  if (r.type === "hold.expired") return typeof data.keyId === "string" ? keyLink(l, data.keyId) : null;
  if (!s) return null;
  const group = r.type.split(".")[0];
  if (group === "call" || group === "budget" || group === "rule") {
    return ruleLink(l, s, data, group === "budget" ? "budget" : "");
  }
  if (group === "lease") return null;
  if (group === "key") return keyLink(l, s);
  if (group === "provider") return { text: s, href: "/providers" };
  if (group === "token") return { text: `API token “${l.tokens.get(s) ?? text(data.name) ?? s}”` };
  if (group === "org") return { text: "the organisation" };
  if (r.type === "session.revoked") return { text: "a session" };
  if (r.type === "member.invited" || r.type === "member.invitation_revoked") return { text: "an invitation" };
  const email = l.users.get(s);
  return { text: email ?? "a former member" };
}

function call(data: Data, r: AuditRow): string[] {
  const target = [text(data.provider), text(data.model)].filter(Boolean).join(" · ");
  return [target, r.request_id ? `request ${r.request_id}` : ""].filter(Boolean);
}

function details(r: AuditRow, data: Data, t: Tools): string[] {
  const { f } = t;
  switch (r.type) {
    case "call.refused":
      return [...(data.reason ? [`key ${text(data.reason)}`] : []), ...call(data, r)];
    case "call.admitted": {
      const held = usd(f, data.heldNanoUsd);
      return [...call(data, r), ...(held ? [`${held} held`] : [])];
    }
    case "budget.threshold": {
      const limit = usd(f, data.limitNanoUsd);
      const spent = usd(f, data.spentNanoUsd);
      return [
        `${text(data.percent) ?? "?"}% of ${limit ?? "the limit"}${data.mode === "alert" ? " (alert only)" : ""}`,
        ...(spent ? [`${spent} spent`] : []),
      ];
    }
    case "hold.expired":
      return [
        `${usd(f, data.heldNanoUsd) ?? "a hold"} released unsettled`,
        ...(r.request_id ? [`request ${r.request_id}`] : []),
      ];
    case "provider.set":
      return [
        data.replaced === true ? "replaced" : "added",
        `key ${text(data.keyHint) ?? "…"}`,
        typeof data.baseUrl === "string" ? `base URL ${text(data.baseUrl)}` : "default base URL",
      ];
    case "key.created":
      return typeof data.expiresAt === "number" ? [`expires ${t.time(data.expiresAt)}`] : [];
    case "key.rotated":
      return [
        `new secret …${text(data.hint) ?? ""}`,
        ...(typeof data.graceUntil === "number" ? [`old secret valid until ${t.time(data.graceUntil)}`] : []),
      ];
    case "member.role_changed":
      return [`${text(data.from) ?? "?"} → ${text(data.to) ?? "?"}`];
    case "access.dashboard":
    case "access.api":
    case "access.operator":
      return [
        `${text(data.method) ?? "?"} ${text(data.route) ?? "?"}`,
        `status ${text(data.status) ?? "?"}`,
        `from ${text(data.source) ?? "unknown"}`,
      ];
    default: {
      const source = text(data.source);
      const rest = Object.entries(data)
        .filter(([k]) => k !== "source" && k !== "kind" && k !== "name")
        .flatMap(([k, v]) => {
          const shown = text(v);
          return shown === null || shown === "" ? [] : [`${k}: ${shown}`];
        })
        .slice(0, 6);
      return [...rest, ...(source ? [`from ${source}`] : [])];
    }
  }
}

function label(r: AuditRow, data: Data): string {
  if (r.type === "call.refused") {
    const code = REFUSAL_CODES.find((c) => c.value === data.code);
    return `Refused: ${code ? code.label.toLowerCase() : (text(data.code) ?? "refused")}`;
  }
  if (r.type.startsWith("rule.")) {
    const kind = RULES[text(data.kind) ?? ""]?.label ?? "Rule";
    return `${kind} ${r.type.slice(5)}`;
  }
  return LABELS[r.type] ?? r.type;
}

/** The event's data object ({} if it is not one). */
export function eventData(r: AuditRow): Data {
  try {
    const parsed: unknown = JSON.parse(r.data);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Data) : {};
  } catch {
    return {};
  }
}

export function describeEvent(r: AuditRow, l: Lookups, t: Tools): ActivityRow {
  const data = eventData(r);
  return {
    seq: r.seq,
    time: t.time(r.at),
    label: label(r, data),
    tone: TONES[r.type] ?? null,
    who: who(r, l),
    subject: about(r, data, l),
    details: details(r, data, t),
  };
}
