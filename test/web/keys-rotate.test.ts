// /keys/{id}/rotate: a confirmation page with the grace period, then the new key shown once
// (no-store); the old key keeps working for the grace period; a form sent twice rotates once;
// members rotate only their own keys; another organisation's key is not found; CSRF; revoked
// keys are not rotated; no secret or hash reaches D1 or the audit trail.
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { keyHash } from "../../shared/crypto.ts";
import { worker } from "../helpers.ts";
import { addMember, newOrg, waitForAudit } from "../auth/orgs.ts";
import { callStatus, createKey, KEY, keyId, keyRow, withProvider, type Browser } from "./keys-support.ts";

const ROTATION_ID = /name="rotation_id" value="([a-z2-7]{12})"/;

/** Opens the confirmation page and sends its form with `grace` (seconds). */
async function rotate(b: Browser, id: string, grace: string, rotationId?: string) {
  const confirm = await b.get(`/keys/${id}/rotate`);
  const sentId = rotationId ?? ROTATION_ID.exec(confirm.html)?.[1] ?? "";
  const page = await b.post(`/keys/${id}/rotate`, { grace, rotation_id: sentId });
  return { confirm, page, rotationId: sentId, key: KEY.exec(page.html)?.[0] ?? null };
}

const hint = (key: string | null) => (key ?? "").slice(-4);

