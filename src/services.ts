import type { Redis } from "@upstash/redis";
import { type ClickRecorder, createMetricsClickRecorder } from "./analytics/click-recorder";
import { createApiKeyRepository } from "./auth/api-key-repository";
import { type ApiKeyService, createApiKeyService } from "./auth/api-key-service";
import type { Config } from "./config";
import { LinkCache } from "./links/link-cache";
import { createLinkRepository, type LinkRepository } from "./links/link-repository";
import { createLinkService, type LinkService } from "./links/link-service";
import type { Cache } from "./platform/cache/cache";
import type { Database } from "./platform/db/database";
import type { Logger } from "./platform/log/logger";
import type { MetricsRegistry, MetricsSnapshot } from "./platform/metrics/metrics-registry";
import { createRateLimiter } from "./ratelimit/create-rate-limiter";
import type { RateLimiter } from "./ratelimit/rate-limiter";
import { createWorkspaceRepository, type WorkspaceRepository } from "./workspaces/workspace-repository";

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
  /** Where served redirects go after the response; defaults to counting them in metrics. */
  clickRecorder?: ClickRecorder;
}

/** Everything handlers reach through `c.var.services`: the platform plus the repositories. */
export interface Services extends Platform {
  links: LinkRepository;
  linkService: LinkService;
  clickRecorder: ClickRecorder;
  workspaces: WorkspaceRepository;
  apiKeys: ApiKeyService;
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
    },
    { metrics, logger },
  );
  return {
    ...platform,
    links,
    linkService: createLinkService({ links, cache: linkCache, config }),
    clickRecorder: platform.clickRecorder ?? createMetricsClickRecorder(metrics),
    workspaces: createWorkspaceRepository(platform.db),
    apiKeys: createApiKeyService({
      repository: createApiKeyRepository(platform.db),
      cache: platform.cache,
      logger: platform.logger,
      localTtlSeconds: platform.config.API_KEY_CACHE_TTL_SECONDS,
    }),
    rateLimiter: createRateLimiter(platform),
  };
}
