import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { ClickConsumer } from "../../analytics/click-consumer";
import type { Config } from "../../config";
import type { Logger } from "../log/logger";
import type { MetricsRegistry } from "../metrics/metrics-registry";
import { clickStreamNames } from "./redis-stream-click-queue";
import { restStreamConnection, tcpStreamConnection } from "./redis-stream-commands";
import { type RunningStreamConsumer, startRedisStreamConsumer } from "./redis-stream-consumer";

/** CLICK_BATCH_SIZE unset: a consumer runs apart from the redirects, so it takes larger batches. */
const streamBatchSize = 500;

/**
 * Starts the Redis Streams click consumer for this process, or answers undefined when there is no
 * Redis to consume from. Same precedence as the cache: Upstash REST (polled: no BLOCK over HTTP),
 * else REDIS_URL over its own TCP connection (blocking reads). The consumer name is new on every
 * start, so a restarted process claims its predecessor's pending entries like any other's.
 *
 * @example
 * const running = startNodeClickConsumer(config, { consumer: services.clickConsumer, metrics, logger });
 * await running?.stop();
 */
export function startNodeClickConsumer(
  config: Config,
  deps: {
    consumer: ClickConsumer;
    metrics: MetricsRegistry;
    logger: Logger;
    /** The cluster's niced consumer process: pace the ingest while the web workers need the CPU. */
    yieldToServing?: boolean;
  },
): RunningStreamConsumer | undefined {
  const connection =
    config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN
      ? restStreamConnection(config.UPSTASH_REDIS_REST_URL, config.UPSTASH_REDIS_REST_TOKEN)
      : config.REDIS_URL
        ? tcpStreamConnection(config.REDIS_URL)
        : undefined;
  if (!connection) return undefined;
  return startRedisStreamConsumer({
    connection,
    names: clickStreamNames(config.CLICK_STREAM_KEY),
    consumerName: `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`,
    consumer: deps.consumer,
    batchSize: config.CLICK_BATCH_SIZE ?? streamBatchSize,
    claimIdleMs: config.CLICK_CLAIM_IDLE_MS,
    maxAttempts: config.CLICK_MAX_ATTEMPTS,
    metrics: deps.metrics,
    logger: deps.logger,
    // A tenth of the cap: the consumer catches up long before trimming could lose a click.
    pacing: deps.yieldToServing ? { maxBacklog: Math.ceil(config.CLICK_STREAM_MAXLEN / 10) } : undefined,
  });
}
