/**
 * Processes for the harness: spawning pinned to cores, per-process CPU accounting from /proc, and
 * a registry that stops (by pid) every process the harness started, also when it fails.
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

/** The Node 24 of the `node` devDependency (the harness itself runs on it through `npm run`). */
export const nodeBinary = existsSync(resolve("node_modules/node/bin/node"))
  ? resolve("node_modules/node/bin/node")
  : process.execPath;

function onPath(program: string): string | undefined {
  try {
    return execFileSync("sh", ["-c", `command -v ${program}`], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export const tasksetPath = onPath("taskset");
export const wrkPath = onPath("wrk");
export const redisServerPath = onPath("redis-server");
export const coreCount = cpus().length;

/** CPU placement of a process: a `taskset -c` list, or undefined for "wherever the kernel likes". */
export type Cores = string | undefined;

/** Where the harness puts things on this machine (two cores: servers on 0, generator on 1). */
export const placement = (() => {
  const pinned = Boolean(tasksetPath) && coreCount >= 2;
  const last = String(coreCount - 1);
  return {
    pinned,
    singleServer: pinned ? "0" : undefined,
    clusterServer: pinned ? `0-${last}` : undefined,
    generator: pinned ? last : undefined,
    describe(): string {
      if (!pinned)
        return "unpinned (taskset missing or a single core): servers and generator share every core";
      return (
        `single-process servers on core 0, cluster servers on cores 0-${last} (all), generator on core ${last}; ` +
        "Postgres and Redis unpinned"
      );
    },
  };
})();

/** `command args` started on `cores` (via taskset, which execs: the pid is the program's). */
export function spawnOn(cores: Cores, command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child =
    cores && tasksetPath
      ? spawn(tasksetPath, ["-c", cores, command, ...args], options)
      : spawn(command, args, options);
  track(child);
  return child;
}

const started = new Set<ChildProcess>();
function track(child: ChildProcess): void {
  started.add(child);
  child.once("exit", () => started.delete(child));
}

/** SIGKILLs what is still running of the processes started here, and their descendants. */
export function killAllStarted(): void {
  for (const child of started) {
    if (child.pid === undefined) continue;
    for (const pid of [...descendants(child.pid), child.pid]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
}
process.once("exit", killAllStarted);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    killAllStarted();
    process.exit(130);
  });
}

/** The last `keep` lines a process wrote, for failure messages; `onLine` sees every stdout line. */
export function captureOutput(child: ChildProcess, onLine?: (line: string) => void, keep = 40): string[] {
  const lines: string[] = [];
  const push = (prefix: string) => (line: string) => {
    lines.push(prefix + line);
    if (lines.length > keep) lines.shift();
  };
  if (child.stdout) {
    const out = push("");
    createInterface({ input: child.stdout }).on("line", (line) => {
      out(line);
      onLine?.(line);
    });
  }
  if (child.stderr) createInterface({ input: child.stderr }).on("line", push("stderr: "));
  return lines;
}

/** A port nobody listens on right now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/** Parent pid and CPU ticks (user + system) of every process, from /proc/<pid>/stat. */
function processTable(): Map<number, { ppid: number; ticks: number }> {
  const table = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      // Fields after the command (which may hold spaces and parentheses): state ppid … utime stime.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      table.set(Number(name), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

function descendants(pid: number, table = processTable()): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [child, { ppid }] of table) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

/** Every pid of a process tree (a cluster primary and its workers). */
export function processTree(pid: number): number[] {
  return [pid, ...descendants(pid)];
}

const ticksPerSecond = 100;

/** CPU ticks of groups of pids plus the whole machine's busy ticks, at one instant. */
export interface CpuSample {
  at: number;
  groups: Record<string, number>;
  machineBusy: number;
}

function machineBusyTicks(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
  const [user, nice, system, idle, iowait, irq, softirq, steal] = line
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  void idle;
  void iowait;
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/** Samples the CPU ticks of each named group of pids (whole trees are expanded by the caller). */
export function sampleCpu(groups: Record<string, number[]>): CpuSample {
  const table = processTable();
  const sums: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) {
    sums[name] = pids.reduce((sum, pid) => sum + (table.get(pid)?.ticks ?? 0), 0);
  }
  return { at: performance.now(), groups: sums, machineBusy: machineBusyTicks() };
}

/**
 * CPU used between two samples, in cores (1.0 = one core busy the whole time), per group, plus
 * `other`: the machine's busy time that none of the groups accounts for (the other tenant of the
 * machine, the harness, unlisted services).
 */
export function cpuBetween(a: CpuSample, b: CpuSample): Record<string, number> {
  const seconds = (b.at - a.at) / 1000;
  const cores: Record<string, number> = {};
  let accounted = 0;
  for (const name of Object.keys(b.groups)) {
    const ticks = Math.max(0, (b.groups[name] ?? 0) - (a.groups[name] ?? 0));
    accounted += ticks;
    cores[name] = round2(ticks / ticksPerSecond / seconds);
  }
  cores.other = round2(Math.max(0, b.machineBusy - a.machineBusy - accounted) / ticksPerSecond / seconds);
  return cores;
}

const round2 = (value: number) => Math.round(value * 100) / 100;

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
