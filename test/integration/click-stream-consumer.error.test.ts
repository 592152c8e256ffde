import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import type { ClickConsumer } from "../../src/analytics/click-consumer";
import type { ClickEvent } from "../../src/analytics/click-event";
import { clickStreamNames } from "../../src/platform/node/redis-stream-click-queue";
import { clickEvent } from "../support/click-events";
import { plainRedis, startTestStreamConsumer, streamState } from "../support/click-stream";

const redisUrl = process.env.REDIS_URL;
const skip = redisUrl ? undefined : "needs REDIS_URL";

const event = (): ClickEvent => clickEvent();

const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

describe.skipIf(skip)(`Redis Streams consumer failure handling${skip ? ` (skipped: ${skip})` : ""}`, () => {
  const redis = plainRedis(redisUrl ?? "redis://127.0.0.1:1");
  const keys: string[] = [];
  const fresh = () => {
    const names = clickStreamNames(`test:consumer:${randomUUID().slice(0, 8)}`);
    keys.push(names.stream, names.deadLetter);
    return names;
  };
  afterAll(async () => {
    if (keys.length > 0) await redis.del(...keys).catch(() => {});
    redis.disconnect();
  });
  const start = (names: ReturnType<typeof clickStreamNames>, consumer: ClickConsumer, over = {}) =>
    startTestStreamConsumer(redisUrl!, names, consumer, over);
  const stored: string[] = [];
  const storing: ClickConsumer = {
    async consume(events) {
      stored.push(...events.map((e) => e.eventId));
      return { inserted: [], duplicates: 0, rejected: [] };
    },
  };

  it("parks an entry delivered more than maxAttempts times (a batch that keeps killing consumers)", async () => {
    const names = fresh();
    const doomed = event();
    const fine = event();
    await redis.call("XGROUP", "CREATE", names.stream, names.group, "0", "MKSTREAM");
    const id = String(await redis.call("XADD", names.stream, "*", "event", JSON.stringify(doomed)));
    // Three consumers took it and died: delivered three times, never acknowledged.
    await redis.call("XREADGROUP", "GROUP", names.group, "dead-1", "COUNT", 1, "STREAMS", names.stream, ">");
    await redis.call("XCLAIM", names.stream, names.group, "dead-2", 0, id);
    await redis.call("XCLAIM", names.stream, names.group, "dead-3", 0, id);
    await redis.call("XADD", names.stream, "*", "event", JSON.stringify(fine));
    await new Promise((r) => setTimeout(r, 150));

    const { running, metrics } = start(names, storing);
    await until(async () => {
      const state = await streamState(redis, names);
      return state.pending === 0 && state.lag === 0 && state.deadLetters.length === 1;
    }, "the stream to drain");
    await running.stop();

    const [parked] = (await streamState(redis, names)).deadLetters;
    expect(parked).toMatchObject({ id, reason: "too-many-deliveries", deliveries: "4" });
    expect(JSON.parse(parked!.payload!)).toEqual(doomed);
    expect(stored).toContain(fine.eventId);
    expect(stored).not.toContain(doomed.eventId);
    expect(metrics.render()).toMatch(
      /^click_queue_dead_lettered_total\{queue="redis-stream",reason="too-many-deliveries"\} 1$/m,
    );
  });

  it("splits a producer's entry: its good events are stored, each bad one parked alone, the entry acknowledged", async () => {
    const names = fresh();
    const good = [event(), event(), event()];
    const refused = event();
    const malformed = { ...event(), country: "Sweden" };
    const rejecting: ClickConsumer = {
      async consume(events) {
        const ok = events.filter((e) => e.eventId !== refused.eventId);
        stored.push(...ok.map((e) => e.eventId));
        const rejected = events
          .filter((e) => e.eventId === refused.eventId)
          .map((e) => ({ event: e, error: new Error("value too long") }));
        return { inserted: [], duplicates: 0, rejected };
      },
    };
    const packed = [good[0], malformed, good[1], refused, good[2]];
    const id = String(await redis.call("XADD", names.stream, "*", "events", JSON.stringify(packed)));
    const notArray = String(await redis.call("XADD", names.stream, "*", "events", JSON.stringify(good[0])));
    // Nothing to store and nothing to park: acknowledged all the same, never claimed again and again.
    await redis.call("XADD", names.stream, "*", "events", "[]");
    const { running, metrics } = start(names, rejecting, { batchSize: 2 });
    await until(async () => {
      const state = await streamState(redis, names);
      return state.pending === 0 && state.lag === 0 && state.deadLetters.length === 3;
    }, "the stream to drain");
    await running.stop();

    expect(stored).toEqual(expect.arrayContaining(good.map((e) => e.eventId)));
    expect(stored).not.toContain(refused.eventId);
    const letters = (await streamState(redis, names)).deadLetters;
    const byReason = Object.fromEntries(letters.filter((l) => l.id === id).map((l) => [l.reason, l]));
    expect(byReason["invalid-event"]).toMatchObject({ id, deliveries: "1" });
    expect(JSON.parse(byReason["invalid-event"]!.payload!)).toEqual(malformed);
    expect(byReason["rejected-by-database"]).toMatchObject({ id });
    expect(JSON.parse(byReason["rejected-by-database"]!.payload!)).toEqual(refused);
    // An `events` field that is not a list cannot be split: the entry is parked as it was.
    expect(letters.find((l) => l.id === notArray)).toMatchObject({
      reason: "invalid-event",
      payload: JSON.stringify(good[0]),
    });
    expect(metrics.render()).toMatch(
      /^click_queue_dead_lettered_total\{queue="redis-stream",reason="rejected-by-database"\} 1$/m,
    );
  });

  it("parks each event of a producer's entry delivered more than maxAttempts times on its own", async () => {
    const names = fresh();
    const doomed = [event(), event()];
    await redis.call("XGROUP", "CREATE", names.stream, names.group, "0", "MKSTREAM");
    const id = String(await redis.call("XADD", names.stream, "*", "events", JSON.stringify(doomed)));
    await redis.call("XREADGROUP", "GROUP", names.group, "dead-1", "COUNT", 1, "STREAMS", names.stream, ">");
    await redis.call("XCLAIM", names.stream, names.group, "dead-2", 0, id);
    await redis.call("XCLAIM", names.stream, names.group, "dead-3", 0, id);
    await new Promise((r) => setTimeout(r, 150));

    const { running } = start(names, storing);
    await until(async () => {
      const state = await streamState(redis, names);
      return state.pending === 0 && state.deadLetters.length === 2;
    }, "the entry to be parked");
    await running.stop();

    const letters = (await streamState(redis, names)).deadLetters;
    expect(letters.map((l) => [l.id, l.reason])).toEqual([
      [id, "too-many-deliveries"],
      [id, "too-many-deliveries"],
    ]);
    // One payload per event: a replay (`admin dead-letters replay`) puts back events, not a batch.
    expect(letters.map((l) => JSON.parse(l.payload!))).toEqual(doomed);
    expect(stored).not.toContain(doomed[0]!.eventId);
  });

  it("retries a batch whose ingest fails transiently, acknowledging only after it is stored", async () => {
    const names = fresh();
    let failures = 2;
    const flaky: ClickConsumer = {
      async consume(events) {
        if (failures-- > 0) throw Object.assign(new Error("connection terminated"), { code: "57P01" });
        return storing.consume(events);
      },
    };
    const sent = [event(), event(), event()];
    const { running, metrics } = start(names, flaky);
    for (const e of sent) await redis.call("XADD", names.stream, "*", "event", JSON.stringify(e));
    await until(async () => sent.every((e) => stored.includes(e.eventId)), "the batch to be stored", 20_000);
    await until(async () => (await streamState(redis, names)).pending === 0, "the acknowledgement");
    await running.stop();
    expect(metrics.render()).toMatch(/^click_queue_retries_total\{cause="ingest",queue="redis-stream"\} 2$/m);
    expect((await streamState(redis, names)).deadLetters).toEqual([]);
  });

  it("stops gracefully: the batch in flight is stored and acknowledged before stop() resolves", async () => {
    const names = fresh();
    let release = () => {};
    const slow: ClickConsumer = {
      async consume(events) {
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return storing.consume(events);
      },
    };
    const { running } = start(names, slow);
    const e = event();
    await redis.call("XADD", names.stream, "*", "event", JSON.stringify(e));
    await until(async () => (await streamState(redis, names)).pending === 1, "the batch to be read");
    const stopped = running.stop();
    setTimeout(() => release(), 200);
    await stopped;
    expect(stored).toContain(e.eventId);
    expect((await streamState(redis, names)).pending).toBe(0);
  });

  it("stops at once while blocked on an empty stream, and the next consumer reads what came after", async () => {
    const names = fresh();
    const { running, metrics } = start(names, storing, { waitMs: 10_000 });
    await until(async () => !Number.isNaN((await streamState(redis, names)).lag), "the group to exist");
    // Past the first XAUTOCLAIM/XINFO round, into the blocking read.
    await new Promise((r) => setTimeout(r, 300));
    const began = performance.now();
    await running.stop();
    expect(performance.now() - began).toBeLessThan(1_000);
    // The aborted read is no failure: nothing retried, nothing logged as one.
    expect(metrics.snapshot().click_queue_retries_total).toBeUndefined();

    const e = event();
    await redis.call("XADD", names.stream, "*", "event", JSON.stringify(e));
    const next = start(names, storing);
    await until(async () => stored.includes(e.eventId), "the next consumer to store the entry");
    await next.running.stop();
  });
});
