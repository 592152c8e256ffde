/**
 * What the data scenarios (import-stream, export-stream, stats) share: the edgelink they measure,
 * the bench scripts they run in their own processes, and a harness-side connection for seeding
 * and checks.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { type Cores, captureOutput, nodeBinary, placement, sleep, spawnOn } from "./proc";
import type { Context } from "./scenario";
import { type Server, startEdgelink } from "./servers";

export const defaultSize = 1_000_000;
/** edgelink's defaults, which the baselines copy so that the work is the same. */
export const importBatch = 500;
export const importConcurrency = 3;
export const exportPageSize = 2_000;
/** A job run that takes longer than this is stopped and reported as failed, not waited for. */
const jobTimeoutMs = 240_000;
const unreached = "1000000000/60s";

/** Runs a bench script in its own process on `cores` and answers its BENCH_JSON line. */
export async function runChild<T>(script: string, input: unknown, cores: Cores): Promise<T> {
  let argument = JSON.stringify(input);
  // A long list (stats questions) goes through a file: argv is bounded by the OS.
  const dir = argument.length > 64_000 ? mkdtempSync(join(tmpdir(), "edgelink-bench-")) : undefined;
  if (dir) {
    writeFileSync(join(dir, "input.json"), argument);
    argument = join(dir, "input.json");
  }
  const child = spawnOn(cores, nodeBinary, [resolve(script), argument], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let json: T | undefined;
  const output = captureOutput(child, (line) => {
    if (line.startsWith("BENCH_JSON ")) json = JSON.parse(line.slice("BENCH_JSON ".length)) as T;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), jobTimeoutMs);
  const code = await new Promise<number | null>((done) => child.once("exit", done));
  clearTimeout(timer);
  if (dir) rmSync(dir, { recursive: true, force: true });
  for (let i = 0; i < 20 && !json; i += 1) await sleep(25);
  if (code !== 0 || !json) throw new Error(`${script} failed (exit ${code}):\n${output.join("\n")}`);
  return json;
}

/** A harness-side connection to the throw-away database, for seeding and checks. */
export async function harnessClient(ctx: Context): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: (await ctx.postgres()).url });
  client.on("error", () => {});
  await client.connect();
  return client;
}

export async function benchWorkspace(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ id: string }>(
    "select id from workspaces where name = 'bench' order by created_at limit 1",
  );
  if (!rows[0]) throw new Error("no bench workspace");
  return rows[0].id;
}

/** edgelink as `npm start` runs it on Postgres + Redis, ONE worker: a job is one request. */
export async function startDataServer(ctx: Context, settings: Record<string, string>): Promise<Server> {
  const redis = await ctx.redis();
  return startEdgelink({
    name: "edgelink×1",
    settings: {
      DATABASE_URL: (await ctx.postgres()).url,
      REDIS_URL: redis.url,
      WEB_CONCURRENCY: "1",
      RATE_LIMIT_API_READ: unreached,
      RATE_LIMIT_API_WRITE: unreached,
      ...settings,
    },
    cores: placement.singleServer,
    profileDir: ctx.profileDir,
    bundle: ctx.bundle,
  });
}

/** The cluster's workers (the primary only supervises; the worker serves the request). */
export const workersOf = (server: Server) => () => server.pids().slice(1);

export const int = (n: number) => n.toLocaleString("en-US");
