import cluster from "node:cluster";
import { availableParallelism, getPriority, setPriority } from "node:os";
import { type Config, ConfigError, loadConfig } from "../config";
import { errorMessage } from "../platform/log/error-message";
import { createLogger, type Logger } from "../platform/log/logger";
import { usesEmbeddedDatabase } from "../platform/node/node-platform";
import { type RunningConsumerRole, startConsumerRole } from "./consumer-role";
import { withJwtSecret } from "./jwt-secret";
import {
  clusterRoles,
  joinClusterMetrics,
  type ProcessRole,
  processRoleVariable,
  superviseWorkers,
  workerExecArgv,
} from "./node-cluster";
import { type RunningServer, startServer } from "./node-server";

/**
 * The self-hosted entry. With a real Postgres it runs a `node:cluster` of WEB_CONCURRENCY workers
 * (default: available parallelism) sharing one port, and with Redis and CLICK_CONSUMER=auto one
 * more process that consumes the click stream at a lower CPU priority; on the embedded PGlite,
 * whose data directory one process owns, it serves (and consumes) from a single process.
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
    // Before any fork: workers read it from the environment they inherit.
    config = withJwtSecret(config, process.env, logger);
    if (usesEmbeddedDatabase(config)) {
      logger.info("embedded PGlite owns its data directory: serving from a single process", {
        dataDir: config.PGLITE_DATA_DIR,
      });
      return serveUntilSignal(config, logger, false);
    }
    const count = config.WEB_CONCURRENCY ?? availableParallelism();
    // Signal handlers go in before the log line, so a SIGTERM right after it is never fatal.
    const execArgv = workerExecArgv(process.execArgv, process.env.NODE_OPTIONS, config.V8_MAX_SEMI_SPACE_MB);
    const withConsumer =
      config.CLICK_CONSUMER === "auto" && Boolean(config.REDIS_URL || config.UPSTASH_REDIS_REST_URL);
    const processes = clusterRoles(count, withConsumer);
    superviseWorkers({ processes, shutdownTimeoutMs: config.SHUTDOWN_TIMEOUT_MS, logger, execArgv });
    logger.info("starting cluster", {
      workers: count,
      clickConsumer: withConsumer ? `own process, nice +${config.CLICK_CONSUMER_NICE}` : "none",
      port: config.PORT,
      execArgv,
    });
    return;
  }
  const role = (process.env[processRoleVariable] ?? "server") as ProcessRole;
  if (role === "consumer") return consumeUntilSignal(config, logger);
  return serveUntilSignal(config, logger, true, role === "server+maintenance");
}

/** The cluster's click consumer process: no listener of its own, its metrics in the cluster's. */
async function consumeUntilSignal(config: Config, logger: Logger): Promise<void> {
  let role: RunningConsumerRole | undefined;
  let stopping = false;
  const stop = async (reason: string) => {
    if (stopping) return;
    stopping = true;
    logger.info("stopping click consumer", { reason });
    // A batch in flight is stored and acknowledged first; what is left stays in the stream.
    await role?.stop();
    logger.info("stopped");
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
  // Its metrics reach operators through the cluster's /metrics, not a port of its own.
  // A signal during start-up has already exited the process (there was no role to stop).
  role = await startConsumerRole({ ...config, CONSUMER_METRICS_PORT: undefined }, logger, {
    yieldToServing: config.CLICK_CONSUMER_NICE > 0,
  });
  const running = role;
  joinClusterMetrics(() => running.metrics.snapshot());
  // Lowered once running, not at fork: start-up and shutdown stay as quick as the web workers'.
  const nice = getPriority() + config.CLICK_CONSUMER_NICE;
  try {
    setPriority(Math.min(19, nice));
  } catch (error) {
    logger.warn("could not lower the consumer's CPU priority", { nice, error });
  }
  logger.info("consuming clicks", { nice: getPriority() });
}

async function serveUntilSignal(
  config: Config,
  logger: Logger,
  inCluster: boolean,
  runsMaintenance = !inCluster,
): Promise<void> {
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
  // Listen before starting: the primary's SIGTERM while this worker is still connecting must
  // stop it, not leave it serving after the rest has gone.
  process.once("SIGTERM", () => void stop("SIGTERM"));
  process.once("SIGINT", () => void stop("SIGINT"));
  const started = performance.now();
  server = await startServer(config, logger, {
    extend: (platform) =>
      inCluster
        ? { ...platform, collectMetrics: joinClusterMetrics(() => platform.metrics.snapshot()) }
        : platform,
    runsMaintenance,
    // In a cluster the consumer has a process of its own.
    runsClickConsumer: !inCluster,
  });
  logger.info("listening", {
    port: server.port,
    startupMs: Math.round(performance.now() - started),
    address: `http://${config.HOST === "0.0.0.0" ? "localhost" : config.HOST}:${server.port}`,
  });
}

main().catch((error: unknown) => {
  console.error(`edgelink: failed to start: ${errorMessage(error)}`);
  process.exit(1);
});
