// The role table's entries for web/routes/rules.tsx (see test/auth/role-table.ts).
import type { RoleArea } from "../auth/role-table.ts";

export const rulesArea: RoleArea = {
  routes: {},
  probes: () => ({}),
};
