import type { ClickConsumer, ConsumeOutcome } from "../../analytics/click-consumer";
import { type ClickEvent, clickEventSchema } from "../../analytics/click-event";
import { retryDelayMs } from "../../analytics/click-queue";
import type { Logger } from "../log/logger";
import type { MetricsRegistry } from "../metrics/metrics-registry";
import type { ClickStreamNames } from "./redis-stream-click-queue";
import type { RedisCall, StreamEntry } from "./redis-stream-commands";

/** Why an entry was parked in the dead-letter stream. */
export type ParkReason = "invalid-json" | "invalid-event" | "too-many-deliveries" | "rejected-by-database";

interface Parked {
  entry: StreamEntry;
  reason: ParkReason;
  deliveries: number;
}

/** Dead-letter entries beyond this many (approximately) are trimmed, oldest first. */
const deadLetterMaxLen = 100_000;
const label = { queue: "redis-stream" };

/** The poison reason of an entry, or its event. */
function decode(entry: StreamEntry, deliveries: number, maxAttempts: number): ClickEvent | ParkReason {
  if (deliveries > maxAttempts) return "too-many-deliveries";
  let value: unknown;
  try {
    value = JSON.parse(entry.fields.event ?? "");
  } catch {
    return "invalid-json";
  }
  const parsed = clickEventSchema.safeParse(value);
  return parsed.success ? parsed.data : "invalid-event";
}

/**
 * Handles one batch of stream entries for the consumer loop: decodes them, parks poison in the
 * dead-letter stream (`{ id, reason, deliveries, consumer, payload }`, then XACK), ingests the rest
 * until committed — retrying transient failures with backoff while `stopping()` is false — and only
 * then acknowledges them. Returns false when it gave up because the consumer is stopping: the
 * entries stay pending, for this consumer's successor or another one to claim.
 */
export function createStreamBatchHandler(o: {
  call: RedisCall;
  names: ClickStreamNames;
  consumerName: string;
  consumer: ClickConsumer;
  maxAttempts: number;
  metrics: MetricsRegistry;
  logger: Logger;
  stopping: () => boolean;
  pause: (ms: number) => Promise<void>;
}) {
  const { call } = o;
  const { stream, group, deadLetter } = o.names;

  async function park(items: Parked[]): Promise<void> {
    for (const { entry, reason, deliveries } of items) {
      const payload = entry.fields.event ?? JSON.stringify(entry.fields);
      const fields = `id ${entry.id} reason ${reason} deliveries ${deliveries} consumer ${o.consumerName}`;
      await call(
        [...`XADD ${deadLetter} MAXLEN ~ ${deadLetterMaxLen} *`.split(" "), ...fields.split(" ")].concat([
          "payload",
          payload,
        ]),
      );
      o.metrics.counter("click_queue_dead_lettered_total", "Click events parked as poison", {
        ...label,
        reason,
      });
    }
    await call(["XACK", stream, group, ...items.map((item) => item.entry.id)]);
    const parked = items.map(({ entry, reason }) => ({ id: entry.id, reason }));
    o.logger.warn("click events dead-lettered", { deadLetter, parked });
  }

  async function ingest(events: ClickEvent[]): Promise<ConsumeOutcome | undefined> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await o.consumer.consume(events);
      } catch (error) {
        o.logger.warn("click batch not stored; will retry", { error, attempt, events: events.length });
        if (o.stopping()) return undefined;
        o.metrics.counter("click_queue_retries_total", "Click batches retried", {
          ...label,
          cause: "ingest",
        });
        await o.pause(retryDelayMs(attempt, 10_000));
        if (o.stopping()) return undefined;
      }
    }
  }

  return async function handleBatch(
    entries: StreamEntry[],
    deliveries: Map<string, number>,
  ): Promise<boolean> {
    const valid: { entry: StreamEntry; event: ClickEvent }[] = [];
    const poison: Parked[] = [];
    for (const entry of entries) {
      const count = deliveries.get(entry.id) ?? 1;
      const decoded = decode(entry, count, o.maxAttempts);
      if (typeof decoded === "string") poison.push({ entry, reason: decoded, deliveries: count });
      else valid.push({ entry, event: decoded });
    }
    if (poison.length > 0) await park(poison);
    if (valid.length === 0) return true;
    const outcome = await ingest(valid.map((item) => item.event));
    if (!outcome) return false;
    const rejected = new Set(outcome.rejected.map((item) => item.event.eventId));
    const refused = valid.filter((item) => rejected.has(item.event.eventId));
    if (refused.length > 0) {
      const reason = "rejected-by-database";
      await park(refused.map(({ entry }) => ({ entry, reason, deliveries: deliveries.get(entry.id) ?? 1 })));
    }
    const stored = valid.filter((item) => !rejected.has(item.event.eventId)).map((item) => item.entry.id);
    // Only now, after the commit: a consumer dying before this line leaves the entries pending.
    if (stored.length > 0) await call(["XACK", stream, group, ...stored]);
    return true;
  };
}
