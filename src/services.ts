import type { Redis } from "@upstash/redis";
import { type ClickConsumer, createClickConsumer } from "./analytics/click-consumer";
import type { ClickQueue } from "./analytics/click-queue";
import {
  type ClickRecorder,
  createClickRecorder,
  createDisabledClickRecorder,
} from "./analytics/click-recorder";
import { createApiKeyRepository } from "./auth/api-key-repository";
import { type ApiKeyService, createApiKeyService } from "./auth/api-key-service";
import { createTokenService, type TokenService } from "./auth/token-service";
import type { Config } from "./config";
import { LinkCache } from "./links/link-cache";
import { createLinkRepository, type LinkRepository } from "./links/link-repository";
import { createLinkService, type LinkService } from "./links/link-service";
import type { Cache } from "./platform/cache/cache";
import type { Database } from "./platform/db/database";
import type { Logger } from "./platform/log/logger";
import type { MetricsRegistry, MetricsSnapshot } from "./platform/metrics/metrics-registry";
import { createInProcessClickQueue } from "./platform/queue/in-process-click-queue";
import { createRateLimiter } from "./ratelimit/create-rate-limiter";
import type { RateLimiter } from "./ratelimit/rate-limiter";
import { createWorkspaceRepository, type WorkspaceRepository } from "./workspaces/workspace-repository";

/** CLICK_BATCH_SIZE unset: PGlite stores an in-process batch inside the serving process. */
const inProcessBatchSize = 100;

export type Runtime = "node" | "workerd";

/** What a runtime entry builds from its config and hands to `createApp`. */
export interface Platform {
  runtime: Runtime;
  config: Config;
  db: Database;
  cache: Cache;
  /**
   * The `@upstash/redis` client behind `cache` when Redis is configured (REST or TCP requester),
   * for the libraries that take one directly (`@upstash/ratelimit`); undefined on the embedded default.
   */
  redis?: Redis;
  metrics: MetricsRegistry;
  logger: Logger;
  /**
   * Snapshots of every process serving this port, for `/metrics`. A Node cluster gathers them from
   * all workers; a single process or an isolate answers its own.
   */
  collectMetrics?: () => Promise<MetricsSnapshot[]>;
  /**
   * Where click events go after the response: Redis Streams (Node with Redis) or Cloudflare Queues
   * (edge); defaults to the in-process queue consumed by this process into `db`.
   */
  clickQueue?: ClickQueue;
  /** SHA-256 as hex for visitor hashes when the runtime has a faster one than Web Crypto (Node). */
  sha256Hex?: (text: string) => string;
}

/** Everything handlers reach through `c.var.services`: the platform plus the repositories. */
export interface Services extends Platform {
  links: LinkRepository;
  linkService: LinkService;
  /** Classifies, enriches and queues each served redirect, after the response. */
  clickRecorder: ClickRecorder;
  clickQueue: ClickQueue;
  /** Stores batches from the queue (idempotently) and keeps the live counters; see click-consumer.ts. */
  clickConsumer: ClickConsumer;
  workspaces: WorkspaceRepository;
  apiKeys: ApiKeyService;
  /** Short-lived tokens for API keys, verified with no database or cache (off without JWT_SECRET). */
  tokens: TokenService;
  /** Redis-backed (`@upstash/ratelimit`, local-first for redirects) when `redis` is set, else in-process. */
  rateLimiter: RateLimiter;
}

/** Wires repositories (and, as they arrive, services) once per process or isolate. */
export function createServices(platform: Platform): Services {
  const { config, metrics, logger } = platform;
  const links = createLinkRepository(platform.db);
  const linkCache = new LinkCache(
    platform.cache,
    {
      localTtlSeconds: config.LINK_CACHE_LOCAL_TTL_SECONDS,
      localMax: config.LINK_CACHE_LOCAL_MAX,
      redisTtlSeconds: config.LINK_CACHE_REDIS_TTL_SECONDS,
      negativeTtlSeconds: config.NEGATIVE_CACHE_TTL_SECONDS,
      shared: platform.cache.kind !== "memory",
    },
    { metrics, logger },
  );
  const clickConsumer = createClickConsumer({
    db: platform.db,
    cache: platform.cache,
    metrics,
    logger,
    queue: platform.clickQueue?.kind ?? "in-process",
  });
  const clickQueue = platform.clickQueue ?? embeddedClickQueue(clickConsumer, platform);
  return {
    ...platform,
    links,
    linkService: createLinkService({ links, cache: linkCache, config }),
    clickRecorder:
      config.CLICK_RECORDING === "on"
        ? createClickRecorder({
            queue: clickQueue,
            cache: platform.cache,
            metrics,
            sha256Hex: platform.sha256Hex,
            // workerd keeps each request's I/O and promises in that request's context: no batch
            // may mix two requests' clicks there.
            ...(platform.runtime === "workerd" ? { maxBatch: 1 } : { windowMs: config.CLICK_HANDOFF_MS }),
          })
        : createDisabledClickRecorder(metrics),
    clickQueue,
    clickConsumer,
    workspaces: createWorkspaceRepository(platform.db),
    apiKeys: createApiKeyService({
      repository: createApiKeyRepository(platform.db),
      cache: platform.cache,
      logger: platform.logger,
      localTtlSeconds: platform.config.API_KEY_CACHE_TTL_SECONDS,
    }),
    tokens: createTokenService({
      secret: config.JWT_SECRET,
      previousSecrets: config.JWT_PREVIOUS_SECRETS,
      issuer: config.JWT_ISSUER,
      audience: config.JWT_AUDIENCE,
      defaultTtlSeconds: config.JWT_TTL_SECONDS,
      maxTtlSeconds: config.JWT_MAX_TTL_SECONDS,
    }),
    rateLimiter: createRateLimiter(platform),
  };
}

/**
 * The embedded default: clicks batch in memory and this process stores them. Without a durable
 * queue there is nowhere to park poison, so a rejected event is logged and counted.
 */
function embeddedClickQueue(consumer: ClickConsumer, platform: Platform): ClickQueue {
  const { config, metrics, logger } = platform;
  const label = { queue: "in-process" };
  return createInProcessClickQueue({
    maxBatch: config.CLICK_BATCH_SIZE ?? inProcessBatchSize,
    flushMs: config.CLICK_FLUSH_MS,
    async deliver(events) {
      const { rejected } = await consumer.consume(events);
      for (const { event, error } of rejected) {
        metrics.counter("click_queue_dead_lettered_total", "Click events parked as poison", {
          ...label,
          reason: "rejected-by-database",
        });
        logger.error("click event rejected by the database; dropped", { event, error });
      }
    },
    onRetry: (attempt, error) => {
      metrics.counter("click_queue_retries_total", "Click batches retried", { ...label, cause: "ingest" });
      logger.warn("click batch not stored; will retry", { attempt, error });
    },
    onDrop: (count, reason, error) => {
      metrics.counter("clicks_dropped_total", "Click events the queue did not take", { reason }, count);
      logger.error("click events dropped", { count, reason, error });
    },
  });
}
