// /org/settings: time zone and locale, the MFA requirement, single sign-on, admin API tokens, closing the organisation.
import type { Role } from "../../../shared/roles.ts";
import type { AdminTokenListing } from "../../../workers/store/index.ts";
import { CsrfField, Field, Notice, PostButton, RoleSelect } from "../../components/form.tsx";
import { Table } from "../../components/table.tsx";

export type OrgSettingsView = {
  csrf: string;
  orgName: string;
  tenantId: string;
  mfaRequired: boolean;
  /** names of active admin tokens made by people without MFA (revoked when MFA becomes required) */
  tokensWithoutMfa: string[];
  canSecurity: boolean;
  canTokens: boolean;
  canClose: boolean;
  canConfig: boolean;
  timeZone: string;
  locale: string;
  assignable: Role[];
  callbackUrl: string;
  sso: { issuer: string; clientId: string; defaultRole: Role } | null;
  tokens: AdminTokenListing[];
};

export type SettingsMessages = {
  error?: string;
  notice?: string;
  token?: { name: string; value: string };
  /** the region form's own errors and what was typed, shown beside its fields */
  region?: { errors: Record<string, string>; values: Record<string, string> };
};

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function OrgSettingsPage(p: { view: OrgSettingsView } & SettingsMessages) {
  const v = p.view;
  return (
    <>
      <h1>{v.orgName}</h1>
      <p class="lead">Organisation id {v.tenantId}</p>
      {p.error && <Notice kind="error">{p.error}</Notice>}
      {p.notice && <Notice kind="ok">{p.notice}</Notice>}
      {p.token && (
        <Notice kind="warn">
          Admin token “{p.token.name}”. Copy it now: you will not see it again.
          <p class="secret">{p.token.value}</p>
        </Notice>
      )}

      <section class="card" aria-labelledby="region-h">
        <h2 id="region-h">Time zone and locale</h2>
        <p class="hint">
          Daily, weekly and monthly budgets follow the time zone; the dashboard writes dates in it and money in the
          locale.
        </p>
        {v.canConfig ? (
          <form class="stack" method="post" action="/org/settings/region">
            <CsrfField token={v.csrf} />
            <Field
              name="time_zone"
              label="Time zone"
              hint="An IANA name such as Europe/Berlin, America/New_York or UTC."
              value={p.region?.values.time_zone ?? v.timeZone}
              error={p.region?.errors.time_zone}
            />
            <Field
              name="locale"
              label="Locale"
              hint="Such as en-US, en-GB, de-DE or ja-JP."
              value={p.region?.values.locale ?? v.locale}
              error={p.region?.errors.locale}
            />
            <button type="submit">Save</button>
          </form>
        ) : (
          <p>
            {v.timeZone} · {v.locale}
          </p>
        )}
      </section>

      <section class="card" aria-labelledby="mfa-h">
        <h2 id="mfa-h">Two-factor authentication</h2>
        {v.canSecurity ? (
          <form class="stack" method="post" action="/org/settings/mfa">
            <CsrfField token={v.csrf} />
            <label class="check">
              <input type="checkbox" name="required" value="on" checked={v.mfaRequired} />
              Require two-factor authentication for every member
            </label>
            <span class="hint">
              Members without it must set it up at their next sign-in before they can do anything else. Admin API tokens
              made by someone who has no two-factor authentication are revoked when you turn this on; tokens made by
              people with it keep working.
            </span>
            {!v.mfaRequired && v.tokensWithoutMfa.length > 0 && (
              <Notice kind="warn">
                Turning this on revokes {v.tokensWithoutMfa.length === 1 ? "this token" : "these tokens"}:{" "}
                {v.tokensWithoutMfa.join(", ")}.
              </Notice>
            )}
            <button type="submit">Save</button>
          </form>
        ) : (
          <p>{v.mfaRequired ? "Required for every member." : "Not required."}</p>
        )}
      </section>

      <section class="card" aria-labelledby="sso-h">
        <h2 id="sso-h">Single sign-on (OpenID Connect)</h2>
        <p>
          Register this redirect URI with your identity provider: <span class="secret">{v.callbackUrl}</span>
        </p>
        <p>
          Members sign in at <a href={`/sso/${v.tenantId}`}>{`/sso/${v.tenantId}`}</a>.
        </p>
        {v.sso && (
          <p>
            <span class="badge ok">On</span> {v.sso.issuer} · client {v.sso.clientId} · new people join as{" "}
            {v.sso.defaultRole}
          </p>
        )}
        {v.canSecurity && (
          <>
            <form class="stack" method="post" action="/org/settings/sso">
              <CsrfField token={v.csrf} />
              <Field
                name="issuer"
                label="Issuer URL"
                type="url"
                value={v.sso?.issuer}
                hint="e.g. https://your-tenant.okta.com"
              />
              <Field name="client_id" label="Client id" value={v.sso?.clientId} />
              <Field
                name="client_secret"
                label="Client secret"
                type="password"
                autocomplete="off"
                hint={
                  v.sso ? "Stored encrypted and never shown again; enter it again to change the settings." : undefined
                }
              />
              <RoleSelect
                roles={v.assignable.filter((r) => r !== "owner")}
                value={v.sso?.defaultRole ?? "member"}
                name="default_role"
                label="Role of people who join through SSO"
              />
              <button type="submit">Save single sign-on</button>
            </form>
            {v.sso && (
              <form method="post" action="/org/settings/sso/remove">
                <CsrfField token={v.csrf} />
                <button class="danger" type="submit">
                  Turn off single sign-on
                </button>
              </form>
            )}
          </>
        )}
      </section>

      <section class="card" aria-labelledby="tokens-h">
        <h2 id="tokens-h">Admin API tokens</h2>
        <p>For scripts that use the management API (/api/v1). A token acts with the role it is given.</p>
        <Table headers={["Name", "Role", "Created", "Status"]} actions>
          {v.tokens.map((t) => (
            <tr>
              <td>{t.name}</td>
              <td>{t.role}</td>
              <td>{day(t.created_at)}</td>
              <td>
                {t.revoked_at === null ? <span class="badge ok">active</span> : <span class="badge">revoked</span>}
              </td>
              <td>
                {v.canTokens && t.revoked_at === null && (
                  <PostButton action={`/org/settings/tokens/${t.id}/revoke`} csrf={v.csrf} label="Revoke" />
                )}
              </td>
            </tr>
          ))}
        </Table>
        {v.canTokens && (
          <form class="inline" method="post" action="/org/settings/tokens">
            <CsrfField token={v.csrf} />
            <Field name="name" label="Token name" />
            <RoleSelect roles={v.assignable.filter((r) => r !== "owner")} value="viewer" name="role" label="Role" />
            <button type="submit">Create token</button>
          </form>
        )}
      </section>

      {v.canClose && (
        <section class="card" aria-labelledby="close-h">
          <h2 id="close-h">Close the organisation</h2>
          <p>
            Access stops at once for every member, key and token. All its data is deleted within 30 days. This cannot be
            undone.
          </p>
          <form class="stack" method="post" action="/org/settings/close">
            <CsrfField token={v.csrf} />
            <Field name="confirm" label={`Type the organisation name (${v.orgName}) to confirm`} />
            <button class="danger" type="submit">
              Close {v.orgName}
            </button>
          </form>
        </section>
      )}
    </>
  );
}
