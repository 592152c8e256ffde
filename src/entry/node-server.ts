import { createServer } from "node:http";
import { getRequestListener } from "@hono/node-server";
import { createApp } from "../app";
import type { Config } from "../config";
import { createRedirectFastPath } from "../links/redirect-fast-path";
import { runMaintenance } from "../ops/maintenance";
import type { Logger } from "../platform/log/logger";
import { withFastRedirects } from "../platform/node/fast-redirect-listener";
import { startNodeClickConsumer } from "../platform/node/node-click-consumer";
import { createNodePlatform } from "../platform/node/node-platform";
import { createServices, type Platform } from "../services";

const maintenanceEveryMs = 60 * 60 * 1000;

/** A serving process: the app on one port, and how to stop it without dropping a request. */
export interface RunningServer {
  port: number;
  /** Stops accepting, lets in-flight requests finish within the deadline, then closes backends. */
  drain(): Promise<void>;
}

/**
 * Serves the app with `@hono/node-server`. Under `node:cluster` every worker calls this with the
 * same port and the primary shares the listening socket among them.
 */
export async function startServer(
  config: Config,
  logger: Logger,
  /**
   * `runsMaintenance`: this is the one process of the deployment that runs housekeeping.
   * `runsClickConsumer`: with Redis and CLICK_CONSUMER=auto, this process consumes the click stream.
   */
  options: {
    extend?: (platform: Platform) => Platform;
    runsMaintenance: boolean;
    runsClickConsumer: boolean;
  },
): Promise<RunningServer> {
  const base = await createNodePlatform(config, logger);
  const platform = options.extend ? options.extend(base) : base;
  const services = createServices(platform);
  const app = createApp(services);
  // The common redirect is answered before the app sees it; see createRedirectFastPath.
  const server = createServer(
    withFastRedirects(
      createRedirectFastPath(services),
      getRequestListener(app.fetch, { hostname: config.HOST }),
    ),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.PORT, config.HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Keep-alive longer than a typical load balancer's idle timeout, so the LB closes first.
  server.keepAliveTimeout = 65_000;
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.PORT;

  // One process per deployment runs housekeeping; failures are logged and retried next tick.
  const maintenance = options.runsMaintenance
    ? setInterval(() => {
        runMaintenance(services, new Date()).catch((error: unknown) =>
          logger.error("maintenance failed", { error }),
        );
      }, maintenanceEveryMs)
    : undefined;
  const clickConsumer =
    options.runsClickConsumer &&
    config.CLICK_CONSUMER === "auto" &&
    services.clickQueue.kind === "redis-stream"
      ? startNodeClickConsumer(config, {
          consumer: services.clickConsumer,
          metrics: platform.metrics,
          logger,
        })
      : undefined;

  let draining: Promise<void> | undefined;
  const drain = () => {
    draining ??= (async () => {
      clearInterval(maintenance);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = setTimeout(() => {
        logger.warn("drain deadline passed, closing remaining connections", {
          deadlineMs: config.SHUTDOWN_TIMEOUT_MS,
        });
        server.closeAllConnections();
      }, config.SHUTDOWN_TIMEOUT_MS);
      // Idle keep-alive sockets that become idle after close() are reaped as they go quiet.
      const reaper = setInterval(() => server.closeIdleConnections(), 250);
      await closed;
      clearTimeout(deadline);
      clearInterval(reaper);
      // Clicks of the last requests go to the queue, and the consumer finishes its batch, before
      // the connections they need close.
      await services.clickRecorder.drain?.();
      await services.clickQueue.close().catch(() => {});
      await clickConsumer?.stop().catch(() => {});
      // Local rate-limit admissions Redis has not seen yet go out before the connection closes.
      await services.rateLimiter.flush().catch(() => {});
      await Promise.allSettled([platform.db.close(), platform.cache.close()]);
    })();
    return draining;
  };
  return { port, drain };
}
