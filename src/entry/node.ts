import cluster from "node:cluster";
import { availableParallelism } from "node:os";
import { type Config, ConfigError, loadConfig } from "../config";
import { createLogger, type Logger } from "../platform/log/logger";
import { usesEmbeddedDatabase } from "../platform/node/node-platform";
import { joinClusterMetrics, superviseWorkers, workerExecArgv } from "./node-cluster";
import { type RunningServer, startServer } from "./node-server";

/**
 * The self-hosted entry. With a real Postgres it runs a `node:cluster` of WEB_CONCURRENCY workers
 * (default: available parallelism) sharing one port; on the embedded PGlite, whose data directory
 * one process owns, it serves from a single process.
 */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`edgelink: ${error.message}`);
    process.exit(1);
  }
  const logger = createLogger({ level: config.LOG_LEVEL, base: { service: "edgelink", pid: process.pid } });

  if (cluster.isPrimary) {
    if (usesEmbeddedDatabase(config)) {
      logger.info("embedded PGlite owns its data directory: serving from a single process", {
        dataDir: config.PGLITE_DATA_DIR,
      });
      return serveUntilSignal(config, logger, false);
    }
    const count = config.WEB_CONCURRENCY ?? availableParallelism();
    // Signal handlers go in before the log line, so a SIGTERM right after it is never fatal.
    const execArgv = workerExecArgv(process.execArgv, process.env.NODE_OPTIONS, config.V8_MAX_SEMI_SPACE_MB);
    superviseWorkers({ count, shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS, logger, execArgv });
    logger.info("starting cluster", { workers: count, port: config.PORT, execArgv });
    return;
  }
  return serveUntilSignal(config, logger, true);
}

async function serveUntilSignal(config: Config, logger: Logger, inCluster: boolean): Promise<void> {
  let server: RunningServer | undefined;
  const stop = async (reason: string) => {
    if (!server) {
      // Asked to stop while still starting: nothing is served yet, so there is nothing to drain.
      logger.info("stopped before listening", { reason });
      process.exit(0);
    }
    logger.info("draining", { reason, deadlineMs: config.SHUTDOWN_TIMEOUT_MS });
    await server.drain();
    logger.info("stopped");
    process.exit(0);
  };
  // Listen before starting: a shutdown the primary sends while this worker is still connecting
  // would otherwise reach no listener and be lost, leaving the worker serving after SIGTERM.
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
  if (inCluster) {
    process.on("message", (message: { type?: string }) => {
      if (message?.type === "shutdown") void stop("primary asked");
    });
  }
  const started = performance.now();
  server = await startServer(config, logger, {
    extend: (platform) =>
      inCluster
        ? { ...platform, collectMetrics: joinClusterMetrics(() => platform.metrics.snapshot()) }
        : platform,
    runsMaintenance: !inCluster || cluster.worker?.id === 1,
  });
  logger.info("listening", {
    port: server.port,
    startupMs: Math.round(performance.now() - started),
    address: `http://${config.HOST === "0.0.0.0" ? "localhost" : config.HOST}:${server.port}`,
  });
}

main().catch((error: unknown) => {
  console.error(`edgelink: failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
