/**
 * `npm run db:migrate`: applies the committed drizzle-kit migrations to DATABASE_URL (or to the
 * embedded PGlite data directory when it is unset). Safe to re-run: applied migrations are skipped.
 */
import { readdir } from "node:fs/promises";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import pg from "pg";
import { ConfigError, loadConfig } from "../src/config";
import { createLogger } from "../src/platform/log/logger";
import { createNodeDatabase, migrationsFolder } from "../src/platform/node/node-platform";

/** Migrates the database at `url`; answers how many migration files the folder holds. */
export async function migratePostgres(url: string): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  pool.on("error", () => {});
  try {
    await migrate(drizzle({ client: pool }), { migrationsFolder });
  } finally {
    await pool.end();
  }
  return (await readdir(migrationsFolder)).filter((name) => name.endsWith(".sql")).length;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const started = performance.now();
  if (config.DATABASE_URL) {
    const target = new URL(config.DATABASE_URL);
    console.log(`migrating ${target.hostname}:${target.port || 5432}${target.pathname} …`);
    const count = await migratePostgres(config.DATABASE_URL);
    console.log(
      `done: ${count} migration(s) present, all applied (${Math.round(performance.now() - started)} ms)`,
    );
    return;
  }
  console.log(`DATABASE_URL unset: migrating embedded PGlite at ${config.PGLITE_DATA_DIR} …`);
  const db = await createNodeDatabase(config, createLogger({ level: "warn" }));
  await db.close();
  console.log(`done (${Math.round(performance.now() - started)} ms)`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    const message =
      error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error);
    console.error(`db:migrate failed: ${message}`);
    process.exit(1);
  });
}
