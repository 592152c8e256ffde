import type { ClickEvent } from "./click-event";

export type ClickQueueKind = "in-process" | "redis-stream" | "cloudflare";

/**
 * The queue between the redirect path and the click consumer. Delivery is at-least-once on every
 * adapter; the consumer makes counts exactly-once by ingesting idempotently on `eventId`.
 *
 * - `in-process` (`platform/queue/`): the embedded default; batches in memory, consumed by the
 *   same process. Bounded; a crash loses what was buffered.
 * - `redis-stream` (`platform/node/`): XADD to a Redis Stream read by a consumer group.
 * - `cloudflare` (`platform/cloudflare/`): a Cloudflare Queues producer binding.
 *
 * @example
 * await queue.send([event]); // resolves once the queue has taken the events
 * await queue.close();       // flushes what is buffered (in-process), releases nothing shared
 */
export interface ClickQueue {
  readonly kind: ClickQueueKind;
  /** Hands events to the queue; rejects when it could not take them (the caller logs and counts). */
  send(events: ClickEvent[]): Promise<void>;
  /** Stops taking events and delivers what is buffered; idempotent. */
  close(): Promise<void>;
}

/** Backoff for retried deliveries: 100 ms doubling per attempt, capped, with ±20% jitter. */
export function retryDelayMs(attempt: number, capMs = 30_000): number {
  const base = Math.min(capMs, 100 * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}
