// The role table's entries for web/routes/activity.tsx (see test/auth/role-table.ts).
import type { RoleArea } from "../auth/role-table.ts";

export const activityArea: RoleArea = {
  routes: {},
  probes: () => ({}),
};
