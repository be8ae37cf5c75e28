// Form parts: every input has a label; a field's error sits beside it and is tied to it with
// aria-describedby; the CSRF token rides in a hidden field so forms work without JavaScript.
import type { Child } from "hono/jsx";

export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}

export type FieldProps = {
  name: string;
  label: string;
  type?: "text" | "email" | "password" | "url" | "date";
  value?: string;
  error?: string | null;
  hint?: string;
  autocomplete?: string;
  required?: boolean;
  inputmode?: "numeric" | "text";
  pattern?: string;
};

export function Field(p: FieldProps) {
  const errorId = `${p.name}-error`;
  return (
    <label>
      {p.label}
      {p.hint && <span class="hint">{p.hint}</span>}
      <input
        type={p.type ?? "text"}
        name={p.name}
        id={p.name}
        value={p.type === "password" ? undefined : p.value}
        autocomplete={p.autocomplete}
        required={p.required ?? true}
        inputmode={p.inputmode}
        pattern={p.pattern}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={p.error ? errorId : undefined}
      />
      {p.error && (
        <span class="field-error" id={errorId}>
          {p.error}
        </span>
      )}
    </label>
  );
}

export function Notice({ kind, children }: { kind?: "error" | "ok" | "warn"; children?: Child }) {
  return (
    <div class={kind ? `notice ${kind}` : "notice"} role={kind === "error" ? "alert" : "status"}>
      {children}
    </div>
  );
}

/** A one-button form that posts to `action` (sign out a session, revoke, remove …). */
export function PostButton(p: { action: string; csrf: string; label: string; kind?: "secondary" | "danger" }) {
  return (
    <form class="inline" method="post" action={p.action}>
      <CsrfField token={p.csrf} />
      <button class={p.kind ?? "secondary"} type="submit">
        {p.label}
      </button>
    </form>
  );
}

/** A role picker; with `hint` its label is the small kind (inside a row of buttons). */
export function RoleSelect(p: {
  roles: readonly string[];
  value?: string;
  name?: string;
  label: string;
  hint?: boolean;
}) {
  return (
    <label>
      {p.hint ? <span class="hint">{p.label}</span> : p.label}
      <select name={p.name ?? "role"}>
        {p.roles.map((r) => (
          <option value={r} selected={r === p.value}>
            {r}
          </option>
        ))}
      </select>
    </label>
  );
}
