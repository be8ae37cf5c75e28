// RFC 6750 §2.1: the token of an `Authorization: Bearer <token>` header, or null.
export function readBearer(headers: Headers): string | null {
  const value = headers.get("authorization");
  if (!value) return null;
  const match = /^Bearer\s+(\S+)$/i.exec(value.trim());
  return match?.[1] ?? null;
}
