// The shape of the role table test (roles.test.ts): each dashboard area lists its routes with
// the permission they need and a probe per route that needs a role, in test/web/<area>.probes.ts.
import type { Permission, Role } from "../../workers/auth/roles.ts";
import type { Page } from "./browser.ts";
import type { Org, Person } from "./orgs.ts";

/** Who may use a dashboard route: anyone, any signed-in person, or a role permission. */
export type Need = Permission | "signed-in" | "anyone";

/** One organisation route, sent as someone: the response, and whether its effect happened. */
export type Probe = {
  allowedStatus: number;
  run(who: Person, role: Role): Promise<{ page: Page; happened: boolean }>;
};

/** What a probe may use: the organisation whose owner, admin, member and viewer send it. */
export type ProbeContext = {
  org: Org;
  /** label + random suffix */
  unique(label: string): string;
  /** a fresh key the owner made (so only keys:any may revoke or rotate it) */
  ownersKey(): Promise<string>;
};

/** One area of the dashboard: its routes and its probes. */
export type RoleArea = {
  routes: Record<string, Need>;
  probes(ctx: ProbeContext): Record<string, Probe>;
};
