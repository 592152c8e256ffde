import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClickConsumer, isDataError } from "../../src/analytics/click-consumer";
import type { ClickEvent } from "../../src/analytics/click-event";
import { liveClicksKey, uniquesKey } from "../../src/analytics/live-counters";
import { MemoryCache } from "../../src/platform/cache/memory-cache";
import type { Database } from "../../src/platform/db/database";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import { driversUnderTest } from "../support/databases";

const linkId = randomUUID();
const event = (over: Partial<ClickEvent> = {}): ClickEvent => ({
  eventId: randomUUID(),
  linkId,
  workspaceId: randomUUID(),
  occurredAt: Date.UTC(2026, 10, 27, 9),
  traffic: "human",
  reason: "browser",
  country: "FR",
  device: "desktop",
  browser: "Firefox",
  os: "Linux",
  referrerHost: null,
  visitorHash: "v1",
  ...over,
});

describe("which failures are the data's fault", () => {
  it("treats SQLSTATE classes 22 and 23 as poison, anything else (also wrapped) as transient", () => {
    expect(isDataError({ code: "22009" })).toBe(true);
    expect(isDataError(new Error("Failed query", { cause: { code: "23505" } }))).toBe(true);
    for (const transient of [
      { code: "57P01" },
      { code: "40P01" },
      { code: "42P01" },
      new TypeError("fetch failed"),
    ])
      expect(isDataError(transient)).toBe(false);
  });
});

for (const driver of driversUnderTest()) {
  describe.skipIf(driver.skip)(
    `click consumer on ${driver.name}${driver.skip ? ` (skipped: ${driver.skip})` : ""}`,
    () => {
      let db: Database & { teardown?: () => Promise<void> };
      beforeAll(async () => {
        db = await driver.open();
      });
      afterAll(async () => {
        await db?.close();
        await db?.teardown?.();
      });

      it("stores a batch once, counts redeliveries as duplicates, and feeds the live counters only once", async () => {
        const cache = new MemoryCache();
        const metrics = new MetricsRegistry();
        const consumer = createClickConsumer({
          db,
          cache,
          metrics,
          logger: createLogger({ level: "silent" }),
          queue: "test",
        });
        const batch = [
          event(),
          event({ visitorHash: "v2" }),
          event(),
          event({ traffic: "bot", reason: "google" }),
        ];

        const first = await consumer.consume(batch);
        const again = await consumer.consume(batch);

        expect([first.inserted.length, first.duplicates, first.rejected]).toEqual([4, 0, []]);
        expect([again.inserted.length, again.duplicates]).toEqual([0, 4]);
        expect(await cache.get(liveClicksKey(linkId))).toBe(3);
        expect(await cache.hyperLogLogCount(uniquesKey(linkId, "2026-11-27"))).toBe(2);
        expect(metrics.render()).toMatch(/^click_queue_duplicates_total\{queue="test"\} 4$/m);
      });

      it("isolates an event Postgres refuses on its own data, storing the rest of its batch", async () => {
        const consumer = createClickConsumer({
          db,
          cache: new MemoryCache(),
          metrics: new MetricsRegistry(),
          logger: createLogger({ level: "silent" }),
          queue: "test",
        });
        // Valid for the schema, but beyond the years Postgres' timestamptz accepts.
        const poison = event({ occurredAt: 8.64e15 });
        const good = [event(), event()];

        const outcome = await consumer.consume([good[0]!, poison, good[1]!]);

        expect(outcome.inserted.map((c) => c.eventId).sort()).toEqual(good.map((e) => e.eventId).sort());
        expect(outcome.rejected.map((r) => r.event.eventId)).toEqual([poison.eventId]);
        expect(isDataError(outcome.rejected[0]!.error)).toBe(true);
      });
    },
  );
}
