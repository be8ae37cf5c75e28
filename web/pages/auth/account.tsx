// /account: profile, password, two-factor authentication, recovery codes, sessions.
import type { Session } from "../../../workers/auth/index.ts";
import { CsrfField, Field, Notice, PostButton } from "../../components/form.tsx";
import { Table } from "../../components/table.tsx";
import type { FieldErrors } from "./sign-in.tsx";

export type AccountView = {
  csrf: string;
  email: string;
  name: string;
  mfaEnabled: boolean;
  mfaRequiredBy: string[];
  hasPassword: boolean;
  recoveryCodesLeft: number;
  sessions: Session[];
  currentSessionId: string;
  orgs: { name: string; role: string }[];
};

function when(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

export function AccountPage(p: { view: AccountView; notice?: string; errors?: FieldErrors }) {
  const v = p.view;
  const e = p.errors ?? {};
  return (
    <>
      <h1>Your account</h1>
      <p class="lead">
        {v.name} · {v.email}
      </p>
      {p.notice && <Notice kind="ok">{p.notice}</Notice>}
      {e.form && <Notice kind="error">{e.form}</Notice>}

      <section class="card" aria-labelledby="orgs-h">
        <h2 id="orgs-h">Organisations</h2>
        {v.orgs.length === 0 ? (
          <p>You do not belong to any organisation. Ask an admin for an invitation link.</p>
        ) : (
          <ul>
            {v.orgs.map((o) => (
              <li>
                {o.name} <span class="badge">{o.role}</span>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section class="card" aria-labelledby="mfa-h">
        <h2 id="mfa-h">Two-factor authentication</h2>
        {v.mfaEnabled ? (
          <>
            <p>
              <span class="badge ok">On</span> Sign-in asks for a code from your authenticator app.{" "}
              {v.recoveryCodesLeft} of 10 recovery codes left.
            </p>
            <p>
              <a href="/account/mfa">Manage two-factor authentication</a>
            </p>
          </>
        ) : (
          <p>
            <span class="badge warn">Off</span> <a href="/account/mfa">Set up an authenticator app</a>
            {v.mfaRequiredBy.length > 0 && <> — required by {v.mfaRequiredBy.join(", ")}</>}
          </p>
        )}
      </section>

      {v.hasPassword && (
        <section class="card" aria-labelledby="pw-h">
          <h2 id="pw-h">Change password</h2>
          <form class="stack" method="post" action="/account/password">
            <CsrfField token={v.csrf} />
            <Field
              name="current"
              label="Current password"
              type="password"
              error={e.current}
              autocomplete="current-password"
            />
            <Field
              name="password"
              label="New password"
              type="password"
              error={e.password}
              hint="At least 12 characters. Your other sessions are signed out."
              autocomplete="new-password"
            />
            <button type="submit">Change password</button>
          </form>
        </section>
      )}

      <section class="card" aria-labelledby="sessions-h">
        <h2 id="sessions-h">Where you are signed in</h2>
        <Table headers={["Started", "Last active", "Address", "Browser"]} actions>
          {v.sessions.map((s) => (
            <tr>
              <td>{when(s.createdAt)}</td>
              <td>{when(s.lastSeenAt)}</td>
              <td>{s.source ?? "unknown"}</td>
              <td>{s.agent ?? "unknown"}</td>
              <td>
                {s.id === v.currentSessionId ? (
                  <span class="badge ok">This browser</span>
                ) : (
                  <PostButton action={`/account/sessions/${s.id}/revoke`} csrf={v.csrf} label="Sign out" />
                )}
              </td>
            </tr>
          ))}
        </Table>
        <form method="post" action="/account/sessions/revoke-all">
          <CsrfField token={v.csrf} />
          <button class="danger" type="submit">
            Sign out everywhere
          </button>
        </form>
      </section>
    </>
  );
}

export type MfaView = {
  csrf: string;
  enabled: boolean;
  required: boolean;
  pending: { uri: string; secret: string; qr: string } | null;
};

export function MfaSetupPage(p: { view: MfaView; error?: string; codes?: string[] }) {
  const v = p.view;
  return (
    <>
      <h1>Two-factor authentication</h1>
      {v.required && !v.enabled && (
        <Notice kind="warn">Your organisation requires two-factor authentication. Set it up to continue.</Notice>
      )}
      {p.error && <Notice kind="error">{p.error}</Notice>}
      {p.codes && <RecoveryCodes codes={p.codes} />}
      {v.enabled && !p.codes && (
        <>
          <p>
            <span class="badge ok">On</span> Sign-in asks for a code from your authenticator app.
          </p>
          <section class="card">
            <h2>New recovery codes</h2>
            <p>Makes ten new codes; the old ones stop working.</p>
            <form class="stack" method="post" action="/account/recovery-codes">
              <CsrfField token={v.csrf} />
              <Field name="password" label="Your password" type="password" autocomplete="current-password" />
              <button type="submit">Make new recovery codes</button>
            </form>
          </section>
          {!v.required && (
            <section class="card">
              <h2>Turn off</h2>
              <form class="stack" method="post" action="/account/mfa/remove">
                <CsrfField token={v.csrf} />
                <Field name="password" label="Your password" type="password" autocomplete="current-password" />
                <Field name="code" label="A current code" autocomplete="one-time-code" />
                <button class="danger" type="submit">
                  Turn off two-factor authentication
                </button>
              </form>
            </section>
          )}
        </>
      )}
      {!v.enabled && v.pending && (
        <section class="card">
          <h2>Scan this code with your authenticator app</h2>
          <img class="qr" src={v.pending.qr} alt="QR code of the setup key below" width={200} height={200} />
          <p>Or enter this setup key by hand:</p>
          <p class="secret">{v.pending.secret}</p>
          <details>
            <summary>Setup link</summary>
            <p class="secret">{v.pending.uri}</p>
          </details>
          <form class="stack" method="post" action="/account/mfa/confirm">
            <CsrfField token={v.csrf} />
            <Field
              name="code"
              label="The 6-digit code the app shows"
              autocomplete="one-time-code"
              inputmode="numeric"
              pattern="[0-9 ]{6,7}"
            />
            <button type="submit">Turn on</button>
          </form>
        </section>
      )}
      {!v.enabled && !v.pending && (
        <form method="post" action="/account/mfa/start">
          <CsrfField token={v.csrf} />
          <p>You need an authenticator app (1Password, Google Authenticator, Authy, ...).</p>
          <button type="submit">Set up an authenticator app</button>
        </form>
      )}
      <p>
        <a href="/account">Back to your account</a>
      </p>
    </>
  );
}

export function RecoveryCodes({ codes }: { codes: string[] }) {
  return (
    <section class="card" aria-labelledby="codes-h">
      <h2 id="codes-h">Your recovery codes</h2>
      <Notice kind="warn">
        Save these now: you will not see them again. Each signs you in once if you lose your authenticator app.
      </Notice>
      <ol class="codes">
        {codes.map((code) => (
          <li>{code}</li>
        ))}
      </ol>
      <p>
        <a class="button" href="/">
          I have saved them
        </a>
      </p>
    </section>
  );
}