async function rotatedCount(tenantId: string, id: string): Promise<number> {
  const row = await env.DB.prepare(
    "SELECT COUNT(*) AS n FROM audit_events WHERE tenant_id = ? AND type = 'key.rotated' AND subject = ?",
  )
    .bind(tenantId, id)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** The key.rotated audit event that gave key `id` the secret ending in `newHint`. */
async function rotationAudit(tenantId: string, id: string, newHint: string): Promise<Record<string, unknown>> {
  const until = Date.now() + 5_000;
  for (;;) {
    const rows = await env.DB.prepare(
      "SELECT data FROM audit_events WHERE tenant_id = ? AND type = 'key.rotated' AND subject = ?",
    )
      .bind(tenantId, id)
      .all<{ data: string }>();
    const found = rows.results
      .map((r) => JSON.parse(r.data) as Record<string, unknown>)
      .find((d) => d.hint === newHint);
    if (found) return found;
    if (Date.now() > until) throw new Error(`no key.rotated event to …${newHint}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("/keys/{id}/rotate", () => {
  it("confirms, shows the new key once, and keeps the old one working for the grace period", async () => {
    const org = await newOrg("Rotate");
    await withProvider(org);
    const { key: first } = await createKey(org.owner.b, { name: "search prod" });
    const id = keyId(first);
    expect(await callStatus(first ?? "")).toBe(200);

    const { confirm, page, key: second } = await rotate(org.owner.b, id, "3600");
    expect(confirm.status).toBe(200);
    expect(confirm.html).toContain("Rotate “search prod”?");
    expect(confirm.html).toContain(`_…${hint(first)}`);
    expect(confirm.html).toContain('<option value="86400" selected="">24 hours</option>');
    expect(confirm.html).toContain("data-submit-once");
    expect(confirm.html).not.toContain("still accepted until");

    expect(page.status).toBe(200);
    expect(page.headers.get("cache-control")).toBe("no-store");
    expect(page.html).toContain("you will not see it again");
    expect(page.html).toContain(`The previous key …${hint(first)} keeps working until`);
    expect(second).not.toBeNull();
    expect(second).not.toBe(first);
    expect(keyId(second)).toBe(id);

    const row = await keyRow(org.tenantId, first ?? "");
    expect(row).toMatchObject({ secret_hint: hint(second), previous_hint: hint(first), revoked_at: null });
    expect((row?.previous_until ?? 0) - (row?.rotated_at ?? 0)).toBe(3_600_000);
    const audit = await waitForAudit(org.tenantId, "key.rotated", id);
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: org.owner.userId });
    expect(audit.parsed).toMatchObject({
      prefix: row?.prefix,
      hint: hint(second),
      previousHint: hint(first),
      graceUntil: row?.previous_until,
      supersededHint: null,
    });

    const list = await org.owner.b.get("/keys");
    expect(list.html).toContain(`_…${hint(second)}`);
    expect(list.html).toMatch(
      new RegExp(`rotated [^<]+, previous key <code>…${hint(first)}</code> valid until [^<]+<`),
    );
    expect(list.html).not.toContain(second ?? "?");
    expect(await callStatus(first ?? "")).toBe(200);
    expect(await callStatus(second ?? "")).toBe(200);

    // Rotating again while the grace runs: the page warns, and the first key ends at once.
    const { confirm: warned, page: ended, key: third } = await rotate(org.owner.b, id, "0");
    expect(warned.html).toContain(`The previous key …${hint(first)} is still accepted until`);
    expect(warned.html).toContain("Rotating again ends it at once");
    expect(ended.html).toContain(`The previous key …${hint(second)} stopped working now.`);
    expect(await callStatus(first ?? "")).toBe(401);
    expect(await callStatus(second ?? "")).toBe(401);
    expect(await callStatus(third ?? "")).toBe(200);
    const again = await rotationAudit(org.tenantId, id, hint(third));
    expect(again).toMatchObject({ hint: hint(third), previousHint: hint(second), supersededHint: hint(first) });
    expect((await org.owner.b.get("/keys")).html).not.toContain("valid until");
  });

  it("a form sent twice rotates once and says the new key cannot be shown again", async () => {
    const org = await newOrg("RotateTwice");
    const { key } = await createKey(org.owner.b, { name: "twice" });
    const id = keyId(key);
    const once = await rotate(org.owner.b, id, "86400");
    expect(once.key).not.toBeNull();
    const before = await keyRow(org.tenantId, key ?? "");
    const twice = await org.owner.b.post(`/keys/${id}/rotate`, { grace: "0", rotation_id: once.rotationId });
    expect(twice.status).toBe(200);
    expect(twice.html).toContain("was already rotated by this form");
    expect(twice.html).toContain("cannot be shown again");
    expect(twice.html).toContain(`href="/keys/${id}/rotate"`);
    expect(KEY.exec(twice.html)).toBeNull();
    expect(await keyRow(org.tenantId, key ?? "")).toEqual(before);
    await waitForAudit(org.tenantId, "key.rotated", id);
    // A later event of the same ledger: once it is stored, a second rotation's would have been.
    const later = await createKey(org.owner.b, { name: "later" });
    await waitForAudit(org.tenantId, "key.created", keyId(later.key));
    expect(await rotatedCount(org.tenantId, id)).toBe(1);
  });

  it("members rotate the keys they created, not others'; viewers cannot", async () => {
    const org = await newOrg("RotateRoles");
    const member = await addMember(org, "member");
    const viewer = await addMember(org, "viewer");
    const owners = await createKey(org.owner.b, { name: "owner's" });
    const mine = await createKey(member.b, { name: "member's" });
    const ownersId = keyId(owners.key);

    const list = await member.b.get("/keys");
    expect(list.html).toContain(`/keys/${keyId(mine.key)}/rotate`);
    expect(list.html).not.toContain(`/keys/${ownersId}/rotate`);
    const look = await member.b.get(`/keys/${ownersId}/rotate`);
    expect(look.status).toBe(200);
    expect(look.html).toContain("Only owners, admins and the person who created this key may rotate it.");
    expect(look.html).not.toContain('name="rotation_id"');
    const refused = await member.b.post(`/keys/${ownersId}/rotate`, { grace: "0", rotation_id: "aaaaaaaaaaaa" });
    expect(refused.status).toBe(403);
    expect(refused.html).toContain("Your role (member) may not do this");
    expect((await keyRow(org.tenantId, owners.key ?? ""))?.rotated_at).toBeNull();

    const own = await rotate(member.b, keyId(mine.key), "3600");
    expect(own.page.status).toBe(200);
    expect(own.key).not.toBeNull();
    const audit = await waitForAudit(org.tenantId, "key.rotated", keyId(mine.key));
    expect(audit).toMatchObject({ actor_kind: "user", actor_id: member.userId });

    await viewer.b.get("/keys");
    const viewers = await viewer.b.post(`/keys/${ownersId}/rotate`, { grace: "0", rotation_id: "aaaaaaaaaaaa" });
    expect(viewers.status).toBe(403);
    expect((await keyRow(org.tenantId, owners.key ?? ""))?.rotated_at).toBeNull();
  });

  it("never shows or rotates another organisation's key", async () => {
    const a = await newOrg("RotateA");
    const b = await newOrg("RotateB");
    const theirs = await createKey(b.owner.b, { name: "B's key" });
    const id = keyId(theirs.key);
    const look = await a.owner.b.get(`/keys/${id}/rotate`);
    expect(look.location).toBe("/keys");
    expect(look.html).not.toContain("B&#39;s key");
    await a.owner.b.get("/keys");
    const post = await a.owner.b.post(`/keys/${id}/rotate`, { grace: "0", rotation_id: "aaaaaaaaaaaa" });
    expect(post.status).toBe(404);
    expect((await keyRow(b.tenantId, theirs.key ?? ""))?.rotated_at).toBeNull();
  });

  it("needs a session and the session's CSRF token", async () => {
    const org = await newOrg("RotateCsrf");
    const { key } = await createKey(org.owner.b, { name: "csrf" });
    const id = keyId(key);
    const anonymous = await worker(`/keys/${id}/rotate`, { redirect: "manual" });
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get("location")).toBe(`/login?next=%2Fkeys%2F${id}%2Frotate`);
    await org.owner.b.get(`/keys/${id}/rotate`);
    const forged = await org.owner.b.post(`/keys/${id}/rotate`, {
      grace: "0",
      rotation_id: "aaaaaaaaaaaa",
      _csrf: "0".repeat(64),
    });
    expect(forged.status).toBe(403);
    expect((await keyRow(org.tenantId, key ?? ""))?.rotated_at).toBeNull();
  });

  it("refuses a revoked key, a grace not offered and a form without its rotation id", async () => {
    const org = await newOrg("RotateBad");
    const { key } = await createKey(org.owner.b, { name: "bad" });
    const id = keyId(key);

    const noGrace = await org.owner.b.post(`/keys/${id}/rotate`, { grace: "12345", rotation_id: "aaaaaaaaaaaa" });
    expect(noGrace.status).toBe(400);
    expect(/id="grace-error">([^<]+)</.exec(noGrace.html)?.[1]).toContain("Choose how long");
    const noId = await org.owner.b.post(`/keys/${id}/rotate`, { grace: "0" });
    expect(noId.status).toBe(400);
    expect(noId.html).toContain("This form is incomplete");
    expect(ROTATION_ID.test(noId.html)).toBe(true);
    expect((await keyRow(org.tenantId, key ?? ""))?.rotated_at).toBeNull();

    await org.owner.b.post(`/keys/${id}/revoke`);
    const look = await org.owner.b.get(`/keys/${id}/rotate`);
    expect(look.html).toContain("a revoked key cannot be rotated");
    expect(look.html).not.toContain('name="rotation_id"');
    const post = await org.owner.b.post(`/keys/${id}/rotate`, { grace: "0", rotation_id: "aaaaaaaaaaaa" });
    expect(post.status).toBe(409);
    expect(post.html).toContain("a revoked key cannot be rotated");
    expect((await keyRow(org.tenantId, key ?? ""))?.rotated_at).toBeNull();
    expect((await org.owner.b.get("/keys")).html).not.toContain(`/keys/${id}/rotate`);
  });

  it("stores no key, secret or hash in D1 or the audit trail", async () => {
    const org = await newOrg("RotateSecrets");
    const { key: first } = await createKey(org.owner.b, { name: "secret keeper" });
    const { key: second } = await rotate(org.owner.b, keyId(first), "3600");
    await waitForAudit(org.tenantId, "key.rotated", keyId(first));
    const needles: string[] = [];
    for (const token of [first ?? "", second ?? ""]) {
      expect(token).toMatch(KEY);
      needles.push(token, token.split("_")[3] ?? "", await keyHash(env.KEY_PEPPER, token));
    }
    const tables = await env.DB.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'",
    ).all<{ name: string }>();
    expect(tables.results.map((t) => t.name)).toContain("audit_events");
    for (const { name } of tables.results) {
      const rows = await env.DB.prepare(`SELECT * FROM "${name}"`).all();
      const text = JSON.stringify(rows.results);
      for (const needle of needles)
        expect({ table: name, found: text.includes(needle) }).toEqual({ table: name, found: false });
    }
  });
});
