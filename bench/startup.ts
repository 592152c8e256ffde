/**
 * `npx tsx bench/startup.ts [rounds] [bundle …]`: how long a Node bundle takes from `node` being
 * spawned until every one of its processes logged that it is listening (startEdgelink's own
 * readiness, as the scenarios start it), in the two shapes a host restarts it in — the embedded
 * single process on an existing PGlite data directory (migrated by a first, unmeasured start) and
 * a cluster of two workers on Postgres and Redis (`BENCH_DATABASE_URL`, default
 * postgres://postgres@127.0.0.1:5432/postgres; `BENCH_REDIS_URL`, default redis://127.0.0.1:6379/14).
 * Bundles (default dist/node/server.js) are started in turn, round by round; prints each start
 * and the median per bundle and shape. A worker that dies is replaced after about this long too.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median } from "./lib/report";
import { startEdgelink } from "./lib/servers";

const rounds = Number(process.argv[2] ?? 3);
const bundles = process.argv.length > 3 ? process.argv.slice(3) : ["dist/node/server.js"];
const databaseUrl = process.env.BENCH_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379/14";
const dataRoot = mkdtempSync(join(tmpdir(), "edgelink-startup-"));

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

/** Milliseconds from spawn until every process of the bundle is listening. */
async function start(bundle: string, settings: Record<string, string>): Promise<number> {
  const startedAt = performance.now();
  const server = await startEdgelink({ name: bundle, settings, cores: undefined, bundle });
  const ms = performance.now() - startedAt;
  await server.stop();
  return ms;
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
        console.log(`round ${round}  ${key}: listening in ${ms.toFixed(0)} ms`);
      }
    }
  }
  console.log("\nmedian [min–max] ms from spawn until every process is listening:");
  for (const [key, values] of times) {
    const shown = `${median(values).toFixed(0)} [${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}]`;
    console.log(`  ${key}: ${shown}`);
  }
} finally {
  rmSync(dataRoot, { recursive: true, force: true });
}
