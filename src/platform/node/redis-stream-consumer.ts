import type { ClickConsumer } from "../../analytics/click-consumer";
import { retryDelayMs } from "../../analytics/click-queue";
import type { Logger } from "../log/logger";
import type { MetricsRegistry } from "../metrics/metrics-registry";
import { createContentionPacer, type UsageSample } from "./consumer-pacing";
import { createStreamBatchHandler } from "./redis-stream-batch";
import type { ClickStreamNames } from "./redis-stream-click-queue";
import {
  flatRecord,
  parseEntries,
  parseReadGroup,
  type StreamConnection,
  type StreamEntry,
} from "./redis-stream-commands";

export interface RedisStreamConsumerOptions {
  connection: StreamConnection;
  names: ClickStreamNames;
  /** Unique per process start, so a restarted consumer is a new one and claims the old one's entries. */
  consumerName: string;
  consumer: ClickConsumer;
  /** Events per ingest statement; a read takes about this many events' worth of entries. */
  batchSize: number;
  /** Pending entries idle longer than this are claimed from whichever consumer held them. */
  claimIdleMs: number;
  /** Deliveries after which an entry is parked instead of ingested. */
  maxAttempts: number;
  metrics: MetricsRegistry;
  logger: Logger;
  /** BLOCK of one XREADGROUP (TCP), or the pause after an empty poll (REST). Default 1000 ms. */
  waitMs?: number;
  /**
   * Yield the CPU to the web workers while they win it from this (niced) process: see
   * consumer-pacing.ts. Never at a backlog of `maxBacklog` undelivered entries or more.
   */
  pacing?: { maxBacklog: number; sample?: () => UsageSample; maxPauseMs?: number };
}

export interface RunningStreamConsumer {
  /** Stops reading, finishes the batch in flight (ingest, then ack) and closes the connection. */
  stop(): Promise<void>;
}

const label = { queue: "redis-stream" };

/**
 * The Redis Streams consumer: a loop of XAUTOCLAIM (entries a dead consumer left pending for longer
 * than `claimIdleMs`) and XREADGROUP (new entries), one batch at a time. Entries are acknowledged
 * only after their batch is committed, so a consumer killed at any point leaves them pending and a
 * live one claims them; the idempotent ingest recognises the redelivered events. Poison — not JSON,
 * not a click event, refused by Postgres on its own data, or delivered more than `maxAttempts`
 * times (a batch that keeps killing its consumer) — goes to the dead-letter stream and is
 * acknowledged, so it is never looped and the stream keeps draining (see redis-stream-batch.ts).
 * Gauges `click_queue_pending` and `click_queue_lag` come from XINFO GROUPS every few seconds.
 *
 * @example
 * const running = startRedisStreamConsumer({ connection: tcpStreamConnection(url), names, … });
 * process.once("SIGTERM", () => running.stop().then(() => process.exit(0)));
 */
