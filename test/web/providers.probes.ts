// The role table's entries for web/routes/providers.tsx (see test/auth/role-table.ts).
import type { RoleArea } from "../auth/role-table.ts";

export const providersArea: RoleArea = {
  routes: {},
  probes: () => ({}),
};
