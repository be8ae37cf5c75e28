// The role table's entries for web/routes/overview.tsx (see test/auth/role-table.ts).
import type { RoleArea } from "../auth/role-table.ts";

export const overviewArea: RoleArea = {
  routes: {},
  probes: () => ({}),
};
