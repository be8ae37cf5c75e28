// The role sessions the STS stand-in issued, which the S3 stand-in checks requests against.
import { randomBytes } from "node:crypto";
import type { StandInRole } from "./fixtures.ts";

export type Session = {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
  role: StandInRole;
};

export class Sessions {
  readonly #byKey = new Map<string, Session>();

  issue(role: StandInRole, durationSeconds: number): Session {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    const id = [...randomBytes(16)].map((b) => alphabet[b % 32]).join("");
    const session: Session = {
      accessKeyId: `ASIA${id}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: randomBytes(96).toString("base64"),
      expiresAt: Date.now() + (role.sessionLifetimeMs ?? durationSeconds * 1000),
      role,
    };
    this.#byKey.set(session.accessKeyId, session);
    return session;
  }

  /** Every session issued so far (the no-secrets test looks for their keys in what Outlay kept). */
  all(): Session[] {
    return [...this.#byKey.values()];
  }

  get(accessKeyId: string): Session | null {
    return this.#byKey.get(accessKeyId) ?? null;
  }
}
