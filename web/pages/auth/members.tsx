// /org/members: who is in the organisation, with what role; invitations; unlock and reset links.
import type { Role } from "../../../workers/auth/roles.ts";
import { CsrfField, Field, Notice } from "../../components/form.tsx";

export type MemberRow = {
  userId: string;
  name: string;
  email: string;
  role: Role;
  mfa: boolean;
  locked: boolean;
};

export type InvitationRow = { id: string; email: string | null; role: Role; expiresAt: number };

export type MembersView = {
  csrf: string;
  orgName: string;
  selfId: string;
  canManage: boolean;
  assignable: Role[];
  members: MemberRow[];
  invitations: InvitationRow[];
};

function day(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function RoleSelect({ roles, value, label }: { roles: Role[]; value?: Role; label: string }) {
  return (
    <label>
      <span class="hint">{label}</span>
      <select name="role">
        {roles.map((r) => (
          <option value={r} selected={r === value}>
            {r}
          </option>
        ))}
      </select>
    </label>
  );
}

function MemberActions({ v, m }: { v: MembersView; m: MemberRow }) {
  const manageable = v.canManage && m.userId !== v.selfId && (m.role !== "owner" || v.assignable.includes("owner"));
  if (!manageable) return null;
  const base = `/org/members/${m.userId}`;
  return (
    <>
      <form class="inline" method="post" action={`${base}/role`}>
        <CsrfField token={v.csrf} />
        <RoleSelect roles={v.assignable} value={m.role} label={`Role of ${m.email}`} />
        <button class="secondary" type="submit">
          Change
        </button>
      </form>{" "}
      {m.locked && (
        <form class="inline" method="post" action={`${base}/unlock`}>
          <CsrfField token={v.csrf} />
          <button class="secondary" type="submit">
            Unlock
          </button>
        </form>
      )}{" "}
      <form class="inline" method="post" action={`${base}/reset-link`}>
        <CsrfField token={v.csrf} />
        <button class="secondary" type="submit">
          Password reset link
        </button>
      </form>{" "}
      <form class="inline" method="post" action={`${base}/remove`}>
        <CsrfField token={v.csrf} />
        <button class="danger" type="submit">
          Remove
        </button>
      </form>
    </>
  );
}

export function MembersPage(p: {
  view: MembersView;
  link?: { label: string; url: string };
  error?: string;
  notice?: string;
}) {
  const v = p.view;
  return (
    <>
      <h1>Members of {v.orgName}</h1>
      {p.error && <Notice kind="error">{p.error}</Notice>}
      {p.notice && <Notice kind="ok">{p.notice}</Notice>}
      {p.link && (
        <Notice kind="warn">
          {p.link.label} Copy it now: it is shown once.
          <p class="secret">{p.link.url}</p>
        </Notice>
      )}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Two-factor</th>
              <th scope="col">
                <span class="skip">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {v.members.map((m) => (
              <tr>
                <td>
                  {m.name} {m.locked && <span class="badge danger">locked</span>}
                </td>
                <td>{m.email}</td>
                <td>{m.role}</td>
                <td>{m.mfa ? <span class="badge ok">on</span> : <span class="badge warn">off</span>}</td>
                <td>
                  <MemberActions v={v} m={m} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      <h2>Invitations</h2>
      {v.invitations.length === 0 ? (
        <p>No open invitations.</p>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">For</th>
                <th scope="col">Role</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span class="skip">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {v.invitations.map((i) => (
                <tr>
                  <td>{i.email ?? "anyone with the link"}</td>
                  <td>{i.role}</td>
                  <td>{day(i.expiresAt)}</td>
                  <td>
                    {v.canManage && (
                      <form class="inline" method="post" action={`/org/invitations/${i.id}/revoke`}>
                        <CsrfField token={v.csrf} />
                        <button class="secondary" type="submit">
                          Revoke
                        </button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {v.canManage && (
        <section class="card">
          <h2>Invite someone</h2>
          <form class="stack" method="post" action="/org/invitations">
            <CsrfField token={v.csrf} />
            <Field
              name="email"
              label="Their email"
              type="email"
              required={false}
              hint="Optional: when set, only this address can accept."
            />
            <RoleSelect roles={v.assignable} value="member" label="Role" />
            <button type="submit">Make invitation link</button>
          </form>
        </section>
      )}
    </>
  );
}
