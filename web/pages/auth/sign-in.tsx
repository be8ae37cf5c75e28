// Sign-up, sign-in, the second factor and sign-out. Each form posts without JavaScript; errors
// come back in the same page beside the field (or on top when they are not about one field).
import { CsrfField, Field, Notice } from "../../components/form.tsx";

export type FieldErrors = Partial<Record<string, string>>;

export function SignUpPage(p: { values?: Record<string, string>; errors?: FieldErrors; invite?: string }) {
  const v = p.values ?? {};
  const e = p.errors ?? {};
  return (
    <>
      <h1>Create your Outlay account</h1>
      <p class="lead">You will own a new organisation; invite your team once you are in.</p>
      {e.form && <Notice kind="error">{e.form}</Notice>}
      <form class="stack" method="post" action="/signup">
        <Field name="name" label="Your name" value={v.name} error={e.name} autocomplete="name" />
        <Field name="email" label="Email" type="email" value={v.email} error={e.email} autocomplete="email" />
        <Field
          name="organisation"
          label="Organisation name"
          value={v.organisation}
          error={e.organisation}
          autocomplete="organization"
        />
        <Field
          name="password"
          label="Password"
          type="password"
          error={e.password}
          hint="At least 12 characters. A long phrase is easiest to remember."
          autocomplete="new-password"
        />
        <button type="submit">Create account</button>
      </form>
      <p>
        Already have an account? <a href="/login">Sign in</a>
      </p>
    </>
  );
}

export function SignInPage(p: { email?: string; error?: string; next?: string; notice?: string }) {
  return (
    <>
      <h1>Sign in to Outlay</h1>
      {p.notice && <Notice kind="ok">{p.notice}</Notice>}
      {p.error && <Notice kind="error">{p.error}</Notice>}
      <form class="stack" method="post" action="/login">
        {p.next && <input type="hidden" name="next" value={p.next} />}
        <Field name="email" label="Email" type="email" value={p.email} autocomplete="username" />
        <Field name="password" label="Password" type="password" autocomplete="current-password" />
        <button type="submit">Sign in</button>
      </form>
      <p>
        <a href="/sso">Sign in with single sign-on</a> · <a href="/signup">Create an account</a>
      </p>
    </>
  );
}

export function MfaPage(p: { csrf: string; error?: string }) {
  return (
    <>
      <h1>Two-factor authentication</h1>
      <p class="lead">Enter the 6-digit code from your authenticator app, or one of your recovery codes.</p>
      {p.error && <Notice kind="error">{p.error}</Notice>}
      <form class="stack" method="post" action="/login/mfa">
        <CsrfField token={p.csrf} />
        <Field name="code" label="Code" autocomplete="one-time-code" inputmode="text" />
        <button type="submit">Verify</button>
      </form>
      <form method="post" action="/logout">
        <CsrfField token={p.csrf} />
        <button class="secondary" type="submit">
          Cancel and sign out
        </button>
      </form>
    </>
  );
}

export function SignOutPage(p: { csrf: string | null }) {
  return (
    <>
      <h1>Sign out</h1>
      {p.csrf ? (
        <form method="post" action="/logout">
          <CsrfField token={p.csrf} />
          <button type="submit">Sign out of this browser</button>
        </form>
      ) : (
        <p>
          You are signed out. <a href="/login">Sign in</a>
        </p>
      )}
    </>
  );
}
