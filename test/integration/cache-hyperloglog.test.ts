import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cache } from "../../src/platform/cache/cache";
import { cachesUnderTest } from "../support/caches";

const key = () => `test:hll:${randomUUID()}`;

for (const implementation of cachesUnderTest()) {
  const label = `HyperLogLog on the ${implementation.name} cache${implementation.skip ? ` (skipped: ${implementation.skip})` : ""}`;
  describe.skipIf(implementation.skip)(label, () => {
    let cache: Cache & { teardown?: () => Promise<void> };
    beforeAll(async () => {
      cache = await implementation.open();
    });
    afterAll(async () => {
      await cache?.close();
      await cache?.teardown?.();
    });

    it("counts distinct values, ignoring repeats, and says whether an add changed the estimate", async () => {
      const k = key();
      expect(await cache.hyperLogLogCount(k)).toBe(0);
      expect(await cache.hyperLogLogAdd(k, ["a", "b", "c"])).toBe(true);
      expect(await cache.hyperLogLogAdd(k, ["a", "b"])).toBe(false);
      expect(await cache.hyperLogLogCount(k)).toBe(3);
    });

    it("applies many increments and HyperLogLog additions in one call, the TTL only on creation", async () => {
      const [live, other, day, empty] = [key(), key(), key(), key()];
      await cache.increment(live, 5);
      await cache.countMany(
        [
          [live, 3],
          [other, 1],
        ],
        [
          [day, ["v1", "v2", "v1"]],
          [empty, []],
        ],
        { hyperLogLogTtlSeconds: 1 },
      );
      await cache.countMany([[live, 2]], [[day, ["v3"]]], { hyperLogLogTtlSeconds: 60 });
      expect(await cache.increment(live, 0)).toBe(10);
      expect(await cache.increment(other, 0)).toBe(1);
      expect(await cache.hyperLogLogCount(day)).toBe(3);
      expect(await cache.hyperLogLogCount(empty)).toBe(0);
      // The first TTL holds: the second call's 60 s did not extend the day's key.
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(await cache.hyperLogLogCount(day)).toBe(0);
      expect(await cache.increment(live, 0)).toBe(10);
      await cache.countMany([], []);
    });

    it("estimates a thousand visitors within 2% and unions several keys (days) in one count", async () => {
      const monday = key();
      const tuesday = key();
      const visitors = Array.from({ length: 1_000 }, (_, i) => `visitor-${i}`);
      await cache.hyperLogLogAdd(monday, visitors.slice(0, 600), { ttlSeconds: 3_600 });
      await cache.hyperLogLogAdd(tuesday, visitors.slice(400), { ttlSeconds: 3_600 });
      const both = await cache.hyperLogLogCount(monday, tuesday);
      expect(Math.abs(both - 1_000)).toBeLessThanOrEqual(20);
      expect(Math.abs((await cache.hyperLogLogCount(monday)) - 600)).toBeLessThanOrEqual(12);
      await cache.delete(monday, tuesday);
      expect(await cache.hyperLogLogCount(monday, tuesday)).toBe(0);
    });
  });
}
