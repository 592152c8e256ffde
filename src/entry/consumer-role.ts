import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { createClickConsumer } from "../analytics/click-consumer";
import type { Config } from "../config";
import { createConsumerOpsApp } from "../ops/consumer-ops-routes";
import type { Logger } from "../platform/log/logger";
import { MetricsRegistry } from "../platform/metrics/metrics-registry";
import { startNodeClickConsumer } from "../platform/node/node-click-consumer";
import { createNodeCache, createNodeDatabase } from "../platform/node/node-platform";

/** A running consumer role: its metrics, the port of its listener (if any), and how to stop it. */
export interface RunningConsumerRole {
  metrics: MetricsRegistry;
  /** The port `/metrics` and `/healthz` answer on; undefined without CONSUMER_METRICS_PORT. */
  metricsPort?: number;
  /** Stops reading, finishes and acknowledges the batch in flight, closes the listener and backends. */
  stop(): Promise<void>;
}

/**
 * Starts the click consumer role: the Redis Streams consumer storing into Postgres and, with
 * CONSUMER_METRICS_PORT, a listener answering `/metrics` (METRICS_TOKEN applies) and `/healthz`.
 * The caller has checked that Redis and DATABASE_URL are configured.
 *
 * @example
 * const role = await startConsumerRole(loadConfig(process.env), logger);
 * process.once("SIGTERM", () => role.stop().then(() => process.exit(0)));
 */
export async function startConsumerRole(
  config: Config,
  logger: Logger,
  options: { yieldToServing?: boolean } = {},
): Promise<RunningConsumerRole> {
  const db = await createNodeDatabase(config, logger);
  const { cache } = createNodeCache(config);
  const metrics = new MetricsRegistry();
  const closeBackends = () => Promise.allSettled([db.close(), cache.close()]);

  // The listener first: a port already taken stops the role before it consumes anything.
  let server: Server | undefined;
  if (config.CONSUMER_METRICS_PORT !== undefined) {
    const app = createConsumerOpsApp({ metrics, metricsToken: config.METRICS_TOKEN });
    try {
      server = await new Promise<Server>((resolve, reject) => {
        const started = serve(
          { fetch: app.fetch, port: config.CONSUMER_METRICS_PORT, hostname: config.HOST },
          () => resolve(started as Server),
        ) as Server;
        started.once("error", reject);
      });
    } catch (error) {
      await closeBackends();
      throw error;
    }
  }
  const metricsPort = server ? (server.address() as AddressInfo).port : undefined;
  if (server) logger.info("metrics listening", { port: metricsPort, host: config.HOST });

  const consumer = createClickConsumer({ db, cache, metrics, logger, queue: "redis-stream" });
  const running = startNodeClickConsumer(config, {
    consumer,
    metrics,
    logger,
    yieldToServing: options.yieldToServing,
  });
  if (!running) {
    server?.close();
    await closeBackends();
    throw new Error("the consumer role needs Redis (REDIS_URL, or UPSTASH_REDIS_REST_URL and _TOKEN)");
  }

  let stopping: Promise<void> | undefined;
  return {
    metrics,
    metricsPort,
    stop() {
      stopping ??= (async () => {
        // Scrapes keep answering until the last batch is acknowledged, then the listener goes.
        await running.stop();
        if (server) {
          const closed = new Promise<void>((resolve) => server.close(() => resolve()));
          server.closeAllConnections();
          await closed;
        }
        await closeBackends();
      })();
      return stopping;
    },
  };
}
