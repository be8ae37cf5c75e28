// `npm run audit:verify -- --base-url URL --token TOKEN [--checkpoint FILE] [--vkey VKEY]…`
// Verifies an organisation's audit archive (scripts/audit-verify/verify.ts, docs/audit.md):
// prints `verified: tree size N, root <b64>, S segments` and exits 0, or `FAILED: <message>
// (segment X, seq Y)` and exits 1; a usage error exits 2. The token may come from OUTLAY_TOKEN
// instead of the flag; it is never printed.
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { verifyAuditLog } from "./audit-verify/verify.ts";

const USAGE = `usage: npm run audit:verify -- --base-url URL [--token TOKEN] [--checkpoint FILE] [--vkey VKEY]...
  --base-url    the Outlay deployment (https://…)
  --token       an admin token of the organisation (or set OUTLAY_TOKEN)
  --checkpoint  a signed checkpoint kept from an earlier run: the log must extend it
  --vkey        a verifier key to trust instead of /.well-known/outlay-audit-keys (repeatable)`;

function usage(message: string): number {
  console.error(`${message}\n${USAGE}`);
  return 2;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        "base-url": { type: "string" },
        token: { type: "string" },
        checkpoint: { type: "string" },
        vkey: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return usage(error instanceof Error ? error.message : "bad arguments");
  }
  if (values.help) return usage("Verifies an Outlay audit archive.");
  const baseUrl = values["base-url"];
  if (!baseUrl || !URL.canParse(baseUrl)) return usage("--base-url must be a URL");
  const token = values.token ?? process.env.OUTLAY_TOKEN ?? "";
  if (token === "") return usage("an admin token is needed: --token or OUTLAY_TOKEN");
  let checkpoint: string | undefined;
  if (values.checkpoint !== undefined) {
    try {
      checkpoint = readFileSync(values.checkpoint, "utf8");
    } catch {
      return usage(`cannot read the checkpoint file ${values.checkpoint}`);
    }
  }

  const result = await verifyAuditLog({
    baseUrl,
    token,
    fetch: (url, init) => fetch(url, { ...init, redirect: "error" }),
    ...(checkpoint === undefined ? {} : { checkpoint }),
    ...(values.vkey ? { vkeys: values.vkey } : {}),
  });
  if (!result.ok) {
    const { message, segment, seq } = result.problem;
    const where = [segment === undefined ? "" : `segment ${segment}`, seq === undefined ? "" : `seq ${seq}`].filter(
      Boolean,
    );
    console.log(`FAILED: ${message}${where.length > 0 ? ` (${where.join(", ")})` : ""}`);
    return 1;
  }
  for (const notice of result.notices) console.error(`note: ${notice}`);
  console.log(`verified: tree size ${result.treeSize}, root ${result.rootHash}, ${result.segments} segments`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
