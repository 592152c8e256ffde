import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { migratePostgres } from "../../db/migrate";

/**
 * With DATABASE_URL set, the integration suites run on a throw-away database created on that
 * server (never on the database the URL names, which may hold real data) and dropped afterwards.
 * Without it they run on PGlite and the in-process cache. Either way the run says which.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const databaseUrl = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  const lines = [
    databaseUrl
      ? `real Postgres (${new URL(databaseUrl).host}) + PGlite`
      : "PGlite only (set DATABASE_URL for real Postgres and Neon-HTTP suites)",
    redisUrl
      ? `real Redis (${new URL(redisUrl).host}) + in-process`
      : "in-process cache only (set REDIS_URL for Redis and Upstash-REST suites)",
  ];
  console.log(`\n[integration] backing services: ${lines.join("; ")}\n`);
  if (!databaseUrl) return async () => {};

  const name = `edgelink_it_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  const testUrl = new URL(databaseUrl);
  testUrl.pathname = `/${name}`;
  await migratePostgres(testUrl.toString());
  project.provide("testDatabaseUrl", testUrl.toString());

  return async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query(`drop database if exists ${name} with (force)`);
    await client.end();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    testDatabaseUrl: string;
  }
}
