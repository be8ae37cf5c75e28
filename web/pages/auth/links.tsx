// Pages reached by a link: an invitation, a password reset, single sign-on, and dead links. The
// invitation and reset pages are the token-free /invite and /reset (the token rides in a cookie).
import { CsrfField, Field, Notice } from "../../components/form.tsx";
import type { FieldErrors } from "./sign-in.tsx";

export function DeadLinkPage({ what }: { what: string }) {
  return (
    <>
      <h1>This link does not work</h1>
      <p>This {what} link was already used, has expired or was withdrawn. Ask the person who sent it for a new one.</p>
      <p>
        <a href="/login">Sign in</a>
      </p>
    </>
  );
}

export type InvitationView = { orgName: string; role: string; email: string | null };

export function InvitationPage(p: {
  view: InvitationView;
  signedInAs: { email: string; csrf: string } | null;
  values?: Record<string, string>;
  errors?: FieldErrors;
}) {
  const v = p.view;
  const e = p.errors ?? {};
  const action = "/invite";
  return (
    <>
      <h1>Join {v.orgName}</h1>
      <p class="lead">
        You are invited as {v.role === "admin" ? "an" : "a"} {v.role}.
      </p>
      {e.form && <Notice kind="error">{e.form}</Notice>}
      {p.signedInAs ? (
        <form class="stack" method="post" action={action}>
          <CsrfField token={p.signedInAs.csrf} />
          <p>You are signed in as {p.signedInAs.email}.</p>
          <button type="submit">Join {v.orgName}</button>
        </form>
      ) : (
        <>
          <p>
            Have an account? <a href={`/login?next=${encodeURIComponent(action)}`}>Sign in</a> and open this link again.
          </p>
          <h2>New to Outlay? Create your account</h2>
          <form class="stack" method="post" action={action}>
            <Field name="name" label="Your name" value={p.values?.name} error={e.name} autocomplete="name" />
            <Field
              name="email"
              label="Email"
              type="email"
              value={p.values?.email ?? v.email ?? undefined}
              error={e.email}
              autocomplete="email"
            />
            <Field
              name="password"
              label="Password"
              type="password"
              error={e.password}
              hint="At least 12 characters."
              autocomplete="new-password"
            />
            <button type="submit">Create account and join</button>
          </form>
        </>
      )}
    </>
  );
}

export function ResetPage(p: { email: string; error?: string }) {
  return (
    <>
      <h1>Choose a new password</h1>
      <p class="lead">For {p.email}. Setting it clears any sign-in delays, and all your sessions are signed out.</p>
      <form class="stack" method="post" action="/reset">
        <Field
          name="password"
          label="New password"
          type="password"
          error={p.error}
          hint="At least 12 characters."
          autocomplete="new-password"
        />
        <button type="submit">Set password</button>
      </form>
    </>
  );
}

export function SsoStartPage(p: { error?: string; tenantId?: string }) {
  return (
    <>
      <h1>Single sign-on</h1>
      {p.error && <Notice kind="error">{p.error}</Notice>}
      <form class="stack" method="get" action="/sso/start">
        <Field
          name="org"
          label="Organisation id"
          value={p.tenantId}
          hint="Your admin can find it under Organisation."
        />
        <button type="submit">Continue to your identity provider</button>
      </form>
      <p>
        <a href="/login">Sign in with a password instead</a>
      </p>
    </>
  );
}
