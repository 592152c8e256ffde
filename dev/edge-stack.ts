/**
 * `npm run dev:edge`: the Worker under `wrangler dev`, backed by a real Postgres and Redis through the
 * local Neon (SQL over HTTP) and Upstash (REST) stand-ins, so the edge build speaks the same wire
 * protocols as in production. Needs DATABASE_URL and REDIS_URL; ports are overridable with
 * EDGE_PORT (8787), NEON_STANDIN_PORT (4444) and UPSTASH_STANDIN_PORT (8079).
 */
import type { ChildProcess } from "node:child_process";
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { pathToFileURL } from "node:url";
import { migratePostgres } from "../db/migrate";
import { startNeonHttpServer } from "./neon-http-server";
import { startUpstashRestServer } from "./upstash-rest-server";

/** The bindings that point the Worker at the stand-ins. */
export interface EdgeWorkerVars {
  DATABASE_URL: string;
  NEON_FETCH_ENDPOINT: string;
  UPSTASH_REDIS_REST_URL: string;
  UPSTASH_REDIS_REST_TOKEN: string;
}

/** Options for {@link startEdgeServices}; ports default to 0 (any free port). */
export interface EdgeServicesOptions {
  databaseUrl: string;
  redisUrl: string;
  neonPort?: number;
  upstashPort?: number;
  /** Defaults to a random one. */
  upstashToken?: string;
}

/** Running stand-ins: `vars` for the Worker, `close()` to stop both. */
export interface EdgeServices {
  vars: EdgeWorkerVars;
  close(): Promise<void>;
}

/**
 * The connection string the Worker gets. Neon's driver needs a user, a host and a database in it; the
 * stand-in keeps only user, password and database, so the host is a name that never resolves.
 */
export function neonStyleUrl(databaseUrl: string): string {
  const real = new URL(databaseUrl);
  const url = new URL(
    `postgres://neon-standin.local${real.pathname.length > 1 ? real.pathname : "/postgres"}`,
  );
  url.username = real.username || "postgres";
  url.password = real.password;
  return url.toString();
}

/**
 * Migrates `databaseUrl` and starts the Neon and Upstash stand-ins in front of it and `redisUrl`.
 *
 * @example
 * const services = await startEdgeServices({ databaseUrl, redisUrl });
 * // wrangler dev --var NEON_FETCH_ENDPOINT:${services.vars.NEON_FETCH_ENDPOINT} …
 * await services.close();
 */
export async function startEdgeServices(opts: EdgeServicesOptions): Promise<EdgeServices> {
  await migratePostgres(opts.databaseUrl);
  const neon = await startNeonHttpServer({ databaseUrl: opts.databaseUrl, port: opts.neonPort ?? 0 });
  const token = opts.upstashToken ?? randomUUID();
  const upstash = await startUpstashRestServer({
    redisUrl: opts.redisUrl,
    token,
    port: opts.upstashPort ?? 0,
  }).catch(async (error: unknown) => {
    await neon.close();
    throw error;
  });
  return {
    vars: {
      DATABASE_URL: neonStyleUrl(opts.databaseUrl),
      NEON_FETCH_ENDPOINT: neon.url,
      UPSTASH_REDIS_REST_URL: upstash.url,
      UPSTASH_REDIS_REST_TOKEN: token,
    },
    async close() {
      await Promise.allSettled([upstash.close(), neon.close()]);
    },
  };
}

/** Wrangler must not phone home (there is no network here) nor write into the home folder. */
const offlineEnv = {
  WRANGLER_SEND_METRICS: "false",
  WRANGLER_SEND_ERROR_REPORTS: "false",
  CLOUDFLARE_CF_FETCH_ENABLED: "false",
  XDG_CONFIG_HOME: ".wrangler/config",
};

function portFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  const port = raw ? Number(raw) : fallback;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    fail(`${name} must be a TCP port (1-65535), got "${raw}"`);
  return port;
}

function fail(message: string): never {
  console.error(`dev:edge: ${message}`);
  process.exit(1);
}

function startWrangler(port: number, vars: EdgeWorkerVars): ChildProcess {
  // PORT: the port `localhost` short URLs carry.
  const args = ["wrangler", "dev", "--port", String(port), "--ip", "127.0.0.1", "--var", `PORT:${port}`];
  for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);
  // Its own process group (npx → wrangler → workerd), so one signal stops all of it and a Ctrl-C in
  // the terminal reaches only us; we then stop the group in order. No stdin: no hotkeys to steal.
  return spawn("npx", args, {
    stdio: ["ignore", "inherit", "inherit"],
    detached: true,
    env: { ...process.env, ...offlineEnv },
  });
}

/** Signals the whole group; ESRCH just means it is already gone. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {}
}

async function main(): Promise<void> {
  const databaseUrl = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  if (!databaseUrl)
    fail(
      "DATABASE_URL is required (the Postgres behind the Neon stand-in), e.g. postgres://postgres@127.0.0.1:5432/test",
    );
  if (!redisUrl)
    fail("REDIS_URL is required (the Redis behind the Upstash stand-in), e.g. redis://127.0.0.1:6379");
  const edgePort = portFrom("EDGE_PORT", 8787);
  const started = performance.now();

  const services = await startEdgeServices({
    databaseUrl,
    redisUrl,
    neonPort: portFrom("NEON_STANDIN_PORT", 4444),
    upstashPort: portFrom("UPSTASH_STANDIN_PORT", 8079),
    upstashToken: process.env.UPSTASH_STANDIN_TOKEN,
  });
  const { host, pathname } = new URL(databaseUrl);
  console.log(
    `dev:edge: Postgres ${host}${pathname} (migrated) via Neon stand-in ${services.vars.NEON_FETCH_ENDPOINT}; ` +
      `Redis ${new URL(redisUrl).host} via Upstash stand-in ${services.vars.UPSTASH_REDIS_REST_URL} ` +
      `(${Math.round(performance.now() - started)} ms); starting wrangler dev on http://127.0.0.1:${edgePort}`,
  );

  const wrangler = startWrangler(edgePort, services.vars);
  const exited = once(wrangler, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    console.log(`dev:edge: ${signal}, stopping wrangler and the stand-ins …`);
    signalGroup(wrangler, "SIGTERM");
    const timer = setTimeout(() => signalGroup(wrangler, "SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
    await services.close();
    process.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => void stop(signal));

  const [code, signal] = await exited;
  if (stopping) return;
  // Wrangler ended on its own (bad config, port taken): don't leave the stand-ins running.
  signalGroup(wrangler, "SIGTERM");
  await services.close();
  fail(`wrangler dev exited (${signal ?? `code ${code}`})`);
}

const runDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runDirectly) {
  main().catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)));
}
