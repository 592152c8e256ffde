import { inject } from "vitest";
import { createApp } from "../../src/app";
import { loadConfig } from "../../src/config";
import type { Cache } from "../../src/platform/cache/cache";
import type { Database } from "../../src/platform/db/database";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import { createNodeCache, createNodeDatabase } from "../../src/platform/node/node-platform";
import { createServices, type Services } from "../../src/services";

export interface TestApp {
  app: ReturnType<typeof createApp>;
  services: Services;
  /** Log lines written while the app ran, for asserting what reaches (and never reaches) logs. */
  logs: string[];
  close(): Promise<void>;
}

/**
 * The app on this run's backing services: the throw-away real Postgres and REDIS_URL when given,
 * PGlite in memory and the in-process cache otherwise. `overrides` swaps in broken dependencies.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  overrides: { db?: Database; cache?: Cache } = {},
): Promise<TestApp> {
  const databaseUrl = inject("testDatabaseUrl");
  const config = loadConfig({
    PGLITE_DATA_DIR: "memory://",
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    READINESS_TIMEOUT_MS: "500",
    ...env,
  });
  const logs: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => logs.push(line) });
  const db = overrides.db ?? (await createNodeDatabase(config, logger));
  const { cache, redis } = overrides.cache
    ? { cache: overrides.cache, redis: undefined }
    : createNodeCache(config);
  const services = createServices({
    runtime: "node",
    config,
    db,
    cache,
    redis,
    metrics: new MetricsRegistry(),
    logger,
  });
  return {
    app: createApp(services),
    services,
    logs,
    close: async () => {
      // Clicks still buffered in the in-process queue are stored before the database goes.
      await services.clickRecorder.drain?.();
      await services.clickQueue.close().catch(() => {});
      await Promise.allSettled([db.close(), cache.close()]);
    },
  };
}
