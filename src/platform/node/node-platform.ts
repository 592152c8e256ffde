import { hash } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { resolve } from "node:path";
import { Redis } from "@upstash/redis";
import type { Redis as IORedis } from "ioredis";
import type { Config } from "../../config";
import type { Platform } from "../../services";
import type { Cache } from "../cache/cache";
import { MemoryCache } from "../cache/memory-cache";
import { UpstashCache } from "../cache/upstash-cache";
import type { Database } from "../db/database";
import { createNodePostgresDatabase } from "../db/node-postgres-database";
import { createPgliteDatabase } from "../db/pglite-database";
import type { Logger } from "../log/logger";
import { MetricsRegistry } from "../metrics/metrics-registry";
import { lockDataDir } from "./data-dir-lock";
import { createRedisStreamClickQueue } from "./redis-stream-click-queue";
import { createTcpRequester } from "./redis-tcp-requester";
import { keepTickShape } from "./tick-shape";

/** Committed drizzle-kit migrations, resolved from the working directory (the repo or image root). */
export const migrationsFolder = resolve("db/migrations");

/** Which Postgres a Node process talks to: a real one when DATABASE_URL is set, else embedded PGlite. */
export function usesEmbeddedDatabase(config: Config): boolean {
  return !config.DATABASE_URL;
}

export async function createNodeDatabase(config: Config, logger: Logger): Promise<Database> {
  // First thing at start, before PGlite's start-up GCs can take the class of nextTick's tasks.
  keepTickShape();
  if (!config.DATABASE_URL) {
    if (config.PGLITE_DATA_DIR.includes("://")) {
      return createPgliteDatabase({ dataDir: config.PGLITE_DATA_DIR, migrationsFolder });
    }
    await mkdir(config.PGLITE_DATA_DIR, { recursive: true });
    const release = await lockDataDir(config.PGLITE_DATA_DIR);
    try {
      const db = await createPgliteDatabase({ dataDir: config.PGLITE_DATA_DIR, migrationsFolder });
      return { ...db, close: () => db.close().finally(release) };
    } catch (error) {
      await release();
      throw error;
    }
  }
  return createNodePostgresDatabase({
    url: config.DATABASE_URL,
    replicaUrls: config.DATABASE_REPLICA_URLS,
    poolMax: config.DATABASE_POOL_MAX,
    statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    logger,
  });
}

/**
 * Upstash REST when its URL is set, a standard Redis over TCP for REDIS_URL, else in-process. With
 * REDIS_URL, `tcp` is the connection behind the requester, for the hot paths that skip the
 * REST-shaped client (the click stream producer).
 */
export function createNodeCache(config: Config): { cache: Cache; redis?: Redis; tcp?: IORedis } {
  if (config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN) {
    const redis = new Redis({
      url: config.UPSTASH_REDIS_REST_URL,
      token: config.UPSTASH_REDIS_REST_TOKEN,
      enableTelemetry: false,
    });
    return { cache: new UpstashCache(redis, "upstash-rest"), redis };
  }
  if (config.REDIS_URL) {
    const requester = createTcpRequester(config.REDIS_URL);
    const redis = new Redis(requester);
    return {
      cache: new UpstashCache(redis, "redis-tcp", () => requester.close()),
      redis,
      tcp: requester.client,
    };
  }
  return { cache: new MemoryCache() };
}

/**
 * Builds the Node platform from validated config; the caller owns `close`. With Redis (TCP or
 * Upstash REST) click events go to a Redis Stream; without, to the in-process queue (the default).
 */
export async function createNodePlatform(config: Config, logger: Logger): Promise<Platform> {
  const db = await createNodeDatabase(config, logger);
  const { cache, redis, tcp } = createNodeCache(config);
  const clickQueue = redis
    ? createRedisStreamClickQueue(redis, {
        key: config.CLICK_STREAM_KEY,
        maxLen: config.CLICK_STREAM_MAXLEN,
        tcp,
      })
    : undefined;
  return {
    runtime: "node",
    config,
    db,
    cache,
    redis,
    clickQueue,
    metrics: new MetricsRegistry(),
    logger,
    sha256Hex: (text) => hash("sha256", text, "hex"),
  };
}
