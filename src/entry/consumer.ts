import { ConfigError, loadConfig } from "../config";
import { errorMessage } from "../platform/log/error-message";
import { createLogger } from "../platform/log/logger";
import { startConsumerRole } from "./consumer-role";

/**
 * The click consumer as its own role (`npm run consumer`): reads the Redis Stream the servers write
 * to and stores the clicks, nothing else. Run as many as you like: they share the consumer group,
 * and each claims what a dead one left pending. Pair it with CLICK_CONSUMER=off on the servers, or
 * let it run beside the server's own consumer. SIGTERM/SIGINT: stop reading, finish and acknowledge
 * the batch in flight, exit 0. With CONSUMER_METRICS_PORT it also answers `/metrics` and `/healthz`.
 */
async function main(): Promise<void> {
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`edgelink consumer: ${error.message}`);
    process.exit(1);
  }
  const logger = createLogger({
    level: config.LOG_LEVEL,
    base: { service: "edgelink-consumer", pid: process.pid },
  });
  if (!config.REDIS_URL && !config.UPSTASH_REDIS_REST_URL) {
    logger.error("the consumer role needs Redis: set REDIS_URL (or UPSTASH_REDIS_REST_URL and _TOKEN)");
    process.exit(1);
  }
  if (!config.DATABASE_URL) {
    // The embedded PGlite belongs to the server process; a second process cannot open it.
    logger.error("the consumer role needs DATABASE_URL: the embedded database belongs to the server");
    process.exit(1);
  }
  const role = await startConsumerRole(config, logger);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping", { signal });
    await role.stop();
    logger.info("stopped", { metrics: role.metrics.snapshot() });
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
}

main().catch((error: unknown) => {
  console.error(`edgelink consumer: failed: ${errorMessage(error)}`);
  process.exit(1);
});
