import type { ExportedHandler } from "@cloudflare/workers-types";
import { Redis } from "@upstash/redis/cloudflare";
import { createApp } from "../app";
import { ConfigError, loadConfig } from "../config";
import { AppError, toProblem } from "../http/errors";
import { runMaintenance } from "../ops/maintenance";
import type { Cache } from "../platform/cache/cache";
import { MemoryCache } from "../platform/cache/memory-cache";
import { UpstashCache } from "../platform/cache/upstash-cache";
import {
  consumeQueueBatch,
  createCloudflareClickQueue,
  type QueueProducer,
} from "../platform/cloudflare/cloudflare-click-queue";
import { createNeonHttpDatabase } from "../platform/db/neon-http-database";
import { createLogger } from "../platform/log/logger";
import { MetricsRegistry } from "../platform/metrics/metrics-registry";
import { createServices } from "../services";

/**
 * Worker bindings: plain variables and secrets, all validated by `loadConfig`, and `CLICKS`, the
 * Cloudflare Queues producer for click events (wrangler.toml `[[queues.producers]]`).
 */
export type Env = Record<string, unknown> & { CLICKS?: QueueProducer };

type Built = { app: ReturnType<typeof createApp>; services: ReturnType<typeof createServices> };

/**
 * One app per isolate, built on the first request from that isolate's bindings. Neon over HTTP and
 * Upstash over REST hold no sockets, so nothing here outlives a request in a way workerd forbids.
 */
let built: { env: Env; value: Built } | undefined;

function build(env: Env): Built {
  if (built?.env === env) return built.value;
  const config = loadConfig(env);
  if (!config.DATABASE_URL)
    throw new ConfigError("invalid configuration: DATABASE_URL (missing): required on the edge");
  const logger = createLogger({ level: config.LOG_LEVEL, base: { service: "edgelink", runtime: "workerd" } });
  const redis =
    config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN
      ? new Redis({
          url: config.UPSTASH_REDIS_REST_URL,
          token: config.UPSTASH_REDIS_REST_TOKEN,
          enableTelemetry: false,
        })
      : undefined;
  const cache: Cache = redis
    ? new UpstashCache(redis, "upstash-rest")
    : new MemoryCache({ maxEntries: 10_000 });
  if (cache.kind === "memory") logger.warn("no Upstash Redis configured: caching per isolate only");
  const db = createNeonHttpDatabase({
    url: config.DATABASE_URL,
    replicaUrls: config.DATABASE_REPLICA_URLS,
    fetchEndpoint: config.NEON_FETCH_ENDPOINT,
  });
  const services = createServices({
    runtime: "workerd",
    config,
    db,
    cache,
    redis,
    metrics: new MetricsRegistry(),
    logger,
    // Without the binding (a misconfigured deploy) clicks fall back to the isolate's in-process queue.
    clickQueue: env.CLICKS ? createCloudflareClickQueue(env.CLICKS) : undefined,
  });
  if (!env.CLICKS) logger.warn("no CLICKS queue binding: click events batch per isolate only");
  // Isolates cannot agree on a generated secret, so without the JWT_SECRET secret there are no tokens.
  if (!config.JWT_SECRET)
    logger.warn("no JWT_SECRET: POST /api/v1/auth/token answers 503, tokens are refused");
  const value = { app: createApp(services), services };
  built = { env, value };
  return value;
}

/** Hono's request-id rule: a client id is kept when it is 1-255 characters of [\w=-]. */
function requestIdFor(request: Request): string {
  const fromClient = request.headers.get("X-Request-Id");
  return fromClient && fromClient.length <= 255 && /^[\w\-=]+$/.test(fromClient)
    ? fromClient
    : crypto.randomUUID();
}

/** A bad binding answers a 503 problem naming it, instead of an opaque exception page. */
function misconfigured(error: unknown, request: Request): Response {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`edgelink: ${error.message}`);
  const requestId = requestIdFor(request);
  const problem = toProblem(
    new AppError("DEPENDENCY_UNAVAILABLE", { detail: error.message }),
    requestId,
    new URL(request.url).pathname,
  );
  return Response.json(problem, {
    status: 503,
    headers: {
      "Content-Type": "application/problem+json",
      "X-Request-Id": requestId,
      "Cache-Control": "no-store",
    },
  });
}

export default {
  // workers-types and the DOM lib each declare Request/Response; at run time they are the same class.
  fetch(request, env, ctx) {
    try {
      return build(env).app.fetch(request as unknown as Request, env, ctx) as never;
    } catch (error) {
      return misconfigured(error, request as unknown as Request) as never;
    }
  },

  // Click events from CLICKS (wrangler.toml `[[queues.consumers]]`); see consumeQueueBatch.
  async queue(batch, env) {
    const { services } = build(env);
    await consumeQueueBatch(batch, services.clickConsumer, services);
  },

  async scheduled(controller, env, ctx) {
    const { services } = build(env);
    ctx.waitUntil(runMaintenance(services, new Date(controller.scheduledTime)));
  },
} satisfies ExportedHandler<Env>;
