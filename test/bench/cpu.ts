// CPU time of an arm: utime + stime (/proc/<pid>/stat) summed over the process tree the arm's
// root process started (a Miniflare host and its workerd; a Node server alone), in ms.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { sleep } from "./procs.ts";

let ticksPerSecond: number | null = null;

export function clockTicks(): number {
  if (ticksPerSecond === null) {
    const out = execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8", timeout: 5_000 }).trim();
    const value = Number(out);
    ticksPerSecond = Number.isInteger(value) && value > 0 ? value : 100;
  }
  return ticksPerSecond;
}

type Stat = { pid: number; ppid: number; ticks: number; comm: string };

function readStat(pid: number): Stat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // comm is in parentheses and may contain spaces: fields are counted after the last ')'.
  const close = text.lastIndexOf(")");
  const comm = text.slice(text.indexOf("(") + 1, close);
  const fields = text.slice(close + 2).split(" ");
  const ppid = Number(fields[1]);
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(ppid) || !Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return { pid, ppid, ticks: utime + stime, comm };
}

function allStats(): Stat[] {
  const stats: Stat[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** The root and all its descendants, with their names. */
export function processTree(root: number): Stat[] {
  const stats = allStats();
  const children = new Map<number, Stat[]>();
  for (const s of stats) {
    const list = children.get(s.ppid) ?? [];
    list.push(s);
    children.set(s.ppid, list);
  }
  const rootStat = stats.find((s) => s.pid === root);
  if (!rootStat) return [];
  const tree: Stat[] = [];
  const queue: Stat[] = [rootStat];
  for (let guard = 0; queue.length > 0 && guard < 10_000; guard += 1) {
    const next = queue.shift();
    if (!next) break;
    tree.push(next);
    queue.push(...(children.get(next.pid) ?? []));
  }
  return tree;
}

/** CPU ms used so far by the tree of `root`. */
export function treeCpuMs(root: number): number {
  const ticks = processTree(root).reduce((sum, s) => sum + s.ticks, 0);
  return (ticks * 1_000) / clockTicks();
}

/** CPU ms per wall second while the arm sits idle (timers, housekeeping). */
export async function idleCpuRate(root: number, sampleMs: number): Promise<number> {
  const before = treeCpuMs(root);
  await sleep(sampleMs);
  return ((treeCpuMs(root) - before) * 1_000) / sampleMs;
}

/**
 * Waits until the tree stops using CPU (no more than one tick in two consecutive 250 ms
 * polls), e.g. until queued usage events are written after a run; at most `maxMs`.
 */
export async function settle(root: number, maxMs: number): Promise<number> {
  const started = Date.now();
  const tick = 1_000 / clockTicks();
  let last = treeCpuMs(root);
  let quiet = 0;
  while (Date.now() - started < maxMs && quiet < 2) {
    await sleep(250);
    const now = treeCpuMs(root);
    quiet = now - last <= tick ? quiet + 1 : 0;
    last = now;
  }
  return Date.now() - started;
}

/** CPU ms the whole machine spent busy so far (all CPUs; /proc/stat, idle and iowait excluded). */
export function systemBusyMs(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  const ticks = [user, nice, system, irq, softirq, steal].reduce<number>((s, v) => s + (v ?? 0), 0);
  return (ticks * 1_000) / clockTicks();
}

/** CPU ms of this process and its reaped children (wrk runs, wrangler). */
export function selfCpuMs(): number {
  const text = readFileSync("/proc/self/stat", "utf8");
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const ticks = [11, 12, 13, 14].reduce((s, i) => s + Number(fields[i] ?? 0), 0);
  return (ticks * 1_000) / clockTicks();
}

/**
 * CPU that processes outside the benchmark used during a measurement, in % of one CPU: the
 * machine's busy time minus the arms' process trees and this process with its children.
 */
export function watchForeignLoad(roots: readonly number[]): () => number {
  const own = () => roots.reduce((s, pid) => s + treeCpuMs(pid), 0) + selfCpuMs();
  const started = Date.now();
  const system0 = systemBusyMs();
  const own0 = own();
  return () => {
    const wallMs = Math.max(1, Date.now() - started);
    const foreign = systemBusyMs() - system0 - (own() - own0);
    return Math.max(0, (100 * foreign) / wallMs);
  };
}
