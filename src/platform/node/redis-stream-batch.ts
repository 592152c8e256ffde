import type { ClickConsumer, ConsumeOutcome } from "../../analytics/click-consumer";
import { type ClickEvent, clickEventSchema } from "../../analytics/click-event";
import { retryDelayMs } from "../../analytics/click-queue";
import type { Logger } from "../log/logger";
import type { MetricsRegistry } from "../metrics/metrics-registry";
import { type ClickStreamNames, eventField, eventsField } from "./redis-stream-click-queue";
import type { RedisCall, StreamEntry } from "./redis-stream-commands";

/** Why an event (or an unreadable entry) was parked in the dead-letter stream. */
export type ParkReason = "invalid-json" | "invalid-event" | "too-many-deliveries" | "rejected-by-database";

/** One dead letter: an event of an entry, or the whole entry when its events cannot be told apart. */
interface Letter {
  entryId: string;
  /** That event's JSON, or the entry's raw field. */
  payload: string;
  reason: ParkReason;
  deliveries: number;
}

/** A valid event and where it came from. */
interface Carried {
  entryId: string;
  /** The event's JSON, should it be parked: made only then (most events never are). */
  payload: () => string;
  event: ClickEvent;
}

/** Dead-letter entries beyond this many (approximately) are trimmed, oldest first. */
const deadLetterMaxLen = 100_000;
const label = { queue: "redis-stream" };

/**
 * Splits an entry into its events: a producer's `events` array, or the one `event` of an older
 * producer's entry or a replayed dead letter. Events that are no click event, and every event of an
 * entry delivered more than `maxAttempts` times, become letters.
 */
function unpack(
  entry: StreamEntry,
  deliveries: number,
  maxAttempts: number,
  into: Carried[],
  poison: Letter[],
) {
  const letter = (payload: string, reason: ParkReason) =>
    poison.push({ entryId: entry.id, payload, reason, deliveries });
  const raw = entry.fields[eventsField] ?? entry.fields[eventField];
  const packed = entry.fields[eventsField] !== undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw ?? "");
  } catch {
    return letter(
      raw ?? JSON.stringify(entry.fields),
      deliveries > maxAttempts ? "too-many-deliveries" : "invalid-json",
    );
  }
  if (packed && !Array.isArray(value))
    return letter(raw!, deliveries > maxAttempts ? "too-many-deliveries" : "invalid-event");
  const items: unknown[] = packed ? (value as unknown[]) : [value];
  for (const item of items) {
    const payload = packed ? () => JSON.stringify(item) : () => raw!;
    if (deliveries > maxAttempts) {
      letter(payload(), "too-many-deliveries");
      continue;
    }
    const parsed = clickEventSchema.safeParse(item);
    if (parsed.success) into.push({ entryId: entry.id, payload, event: parsed.data });
    else letter(payload(), "invalid-event");
  }
}

/**
 * Handles one batch of stream entries for the consumer loop: splits them into events, parks poison
 * in the dead-letter stream one event at a time (`{ id, reason, deliveries, consumer, payload }`, so
 * a replay puts back exactly the events that were refused), ingests the rest in statements of at
 * most `batchSize` events until committed — retrying transient failures with backoff while
 * `stopping()` is false — and only then acknowledges the entries. Resolves false when it gave up
 * because the consumer is stopping: the entries stay pending, for this consumer's successor or
 * another one to claim. `eventsPerEntry()` is the running mean of events per entry, for sizing reads.
 */
export function createStreamBatchHandler(o: {
  call: RedisCall;
  names: ClickStreamNames;
  consumerName: string;
  consumer: ClickConsumer;
  maxAttempts: number;
  /** Events per ingest statement at most. */
  batchSize: number;
  metrics: MetricsRegistry;
  logger: Logger;
  stopping: () => boolean;
  pause: (ms: number) => Promise<void>;
}) {
  const { call } = o;
  const { stream, group, deadLetter } = o.names;
  // Unknown at first: assume full entries, so the first read takes one and the mean grows from there.
  let meanEvents = o.batchSize;

  async function park(letters: Letter[]): Promise<void> {
    for (const { entryId, payload, reason, deliveries } of letters) {
      const fields = `id ${entryId} reason ${reason} deliveries ${deliveries} consumer ${o.consumerName}`;
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
    const parked = letters.map(({ entryId, reason }) => ({ id: entryId, reason }));
    o.logger.warn("click events dead-lettered", { deadLetter, parked });
  }

  const ack = (ids: string[]) => (ids.length > 0 ? call(["XACK", stream, group, ...ids]) : undefined);

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

  async function handleBatch(entries: StreamEntry[], deliveries: Map<string, number>): Promise<boolean> {
    const valid: Carried[] = [];
    const poison: Letter[] = [];
    for (const entry of entries) unpack(entry, deliveries.get(entry.id) ?? 1, o.maxAttempts, valid, poison);
    const events = valid.length + poison.length;
    meanEvents = 0.8 * meanEvents + (0.2 * events) / Math.max(1, entries.length);
    const carrying = new Set(valid.map((item) => item.entryId));
    if (poison.length > 0) await park(poison);
    // Entries with nothing to store (all poison, or an empty list) are done now; the others are
    // acknowledged after the ingest.
    await ack(entries.map((entry) => entry.id).filter((id) => !carrying.has(id)));
    for (let start = 0; start < valid.length; start += o.batchSize) {
      const chunk = valid.slice(start, start + o.batchSize);
      const outcome = await ingest(chunk.map((item) => item.event));
      if (!outcome) return false;
      if (outcome.rejected.length > 0) {
        const rejected = new Set(outcome.rejected.map((item) => item.event.eventId));
        await park(
          chunk
            .filter((item) => rejected.has(item.event.eventId))
            .map(({ entryId, payload }) => ({
              entryId,
              payload: payload(),
              reason: "rejected-by-database" as const,
              deliveries: deliveries.get(entryId) ?? 1,
            })),
        );
      }
    }
    // Only now, after the commits: a consumer dying before this line leaves the entries pending.
    await ack([...carrying]);
    return true;
  }

  return Object.assign(handleBatch, { eventsPerEntry: () => meanEvents });
}
