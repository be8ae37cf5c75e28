// Facts about the machine and the software under test, for the report.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { availableParallelism, release } from "node:os";
import { join } from "node:path";
import { ROOT } from "./arms.ts";
import type { Machine } from "./results.ts";

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
      version?: unknown;
    };
    return typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "not installed";
  }
}

function cpuModel(): string {
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8")
      .split("\n")
      .find((l) => l.startsWith("model name"));
    return line?.split(":")[1]?.trim() ?? "unknown";
  } catch {
    return "unknown";
  }
}

function workerdVersion(): string {
  try {
    const out = execFileSync(join(ROOT, "node_modules/.bin/workerd"), ["--version"], {
      encoding: "utf8",
      timeout: 10_000,
    });
    return `${out.trim().replace(/^workerd\s+/, "")} (npm workerd ${packageVersion("workerd")})`;
  } catch {
    return `npm workerd ${packageVersion("workerd")}`;
  }
}

export function machineFacts(wrk: string): Machine {
  return {
    nproc: availableParallelism(),
    cpuModel: cpuModel(),
    node: process.version,
    workerd: workerdVersion(),
    wrk,
    miniflare: packageVersion("miniflare"),
    wrangler: packageVersion("wrangler"),
    portkey: packageVersion("@portkey-ai/gateway"),
    kernel: release(),
  };
}

/**
 * The commit the Worker was bundled from and, when its sources had uncommitted changes, a
 * fingerprint of them (the first 8 hex digits of the SHA-256 of `git diff HEAD` over them).
 */
export function sourceRevision(): string {
  const git = (args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8", timeout: 10_000 }).trim();
  const paths = ["--", "workers", "shared", "d1", "wrangler.toml"];
  try {
    const commit = git(["rev-parse", "--short", "HEAD"]);
    const dirty = git(["status", "--porcelain", ...paths]);
    if (dirty === "") return commit;
    const diff = createHash("sha256")
      .update(git(["diff", "HEAD", ...paths]))
      .digest("hex")
      .slice(0, 8);
    return `${commit} with uncommitted changes in workers/, shared/ or d1/ (diff ${diff})`;
  } catch {
    return "unknown (not a git checkout)";
  }
}
