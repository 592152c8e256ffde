import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import type { ClickConsumer } from "../../src/analytics/click-consumer";
import type { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import type { UsageSample } from "../../src/platform/node/consumer-pacing";
import { clickStreamNames } from "../../src/platform/node/redis-stream-click-queue";
import type { RedisStreamConsumerOptions } from "../../src/platform/node/redis-stream-consumer";
import { clickEvent } from "../support/click-events";
import { plainRedis, startTestStreamConsumer, streamState } from "../support/click-stream";

const redisUrl = process.env.REDIS_URL;
const skip = redisUrl ? undefined : "needs REDIS_URL";

const until = async (check: () => Promise<boolean>, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
};

/**
 * Readings of a process the scheduler keeps off the CPU: every reading adds 100 ms of wall time,
 * 50 of them busy, with 5 ms of CPU (a tenth of what it asked for).
 */
function starvedProcess(): () => UsageSample {
  let now: UsageSample = { cpuMicros: 0, activeMs: 0, at: 0 };
  return () => {
    now = { cpuMicros: now.cpuMicros + 5_000, activeMs: now.activeMs + 50, at: now.at + 100 };
    return now;
  };
}

const yielded = (metrics: MetricsRegistry) =>
  Number(
    /^click_consumer_yielded_seconds_total\{queue="redis-stream"\} (\S+)$/m.exec(metrics.render())?.[1] ?? 0,
  );

describe.skipIf(skip)(
  `Redis Streams consumer yielding to the web workers${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    const redis = plainRedis(redisUrl ?? "redis://127.0.0.1:1");
    const keys: string[] = [];
    afterAll(async () => {
      if (keys.length > 0) await redis.del(...keys).catch(() => {});
      redis.disconnect();
    });

    async function streamOf(events: number) {
      const names = clickStreamNames(`test:pacing:${randomUUID().slice(0, 8)}`);
      keys.push(names.stream, names.deadLetter);
      const ids: string[] = [];
      for (let i = 0; i < events; i++) {
        const e = clickEvent();
        ids.push(e.eventId);
        await redis.call("XADD", names.stream, "*", "event", JSON.stringify(e));
      }
      return { names, ids };
    }

    function start(names: ReturnType<typeof clickStreamNames>, over: Partial<RedisStreamConsumerOptions>) {
      const stored: string[] = [];
      const consumer: ClickConsumer = {
        async consume(events) {
          stored.push(...events.map((e) => e.eventId));
          return { inserted: [], duplicates: 0, rejected: [] };
        },
      };
      // Claims only at the start: the backlog it yields by is read once, before the first batch.
      const { running, metrics } = startTestStreamConsumer(redisUrl!, names, consumer, {
        claimIdleMs: 60_000,
        ...over,
      });
      return { running, metrics, stored };
    }

    it("waits between batches while it is kept off the CPU, and still stores and acknowledges every click", async () => {
      const { names, ids } = await streamOf(30);
      const began = performance.now();
      const { running, metrics, stored } = start(names, {
        pacing: { maxBacklog: 1_000_000, sample: starvedProcess(), maxPauseMs: 150 },
      });
      await until(
        async () => stored.length === 30 && (await streamState(redis, names)).pending === 0,
        "the drain",
      );
      await running.stop();
      expect([...stored].sort()).toEqual([...ids].sort());
      // At least three batches (a new consumer reads one entry first), each followed by a pause:
      // 450 ms asked, 150 allowed.
      const waited = yielded(metrics);
      expect(waited).toBeGreaterThanOrEqual(0.45);
      expect(Math.round(waited / 0.15) * 0.15).toBeCloseTo(waited, 5);
      expect(performance.now() - began).toBeGreaterThanOrEqual(waited * 1000 - 150);
      expect(metrics.render()).toMatch(/^click_consumer_cpu_share\{queue="redis-stream"\} 0\.1$/m);
    });

    it("does not wait while the backlog is at its bound, nor without pacing", async () => {
      const atBound = await streamOf(30);
      const bound = start(atBound.names, { pacing: { maxBacklog: 30, sample: starvedProcess() } });
      await until(async () => bound.stored.length === 30, "the drain at the bound");
      await bound.running.stop();
      expect(yielded(bound.metrics)).toBe(0);

      const plain = await streamOf(30);
      const unpaced = start(plain.names, {});
      await until(async () => unpaced.stored.length === 30, "the drain without pacing");
      await unpaced.running.stop();
      expect(unpaced.metrics.render()).not.toMatch(/click_consumer_(yielded|cpu_share)/);
    });

    it("stops at once during a pause", async () => {
      const { names } = await streamOf(10);
      const { running, metrics, stored } = start(names, {
        pacing: { maxBacklog: 1_000_000, sample: starvedProcess(), maxPauseMs: 10_000 },
      });
      await until(async () => yielded(metrics) > 0, "the first pause");
      const began = performance.now();
      await running.stop();
      expect(performance.now() - began).toBeLessThan(1_000);
      // What it read was stored and acknowledged before the pause; the rest waits in the stream.
      expect(stored.length).toBeGreaterThan(0);
      const state = await streamState(redis, names);
      expect(state.pending).toBe(0);
      expect(state.lag).toBe(10 - stored.length);
    });
  },
);
