import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { configSchema } from "../../src/config";

/** The bundle `npm run build:node` writes. */
export const serverEntry = resolve("dist/node/server.js");

const pinnedNode = resolve("node_modules/node/bin/node");
/** The Node 24 of the `node` devDependency, whatever Node happens to run vitest. */
export const nodeBinary = existsSync(pinnedNode) ? pinnedNode : process.execPath;

/** One JSON log line of the server (every line carries the pid of the process that wrote it). */
export interface LogLine {
  time: string;
  level: string;
  msg: string;
  pid: number;
  /** Date.now() in the test process when the line arrived. */
  receivedAt: number;
  [field: string]: unknown;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  at: number;
}

/** A spawned `node dist/node/server.js` (a cluster primary or the single embedded process). */
export interface EdgelinkProcess {
  pid: number;
  port: number;
  spawnedAt: number;
  logs: LogLine[];
  stdout: string[];
  stderr: string[];
  exited: Promise<ProcessExit>;
  /** Resolves with the first `count` lines matching, failing on timeout or when the process exits. */
  waitForLogs(match: (line: LogLine) => boolean, count?: number, timeoutMs?: number): Promise<LogLine[]>;
  /** Sends `signal` to the spawned process and answers when it was sent. */
  signal(signal: NodeJS.Signals): number;
}

const spawned: { child: ChildProcess; edgelink: EdgelinkProcess }[] = [];

/** A port nobody listens on right now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/**
 * Spawns the built server with exactly the edgelink settings in `settings` (any the test runner
 * itself has, such as DATABASE_URL, are removed first) on 127.0.0.1.
 */
export function startEdgelink(settings: Record<string, string>): EdgelinkProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(configSchema.shape)) delete env[key];
  Object.assign(env, { HOST: "127.0.0.1", LOG_LEVEL: "info" }, settings);
  const child = spawn(nodeBinary, [serverEntry], { env, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid === undefined) throw new Error(`could not spawn ${nodeBinary}`);

  const logs: LogLine[] = [];
  const stdout: string[] = [];
  const stderr: string[] = [];
  const waiters = new Set<() => void>();
  let exit: ProcessExit | undefined;
  const exited = new Promise<ProcessExit>((done) =>
    child.once("exit", (code, signal) => {
      exit = { code, signal, at: Date.now() };
      done(exit);
      for (const wake of waiters) wake();
    }),
  );
  createInterface({ input: child.stdout! }).on("line", (line) => {
    stdout.push(line);
    try {
      logs.push({ ...JSON.parse(line), receivedAt: Date.now() });
    } catch {
      // Not a log line; kept in `stdout` for the failure message.
    }
    for (const wake of waiters) wake();
  });
  createInterface({ input: child.stderr! }).on("line", (line) => stderr.push(line));

  const edgelink: EdgelinkProcess = {
    pid: child.pid,
    port: Number(settings.PORT),
    spawnedAt: Date.now(),
    logs,
    stdout,
    stderr,
    exited,
    signal(signal) {
      const at = Date.now();
      child.kill(signal);
      return at;
    },
    waitForLogs(match, count = 1, timeoutMs = 15_000) {
      return new Promise((done, fail) => {
        const check = () => {
          const found = logs.filter(match);
          if (found.length >= count) finish(() => done(found.slice(0, count)));
          else if (exit)
            finish(() => fail(new Error(`server exited (${JSON.stringify(exit)}) first\n${transcript()}`)));
        };
        const timer = setTimeout(
          () => finish(() => fail(new Error(`no such log line in ${timeoutMs} ms\n${transcript()}`))),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
  };
  const transcript = () =>
    [...stdout.slice(-30), ...stderr.slice(-10).map((line) => `stderr: ${line}`)].join("\n");
  spawned.push({ child, edgelink });
  return edgelink;
}

/** Whether `pid` is still a process running our server bundle (guards against a recycled pid). */
function runsOurServer(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(serverEntry);
  } catch {
    return false;
  }
}

/**
 * SIGKILLs every server spawned so far that is still running, and every worker any of them logged,
 * so a failing test leaves no process behind.
 */
export async function killAllEdgelink(): Promise<void> {
  const entries = spawned.splice(0);
  for (const { child, edgelink } of entries) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    for (const pid of new Set(edgelink.logs.map((line) => line.pid))) {
      if (pid !== edgelink.pid && runsOurServer(pid)) process.kill(pid, "SIGKILL");
    }
  }
  await Promise.all(entries.map(({ edgelink }) => edgelink.exited));
}

/**
 * One request on its own connection (no keep-alive pool, so a cluster's round-robin spreads them
 * over its workers), failing on a transport error or after `timeoutMs`.
 */
export function requestOnce(
  port: number,
  path: string,
  options: { method?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: "127.0.0.1",
      port,
      method: options.method ?? "GET",
      path,
      agent: false,
      headers: { connection: "close", ...options.headers },
      timeout: options.timeoutMs ?? 2_000,
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.end();
  });
}