export function startRedisStreamConsumer(o: RedisStreamConsumerOptions): RunningStreamConsumer {
  const { call, canBlock } = o.connection;
  const { stream, group } = o.names;
  const me = o.consumerName;
  const waitMs = o.waitMs ?? 1_000;
  let stopping = false;
  let blockedRead = false;
  let aborted = false;
  let wake: (() => void) | undefined;
  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const handleBatch = createStreamBatchHandler({ ...o, call, stopping: () => stopping, pause });
  let lastLag: number | undefined;
  const pacer = o.pacing && createContentionPacer({ ...o.pacing, backlog: () => lastLag });
  // An entry is one producer's hand-off batch: read about `batchSize` events' worth of them.
  const entriesPerRead = () =>
    Math.max(1, Math.min(o.batchSize, Math.round(o.batchSize / handleBatch.eventsPerEntry())));

  async function claim(cursor: string) {
    const command = `XAUTOCLAIM ${stream} ${group} ${me} ${o.claimIdleMs} ${cursor} COUNT ${entriesPerRead()}`;
    const reply = (await call(command.split(" "))) as unknown[];
    const entries = parseEntries(reply[1]);
    const deliveries = new Map<string, number>();
    if (entries.length > 0) {
      const range = `${entries[0]!.id} ${entries.at(-1)!.id} ${entries.length * 2} ${me}`;
      const pending = (await call(`XPENDING ${stream} ${group} ${range}`.split(" "))) as unknown[][];
      for (const [id, , , count] of pending) deliveries.set(String(id), Number(count));
    }
    if (entries.length > 0) {
      const help = "Stream entries claimed from a consumer that left them pending";
      o.metrics.counter("click_queue_claimed_total", help, label, entries.length);
    }
    return { next: String(reply[0] ?? "0-0"), entries, deliveries };
  }

  async function read(): Promise<StreamEntry[]> {
    const block = canBlock ? ` BLOCK ${waitMs}` : "";
    const command = `XREADGROUP GROUP ${group} ${me} COUNT ${entriesPerRead()}${block} STREAMS ${stream} >`;
    blockedRead = canBlock;
    try {
      return parseReadGroup(await call(command.split(" ")));
    } finally {
      blockedRead = false;
    }
  }

  async function reportBacklog(): Promise<void> {
    const groups = (await call(["XINFO", "GROUPS", stream])) as unknown[];
    const info = groups.map(flatRecord).find((g) => g.name === group);
    if (!info) return;
    const help = "Entries delivered to a consumer and not yet acknowledged";
    o.metrics.gauge("click_queue_pending", help, Number(info.pending), label);
    if (typeof info.lag === "number" || typeof info.lag === "string") {
      lastLag = Number(info.lag);
      o.metrics.gauge("click_queue_lag", "Stream entries not yet delivered to any consumer", lastLag, label);
    }
  }

  /** After a batch: wait while the web workers need the CPU more (see consumer-pacing.ts). */
  async function yieldToServing(): Promise<void> {
    if (!pacer) return;
    const ms = pacer.pauseAfterBatch();
    o.metrics.gauge(
      "click_consumer_cpu_share",
      "CPU the click consumer was given while it wanted it (1 = all; low while the web workers win it)",
      pacer.share(),
      label,
    );
    if (ms <= 0 || stopping) return;
    o.metrics.counter(
      "click_consumer_yielded_seconds_total",
      "Time the click consumer waited between batches so that the redirects had the CPU",
      label,
      ms / 1000,
    );
    await pause(ms);
  }

  async function createGroup(): Promise<void> {
    await call(["XGROUP", "CREATE", stream, group, "0", "MKSTREAM"]).catch((error: Error) => {
      if (!/BUSYGROUP/.test(error.message)) throw error;
    });
  }

  async function run(): Promise<void> {
    let failures = 0;
    let cursor = "0-0";
    let nextClaimAt = 0;
    let grouped = false;
    while (!stopping) {
      try {
        if (!grouped) await createGroup();
        grouped = true;
        let batch: { entries: StreamEntry[]; deliveries: Map<string, number> } | undefined;
        if (Date.now() >= nextClaimAt) {
          const claimed = await claim(cursor);
          cursor = claimed.next;
          batch = claimed;
          if (cursor === "0-0") {
            nextClaimAt = Date.now() + Math.min(o.claimIdleMs, 5_000);
            await reportBacklog();
          }
        }
        if (!batch?.entries.length) batch = { entries: await read(), deliveries: new Map() };
        if (batch.entries.length > 0) {
          pacer?.start();
          await handleBatch(batch.entries, batch.deliveries);
          await yieldToServing();
        } else if (!canBlock && !stopping) await pause(waitMs);
        failures = 0;
      } catch (error) {
        // The read that stop() aborted: nothing failed.
        if (aborted) break;
        failures += 1;
        o.metrics.counter("click_queue_retries_total", "Click batches retried", { ...label, cause: "redis" });
        o.logger.warn("click stream consumer failed; backing off", { error, failures });
        if (!stopping) await pause(retryDelayMs(failures, 10_000));
      }
    }
  }

  o.logger.info("click stream consumer started", { stream, group, consumer: me });
  const done = run();
  return {
    async stop() {
      stopping = true;
      wake?.();
      // A read blocked on an empty stream would hold the stop for up to its BLOCK time. Entries
      // delivered to it in the instant of the abort stay pending and are claimed like a dead one's.
      if (blockedRead) {
        aborted = true;
        o.connection.abort();
      }
      await done;
      await o.connection.close();
      o.logger.info("click stream consumer stopped", { consumer: me });
    },
  };
}
