import type { ClickConsumer } from "../../analytics/click-consumer";
import { type ClickEvent, clickEventSchema } from "../../analytics/click-event";
import type { ClickQueue } from "../../analytics/click-queue";
import type { Logger } from "../log/logger";
import type { MetricsRegistry } from "../metrics/metrics-registry";

/** The slice of a Cloudflare Queues producer binding this adapter uses. */
export interface QueueProducer {
  sendBatch(messages: Iterable<{ body: unknown; contentType?: "json" }>): Promise<unknown>;
}

/** The slice of a delivered Cloudflare Queues message and batch the consumer uses. */
export interface QueueMessage {
  readonly id: string;
  readonly body: unknown;
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}
export interface QueueBatch {
  readonly queue: string;
  readonly messages: readonly QueueMessage[];
}

/** `max_retries` of the consumer in wrangler.toml: after it, the platform moves a message to the DLQ. */
export const edgeMaxRetries = 10;

/**
 * The Cloudflare Queues producer: the events as JSON messages in one `sendBatch`.
 *
 * @example
 * const queue = createCloudflareClickQueue(env.CLICKS);
 */
export function createCloudflareClickQueue(binding: QueueProducer): ClickQueue {
  return {
    kind: "cloudflare",
    async send(events) {
      await binding.sendBatch(events.map((body) => ({ body, contentType: "json" as const })));
    },
    async close() {},
  };
}

/** Retry delay on the edge: 5 s doubling per attempt, capped at 5 minutes. */
const delayFor = (attempts: number) => Math.min(300, 5 * 2 ** Math.max(0, attempts - 1));

/**
 * The Worker's `queue()` handler body. Valid events of the batch are ingested in one call and
 * acknowledged after the commit; on a transient failure they are retried with a growing delay.
 *
 * Poison is parked by the platform, not by us: an invalid message, or one Postgres rejects on its
 * own data, is `retry()`-ed until `max_retries`, after which Cloudflare moves it to the
 * `dead_letter_queue` (wrangler.toml). Retrying an invalid message costs a few deliveries, and buys
 * something real: a message from a newer producer that this consumer's schema does not know yet
 * goes through once the consumer is deployed too, instead of being parked at once.
 *
 * @example
 * async queue(batch, env) { await consumeQueueBatch(batch, services.clickConsumer, services); }
 */
export async function consumeQueueBatch(
  batch: QueueBatch,
  consumer: ClickConsumer,
  deps: { metrics: MetricsRegistry; logger: Logger },
): Promise<void> {
  const label = { queue: "cloudflare" };
  const park = (message: QueueMessage, reason: string) => {
    deps.metrics.counter("click_queue_invalid_total", "Click messages refused, retried towards the DLQ", {
      ...label,
      reason,
    });
    if (message.attempts > edgeMaxRetries)
      deps.metrics.counter("click_queue_dead_lettered_total", "Click events parked as poison", {
        ...label,
        reason,
      });
    deps.logger.warn("click message refused", { id: message.id, attempts: message.attempts, reason });
    message.retry({ delaySeconds: delayFor(message.attempts) });
  };

  const valid: { message: QueueMessage; event: ClickEvent }[] = [];
  for (const message of batch.messages) {
    const parsed = clickEventSchema.safeParse(message.body);
    if (parsed.success) valid.push({ message, event: parsed.data });
    else park(message, "invalid-event");
  }
  if (valid.length === 0) return;

  let rejected: Set<string>;
  try {
    const outcome = await consumer.consume(valid.map((item) => item.event));
    rejected = new Set(outcome.rejected.map((item) => item.event.eventId));
  } catch (error) {
    deps.metrics.counter("click_queue_retries_total", "Click batches retried", { ...label, cause: "ingest" });
    deps.logger.warn("click batch not stored; retrying", {
      error,
      queue: batch.queue,
      messages: valid.length,
    });
    for (const { message } of valid) message.retry({ delaySeconds: delayFor(message.attempts) });
    return;
  }
  for (const { message, event } of valid) {
    if (rejected.has(event.eventId)) park(message, "rejected-by-database");
    else message.ack();
  }
}
