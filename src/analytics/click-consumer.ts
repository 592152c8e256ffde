import type { Cache } from "../platform/cache/cache";
import type { Database } from "../platform/db/database";
import type { Logger } from "../platform/log/logger";
import type { MetricsRegistry } from "../platform/metrics/metrics-registry";
import type { ClickEvent } from "./click-event";
import { type IngestedClick, ingestClicks } from "./click-ingest";
import { updateLiveCounters } from "./live-counters";

/** What one batch came to. `rejected` events failed on their own data: park them, never retry. */
export interface ConsumeOutcome {
  inserted: IngestedClick[];
  /** Events already stored by an earlier delivery, or repeated within the batch. */
  duplicates: number;
  rejected: { event: ClickEvent; error: unknown }[];
}

/** Stores batches of click events; shared by every queue adapter's consumer. */
export interface ClickConsumer {
  /**
   * Ingests `events` and updates the live counters for the rows actually inserted. Rejects only on
   * a transient failure (database unreachable, timeouts…): the caller keeps the batch unacknowledged
   * and retries it, which is safe because ingestion is idempotent on the event id.
   */
  consume(events: ClickEvent[]): Promise<ConsumeOutcome>;
}

const sqlStateOf = (error: unknown): string | undefined => {
  for (let e = error, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth += 1) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
};

/**
 * Whether `error` is about the data rather than the circumstances: SQLSTATE classes 22 (data
 * exception) and 23 (integrity violation). Everything else — connection loss, timeouts, a missing
 * table during a deploy — is worth retrying and must never park good clicks.
 */
export function isDataError(error: unknown): boolean {
  const state = sqlStateOf(error);
  return state !== undefined && (state.startsWith("22") || state.startsWith("23"));
}

/** Deadlock and serialization failures: retried at once (with jitter) inside one consume. */
const isConflict = (error: unknown) => ["40P01", "40001"].includes(sqlStateOf(error) ?? "");
const conflictAttempts = 5;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * @example
 * const consumer = createClickConsumer({ db, cache, metrics, logger, queue: "redis-stream" });
 * const { inserted, duplicates, rejected } = await consumer.consume(events);
 */
export function createClickConsumer(deps: {
  /** Read at each batch, so wiring the consumer never touches the database. */
  db: Pick<Database, "primary">;
  cache: Cache;
  metrics: MetricsRegistry;
  logger: Logger;
  /** The `queue` label of the metrics: which adapter delivered. */
  queue: string;
}): ClickConsumer {
  const { db, cache, metrics, logger, queue } = deps;

  async function ingest(events: ClickEvent[]): Promise<IngestedClick[]> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await ingestClicks(db.primary, events);
      } catch (error) {
        if (!isConflict(error) || attempt >= conflictAttempts) throw error;
        metrics.counter("click_queue_retries_total", "Click batches retried", { queue, cause: "conflict" });
        await sleep(10 * attempt + Math.random() * 40);
      }
    }
  }

  /** After the commit and best-effort: Postgres is the truth, Redis only a fast view of it. */
  async function countLive(inserted: IngestedClick[]): Promise<void> {
    if (inserted.length === 0) return;
    await updateLiveCounters(cache, inserted).catch((error: unknown) => {
      metrics.counter("click_live_counter_failures_total", "Live counter updates that failed", { queue });
      logger.warn("live click counters not updated", { error, clicks: inserted.length });
    });
  }

  return {
    async consume(events) {
      const outcome: ConsumeOutcome = { inserted: [], duplicates: 0, rejected: [] };
      try {
        outcome.inserted = await ingest(events);
      } catch (error) {
        if (!isDataError(error)) throw error;
        // One event spoils the statement for all: store them one by one to find which.
        for (const event of events) {
          try {
            const inserted = await ingest([event]);
            outcome.inserted.push(...inserted);
          } catch (single) {
            if (!isDataError(single)) {
              await countLive(outcome.inserted);
              throw single;
            }
            outcome.rejected.push({ event, error: single });
          }
        }
      }
      // HEAD and prefetches are never stored, so they are no duplicates (the recorder keeps them out anyway).
      const storable = events.filter((event) => event.traffic !== "head" && event.traffic !== "prefetch");
      outcome.duplicates = storable.length - outcome.inserted.length - outcome.rejected.length;
      metrics.counter(
        "click_queue_ingested_total",
        "Click events stored",
        { queue },
        outcome.inserted.length,
      );
      metrics.counter(
        "click_queue_duplicates_total",
        "Click events delivered again after they were stored",
        { queue },
        outcome.duplicates,
      );
      await countLive(outcome.inserted);
      return outcome;
    },
  };
}
