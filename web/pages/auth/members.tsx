// /org/members: who is in the organisation, with what role; invitations; unlock and reset links
// (only for people who belong to no other organisation: their password is theirs everywhere).
import type { Role } from "../../../shared/roles.ts";
import { CsrfField, Field, Notice, PostButton, RoleSelect } from "../../components/form.tsx";
import { Table } from "../../components/table.tsx";

export type MemberRow = {
  userId: string;
  name: string;
  email: string;
  role: Role;
  mfa: boolean;
  /** belongs to another organisation too: no reset link or unlock from here */
  elsewhere: boolean;
  /** must wait before their next sign-in attempt (failed ones, theirs or someone's guessing) */
  waiting: boolean;
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

function MemberActions({ v, m }: { v: MembersView; m: MemberRow }) {
  const manageable = v.canManage && m.userId !== v.selfId && (m.role !== "owner" || v.assignable.includes("owner"));
  if (!manageable) return null;
  const base = `/org/members/${m.userId}`;
  return (
    <>
      <form class="inline" method="post" action={`${base}/role`}>
        <CsrfField token={v.csrf} />
        <RoleSelect roles={v.assignable} value={m.role} label={`Role of ${m.email}`} hint />
        <button class="secondary" type="submit">
          Change
        </button>
      </form>{" "}
      {!m.elsewhere && (
        <>
          {m.waiting && <PostButton action={`${base}/unlock`} csrf={v.csrf} label="Clear sign-in delays" />}{" "}
          <PostButton action={`${base}/reset-link`} csrf={v.csrf} label="Password reset link" />{" "}
        </>
      )}
      <PostButton action={`${base}/remove`} csrf={v.csrf} label="Remove" kind="danger" />
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
      <Table headers={["Name", "Email", "Role", "Two-factor"]} actions>
        {v.members.map((m) => (
          <tr>
            <td>
              {m.name} {m.waiting && <span class="badge warn">sign-in delayed</span>}{" "}
              {m.elsewhere && <span class="badge">also in another organisation</span>}
            </td>
            <td>{m.email}</td>
            <td>{m.role}</td>
            <td>{m.mfa ? <span class="badge ok">on</span> : <span class="badge warn">off</span>}</td>
            <td>
              <MemberActions v={v} m={m} />
            </td>
          </tr>
        ))}
      </Table>

      <h2>Invitations</h2>
      {v.invitations.length === 0 ? (
        <p>No open invitations.</p>
      ) : (
        <Table headers={["For", "Role", "Expires"]} actions>
          {v.invitations.map((i) => (
            <tr>
              <td>{i.email ?? "anyone with the link"}</td>
              <td>{i.role}</td>
              <td>{day(i.expiresAt)}</td>
              <td>
                {v.canManage && <PostButton action={`/org/invitations/${i.id}/revoke`} csrf={v.csrf} label="Revoke" />}
              </td>
            </tr>
          ))}
        </Table>
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
            <RoleSelect roles={v.assignable} value="member" label="Role" hint />
            <button type="submit">Make invitation link</button>
          </form>
        </section>
      )}
    </>
  );
}
