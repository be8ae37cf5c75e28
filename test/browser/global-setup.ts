// The browser tests' Worker: `wrangler dev` (as `npm start` runs it) on a free loopback port with
// its own state directory and secrets, and the demo upstream beside it. Chromium drives it over
// real HTTP. Torn down (and the state deleted) after the run.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startUpstream } from "../../demo/upstream/server.ts";
import { migrate, startLocalWorker, waitForHealth } from "../../scripts/local-worker.ts";

declare module "vitest" {
  export interface ProvidedContext {
    browserBase: string;
    browserOperatorToken: string;
    browserUpstreamUrl: string;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export default async function setup(project: TestProject) {
  const dir = mkdtempSync(join(tmpdir(), "outlay-browser-"));
  const state = join(dir, "state");
  const operatorToken = randomBytes(32).toString("base64url");
  const envFile = join(dir, "secrets.env");
  writeFileSync(
    envFile,
    [
      `KEY_PEPPER=${randomBytes(32).toString("base64url")}`,
      `DATA_KEYS=v1:${randomBytes(32).toString("base64")}`,
      `SESSION_SECRET=${randomBytes(32).toString("base64url")}`,
      `OPERATOR_TOKEN=${operatorToken}`,
      `AUDIT_SIGNING_KEYS=v1:${randomBytes(32).toString("base64")}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  migrate(state);
  const upstream = await startUpstream({ port: 0 });
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const lines: string[] = [];
  const worker = startLocalWorker({ port, persistTo: state, envFile, log: (line) => lines.push(line) });
  try {
    await waitForHealth(base, worker, 120_000, () => lines.some((line) => /Build failed/.test(line)));
  } catch (error) {
    worker.kill("SIGTERM");
    await upstream.close();
    throw new Error(`wrangler dev did not start:\n${lines.slice(-40).join("\n")}`, { cause: error });
  }
  project.provide("browserBase", base);
  project.provide("browserOperatorToken", operatorToken);
  project.provide("browserUpstreamUrl", upstream.url);
  return async () => {
    worker.kill("SIGTERM");
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  };
}
