/**
 * `npx tsx bench/startup.ts [rounds] [bundle …]`: how long a Node bundle takes from `node` being
 * spawned to its first 200 on `/healthz`, in the two shapes a host restarts it in — the embedded
 * single process on an existing PGlite data directory (migrated by a first, unmeasured start) and a
 * cluster of two workers on Postgres and Redis (`BENCH_DATABASE_URL`, default
 * postgres://postgres@127.0.0.1:5432/postgres; `BENCH_REDIS_URL`, default redis://127.0.0.1:6379/14).
 * Bundles (default dist/node/server.js) are started in turn, round by round; prints each start
 * and the median per bundle and shape. A worker that dies is replaced after this long too.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median } from "./lib/report";

const rounds = Number(process.argv[2] ?? 3);
const bundles = process.argv.length > 3 ? process.argv.slice(3) : ["dist/node/server.js"];
const databaseUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379/14";
const dataRoot = mkdtempSync(join(tmpdir(), "edgelink-startup-"));
let nextPort = 19_300;

const shapes: Record<string, (bundle: string) => Record<string, string>> = {
  "embedded PGlite, restart": (bundle) => ({
    PGLITE_DATA_DIR: join(dataRoot, String(bundles.indexOf(bundle))),
  }),
  "cluster ×2 on Postgres + Redis": () => ({
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    WEB_CONCURRENCY: "2",
  }),
};

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await exited;
}

/** Milliseconds from spawn to the first 200 on /healthz. */
async function start(bundle: string, settings: Record<string, string>): Promise<number> {
  const port = nextPort++;
  const env = { ...process.env, ...settings, PORT: String(port), NODE_ENV: "production", LOG_LEVEL: "error" };
  const startedAt = performance.now();
  const child = spawn(process.execPath, ["--enable-source-maps", bundle], {
    env,
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${bundle} exited ${child.exitCode} before it was ready`);
      if (performance.now() - startedAt > 60_000) throw new Error(`${bundle} not ready within 60 s`);
      const ready = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return performance.now() - startedAt;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    await stop(child);
  }
}

try {
  for (const bundle of bundles) await start(bundle, shapes["embedded PGlite, restart"]!(bundle));
  const times = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round += 1) {
    for (const [shape, settings] of Object.entries(shapes)) {
      for (const bundle of bundles) {
        const ms = await start(bundle, settings(bundle));
        const key = `${bundle} · ${shape}`;
        times.set(key, [...(times.get(key) ?? []), ms]);
        console.log(`round ${round}  ${key}: ready in ${ms.toFixed(0)} ms`);
      }
    }
  }
  console.log("\nmedian [min–max] ms from spawn to the first 200 on /healthz:");
  for (const [key, values] of times) {
    const shown = `${median(values).toFixed(0)} [${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}]`;
    console.log(`  ${key}: ${shown}`);
  }
} finally {
  rmSync(dataRoot, { recursive: true, force: true });
}
