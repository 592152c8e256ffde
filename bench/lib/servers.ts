/**
 * The servers under test: the tiny baselines of bench/baselines and edgelink's built bundle
 * (dist/node/server.js, as `npm start` runs it), each pinned per the placement, each on its own
 * port, started once per scenario and stopped (SIGTERM, by pid) at its end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { configSchema } from "../../src/config";
import { type Cores, captureOutput, freePort, nodeBinary, processTree, sleep, spawnOn } from "./proc";

export interface Server {
  name: string;
  port: number;
  pid: number;
  /** Worker processes (1 for a single process). */
  workers: number;
  /** The primary and its workers. */
  pids(): number[];
  stop(): Promise<void>;
}

/** The hot link every server answers: edgelink has it seeded, the baselines in their Map. */
export const hotLink = { slug: "hot", url: "https://example.com/landing" };

/** Starts `command args` and resolves once `workers` processes logged `"msg":"listening"`. */
async function startListening(options: {
  name: string;
  cores: Cores;
  args: string[];
  env: NodeJS.ProcessEnv;
  workers: number;
  port: number;
  timeoutMs?: number;
}): Promise<Server> {
  let listening = 0;
  let wake: (() => void) | undefined;
  const child: ChildProcess = spawnOn(options.cores, nodeBinary, options.args, {
    env: options.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = captureOutput(child, (line) => {
    if (line.includes('"msg":"listening"')) {
      listening += 1;
      wake?.();
    }
  });
  let exited = false;
  const exit = new Promise<void>((done) =>
    child.once("exit", () => {
      exited = true;
      wake?.();
      done();
    }),
  );
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  while (listening < options.workers) {
    if (exited) throw new Error(`${options.name} exited while starting:\n${output.join("\n")}`);
    if (Date.now() > deadline)
      throw new Error(`${options.name} did not start in time:\n${output.join("\n")}`);
    await new Promise<void>((done) => {
      wake = done;
      setTimeout(done, 500);
    });
  }
  const pid = child.pid!;
  return {
    name: options.name,
    port: options.port,
    pid,
    workers: options.workers,
    pids: () => processTree(pid),
    async stop() {
      if (exited) return;
      child.kill("SIGTERM");
      const killed = setTimeout(() => {
        for (const p of processTree(pid).reverse()) {
          try {
            process.kill(p, "SIGKILL");
          } catch {
            // gone
          }
        }
      }, 20_000);
      await exit;
      clearTimeout(killed);
    },
  };
}

export type Baseline = "bare-http" | "fastify" | "hono" | "express";

export async function startBaseline(
  kind: Baseline,
  workers: number,
  cores: Cores,
  env: Record<string, string> = {},
): Promise<Server> {
  const port = await freePort();
  return startListening({
    name: `${kind}×${workers}`,
    cores,
    args: [resolve(`bench/baselines/${kind}.mjs`)],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: "127.0.0.1",
      WORKERS: String(workers),
      NODE_ENV: "production",
      BENCH_SLUG: hotLink.slug,
      BENCH_TARGET: hotLink.url,
      ...env,
    },
    workers,
    port,
  });
}

/** `--set KEY=VALUE` settings, applied to every edgelink process over the scenario's own. */
const overrides: Record<string, string> = {};

/** Checks `KEY=VALUE` pairs against the config's variables and applies them to every edgelink started. */
export function setEdgelinkOverrides(pairs: string[]): Record<string, string> {
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    const key = pair.slice(0, at);
    if (at < 1 || !(key in configSchema.shape)) throw new Error(`--set ${pair}: not KEY=VALUE of a setting`);
    overrides[key] = pair.slice(at + 1);
  }
  return { ...overrides };
}

/**
 * The environment of an edgelink process: none of the caller's edgelink settings, then `settings`,
 * then the run's `--set` overrides.
 */
export function edgelinkEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(configSchema.shape)) delete env[key];
  return { ...env, HOST: "127.0.0.1", NODE_ENV: "production", LOG_LEVEL: "info", ...settings, ...overrides };
}

/**
 * Starts `node --enable-source-maps dist/node/server.js` (what `npm start` runs). With
 * DATABASE_URL in `settings` it is a cluster of WEB_CONCURRENCY workers; else one process on PGlite.
 */
export async function startEdgelink(options: {
  name: string;
  settings: Record<string, string>;
  cores: Cores;
  /** Directory for `--cpu-prof` output; no profiling when undefined. */
  profileDir?: string;
  /** Another build of the server (e.g. the one before a change) instead of dist/node/server.js. */
  bundle?: string;
}): Promise<Server> {
  const port = await freePort();
  const workers = options.settings.DATABASE_URL ? Number(options.settings.WEB_CONCURRENCY ?? 1) : 1;
  const nodeArgs = ["--enable-source-maps"];
  if (options.profileDir) {
    mkdirSync(options.profileDir, { recursive: true });
    nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${options.profileDir}`);
  }
  return startListening({
    name: options.name,
    cores: options.cores,
    args: [...nodeArgs, resolve(options.bundle ?? "dist/node/server.js")],
    env: edgelinkEnv({ ...options.settings, PORT: String(port) }),
    workers,
    port,
  });
}

/**
 * `npm run admin -- workspace create` against the database in `settings` (a real Postgres, or the
 * PGlite data directory before the server opens it): answers the workspace's first API key.
 */
export async function createWorkspaceKey(settings: Record<string, string>): Promise<string> {
  const child = spawn(
    "npm",
    ["run", "admin", "--silent", "--", "workspace", "create", "--name", "bench", "--json"],
    {
      env: edgelinkEnv({ LOG_LEVEL: "warn", ...settings }),
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output = captureOutput(child, undefined, 200);
  const code = await new Promise<number | null>((done) => child.once("exit", done));
  await sleep(50);
  const json = output.find((line) => line.startsWith("{"));
  if (code !== 0 || !json)
    throw new Error(`admin workspace create failed (exit ${code}):\n${output.join("\n")}`);
  return (JSON.parse(json) as { apiKey: { key: string } }).apiKey.key;
}

/** Creates a link through the real API (`POST /api/v1/links`); a 409 (already there) is fine. */
export async function seedLink(
  port: number,
  key: string,
  link: { slug: string; url: string },
): Promise<void> {
  const response = await fetch(`http://127.0.0.1:${port}/api/v1/links`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify(link),
  });
  if (response.status !== 201 && response.status !== 409) {
    throw new Error(`seeding /${link.slug} failed: ${response.status} ${await response.text()}`);
  }
}

/** One request's status and headers, without following redirects. */
export async function probe(
  port: number,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; headers: Headers; body: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { redirect: "manual", ...init });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

/** Counter values from edgelink's /metrics (the cluster answers the sum over its workers). */
export async function readMetrics(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return values;
}

/** A counter of {@link readMetrics}' answer summed over all its label sets. */
export const counterTotal = (values: Map<string, number>, name: string): number =>
  [...values].filter(([key]) => key === name || key.startsWith(`${name}{`)).reduce((a, [, v]) => a + v, 0);
