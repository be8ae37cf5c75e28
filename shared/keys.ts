// Key formats. A proxy key is `olk_<tenant id>_<key id>_<secret>`; an admin token is
// `ola_<tenant id>_<token id>_<secret>`. The ids are the public routing part; the secret is 160
// random bits. Only HMAC-SHA-256(pepper, whole key) is stored.
import { newId, newSecret } from "./ids.ts";

export type KeyKind = "olk" | "ola";

export type ParsedKey = { kind: KeyKind; tenantId: string; id: string; prefix: string };

const FORMAT = /^(olk|ola)_([a-z2-7]{12})_([a-z2-7]{12})_([a-z2-7]{32})$/;

export function parseKey(text: string | null | undefined, kind: KeyKind): ParsedKey | null {
  const match = text ? FORMAT.exec(text) : null;
  if (!match || match[1] !== kind || !match[2] || !match[3]) return null;
  return { kind, tenantId: match[2], id: match[3], prefix: `${kind}_${match[2]}_${match[3]}` };
}

export function mintKey(kind: KeyKind, tenantId: string): { key: string; id: string; prefix: string } {
  const id = newId();
  const prefix = `${kind}_${tenantId}_${id}`;
  return { key: `${prefix}_${newSecret()}`, id, prefix };
}

/** A new secret for an existing key (rotation): the same tenant and id, so the same prefix. */
export function remintKey(kind: KeyKind, tenantId: string, id: string): { key: string; id: string; prefix: string } {
  const prefix = `${kind}_${tenantId}_${id}`;
  return { key: `${prefix}_${newSecret()}`, id, prefix };
}

/** The last four characters of a key's secret (20 of its 160 bits), shown as "…abcd" so that
 * people can tell a key's secrets apart: its prefix stays the same across rotations. */
export function keyHint(key: string): string {
  return key.slice(-4);
}

export const TENANT_ID = /^[a-z2-7]{12}$/;
