import type { ClickEvent } from "../../analytics/click-event";
import { type ClickQueue, retryDelayMs } from "../../analytics/click-queue";

/** Why buffered events were given up. */
export type DropReason = "full" | "failed" | "closed";

export interface InProcessClickQueueOptions {
  /** Stores one batch; rejecting has it retried after a backoff. */
  deliver: (events: ClickEvent[]) => Promise<void>;
  /** A batch goes out as soon as this many events wait. Default 100. */
  maxBatch?: number;
  /** …or this long after the first of them arrived. Default 1000 ms. */
  flushMs?: number;
  /** Events held at most (buffered plus in delivery); beyond it new events are dropped. Default 10,000. */
  maxBuffered?: number;
  /** Deliveries of one batch before it is dropped. Default 10. */
  maxAttempts?: number;
  /** Wait before attempt `attempt + 1`. Default: 100 ms doubling, capped at 5 s, jittered. */
  backoffMs?: (attempt: number) => number;
  /** How long `close()` keeps delivering before it drops the rest. Default 5000 ms. */
  drainTimeoutMs?: number;
  onDrop?: (count: number, reason: DropReason, error?: unknown) => void;
  onRetry?: (attempt: number, error: unknown) => void;
}

/**
 * The embedded default queue: events wait in memory and go to `deliver` in batches, one batch at a
 * time, flushed by size or by time. A failed batch is retried with backoff; `close()` drains what
 * is left within a deadline. Nothing survives a crash — that is what the Redis Streams and
 * Cloudflare Queues adapters are for.
 *
 * @example
 * const queue = createInProcessClickQueue({ deliver: (events) => consumer.consume(events).then(() => {}) });
 * await queue.send([event]);
 * await queue.close(); // delivers what is buffered
 */
export function createInProcessClickQueue(
  options: InProcessClickQueueOptions,
): ClickQueue & { readonly pending: number } {
  const maxBatch = options.maxBatch ?? 100;
  const flushMs = options.flushMs ?? 1_000;
  const maxBuffered = options.maxBuffered ?? 10_000;
  const maxAttempts = options.maxAttempts ?? 10;
  const backoffMs = options.backoffMs ?? ((attempt: number) => retryDelayMs(attempt, 5_000));
  const buffer: ClickEvent[] = [];
  let inFlight = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let pumping: Promise<void> | undefined;
  let closing: Promise<void> | undefined;
  let abandoned = false;

  async function deliverWithRetry(batch: ClickEvent[]): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await options.deliver(batch);
        return;
      } catch (error) {
        if (abandoned || attempt >= maxAttempts) {
          options.onDrop?.(batch.length, abandoned ? "closed" : "failed", error);
          return;
        }
        options.onRetry?.(attempt, error);
        await new Promise((resolve) => setTimeout(resolve, backoffMs(attempt)));
      }
    }
  }

  /** Delivers batches while a full one waits, or everything when `all` (timer fired, closing). */
  function pump(all: boolean): Promise<void> {
    pumping ??= (async () => {
      try {
        while (buffer.length > 0 && !abandoned && (all || closing || buffer.length >= maxBatch)) {
          const batch = buffer.splice(0, maxBatch);
          inFlight += batch.length;
          await deliverWithRetry(batch).finally(() => {
            inFlight -= batch.length;
          });
        }
      } finally {
        pumping = undefined;
        schedule();
      }
    })();
    return pumping;
  }

  function schedule(): void {
    if (closing || buffer.length === 0) return;
    if (buffer.length >= maxBatch) void pump(false);
    else
      timer ??= setTimeout(() => {
        timer = undefined;
        void pump(true);
      }, flushMs);
  }

  return {
    kind: "in-process",
    get pending() {
      return buffer.length + inFlight;
    },
    async send(events) {
      if (closing) throw new Error("the click queue is closed");
      const room = Math.max(0, maxBuffered - buffer.length - inFlight);
      if (events.length > room) options.onDrop?.(events.length - room, "full");
      buffer.push(...events.slice(0, room));
      schedule();
    },
    close() {
      closing ??= (async () => {
        clearTimeout(timer);
        timer = undefined;
        let deadline: ReturnType<typeof setTimeout> | undefined;
        const timedOut = new Promise<"timeout">((resolve) => {
          deadline = setTimeout(() => resolve("timeout"), options.drainTimeoutMs ?? 5_000);
        });
        // A pump already running picks up `closing` and takes the rest; otherwise start one.
        const drained = (async () => {
          while (!abandoned && (buffer.length > 0 || pumping)) await (pumping ?? pump(true));
        })();
        const result = await Promise.race([drained, timedOut]);
        clearTimeout(deadline);
        if (result === "timeout") {
          abandoned = true;
          if (buffer.length > 0) options.onDrop?.(buffer.splice(0).length, "closed");
        }
      })();
      return closing;
    },
  };
}
