// Patched copies of the Worker's sources for the diagnostics (ablate.ts, ledger-ablate.ts): the
// sources are copied to a temp dir and edited there; the project is never modified. Each patch
// knows the text it replaces in successive versions of the code and stops the diagnostic,
// naming itself, when none applies.
import { cpSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./arms.ts";

export type Edit = { file: string; find: string; replace: string };
/** Edit sets for successive versions of the code, newest first; the first whose edits all apply is used. */
export type Patch = { name: string; versions: Edit[][] };

/** No usage event at all: no queue.send per call, and no sendBatch of a lease's reported events. */
export const NO_USAGE: Patch = {
  name: "NO_USAGE",
  versions: [
    [
      {
        file: "workers/gateway/usage-delivery.ts",
        find: "  handOff: UsageHandOff,\n): Promise<void> {",
        replace: "  handOff: UsageHandOff,\n): Promise<void> {\n  if (queue !== null) return;",
      },
    ],
    [
      {
        file: "workers/gateway/record.ts",
        find: "export async function sendEvent(queue: Queue<UsageEvent>, event: UsageEvent): Promise<void> {",
        replace:
          "export async function sendEvent(queue: Queue<UsageEvent>, event: UsageEvent): Promise<void> {\n  if (queue !== null) return;",
      },
      {
        file: "workers/gateway/admit.ts",
        find: "    sendEvents: async (events) => {",
        replace: "    sendEvents: async (events) => {\n      if (events.length >= 0) return;",
      },
    ],
    [
      {
        file: "workers/gateway/record.ts",
        find: "export async function sendEvent(queue: Queue<UsageEvent>, event: UsageEvent): Promise<void> {",
        replace:
          "export async function sendEvent(queue: Queue<UsageEvent>, event: UsageEvent): Promise<void> {\n  if (queue !== null) return;",
      },
    ],
  ],
};

/** The first version of a patch whose edits all find their text under `root`. */
export function applicable(root: string, patch: Patch): Edit[] {
  const found = patch.versions.find((edits) =>
    edits.every((edit) => readFileSync(join(root, edit.file), "utf8").includes(edit.find)),
  );
  if (!found) {
    throw new Error(
      `patch ${patch.name} does not apply to this version of the code; update it in test/bench (patch.ts, ablate.ts or ledger-ablate.ts).`,
    );
  }
  return found;
}

/** Copies the Worker's sources into `dir` and applies the patches there; returns `dir`. */
export function patchedCopy(dir: string, patches: Patch[]): string {
  for (const name of ["workers", "shared", "d1", "web", "deploy"])
    cpSync(join(ROOT, name), join(dir, name), { recursive: true });
  for (const name of ["wrangler.toml", "package.json", "tsconfig.json"]) cpSync(join(ROOT, name), join(dir, name));
  symlinkSync(join(ROOT, "node_modules"), join(dir, "node_modules"));
  for (const patch of patches) {
    for (const edit of applicable(dir, patch)) {
      const path = join(dir, edit.file);
      writeFileSync(path, readFileSync(path, "utf8").replace(edit.find, edit.replace));
    }
  }
  return dir;
}
