// The role table's entries for web/routes/usage.tsx (see test/auth/role-table.ts).
import type { RoleArea } from "../auth/role-table.ts";

export const usageArea: RoleArea = {
  routes: {},
  probes: () => ({}),
};
