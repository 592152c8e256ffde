import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cache } from "../../src/platform/cache/cache";
import { cachesUnderTest } from "../support/caches";

const key = () => `test:${randomUUID()}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const implementation of cachesUnderTest()) {
  const label = `cache port on ${implementation.name}${implementation.skip ? ` (skipped: ${implementation.skip})` : ""}`;
  describe.skipIf(implementation.skip)(label, () => {
    let cache: Cache & { teardown?: () => Promise<void> };
    beforeAll(async () => {
      cache = await implementation.open();
    });
    afterAll(async () => {
      await cache?.close();
      await cache?.teardown?.();
    });

    it("answers a ping and names its kind", async () => {
      expect(cache.kind).toBe(implementation.name);
      await expect(cache.ping()).resolves.toBeUndefined();
    });

    it("round-trips JSON values, and misses as null", async () => {
      const k = key();
      const value = {
        url: 'https://example.com/ü?x="1"',
        tags: ["a", "b"],
        n: 3,
        nested: { ok: true },
        none: null,
      };
      await cache.set(k, value);
      expect(await cache.get(k)).toEqual(value);
      expect(await cache.get(key())).toBeNull();
      await cache.set(k, "héllo ✓");
      expect(await cache.get(k)).toBe("héllo ✓");
    });

    it("expires values after their TTL", async () => {
      const k = key();
      await cache.set(k, { v: 1 }, { ttlSeconds: 1 });
      expect(await cache.get(k)).toEqual({ v: 1 });
      await sleep(1_200);
      expect(await cache.get(k)).toBeNull();
    });

    it("adds only when absent, so the first of several writers wins", async () => {
      const k = key();
      const wins = await Promise.all(
        Array.from({ length: 10 }, (_, i) => cache.add(k, `v${i}`, { ttlSeconds: 5 })),
      );
      expect(wins.filter(Boolean)).toHaveLength(1);
      expect(await cache.get(k)).toBe(`v${wins.indexOf(true)}`);
    });

    it("deletes and counts what existed", async () => {
      const [a, b] = [key(), key()];
      await cache.set(a, 1);
      expect(await cache.delete(a, b)).toBe(1);
      expect(await cache.get(a)).toBeNull();
      expect(await cache.delete()).toBe(0);
    });

    it("reads several keys in one call, in order, missing ones as null", async () => {
      const [a, b, c] = [key(), key(), key()];
      await cache.set(a, { n: 1 });
      await cache.set(c, "d3b07384-d113-4ec6-a0ba-1f2b3c4d5e6f");
      expect(await cache.getMany<[{ n: number }, string, string]>(a, b, c)).toEqual([
        { n: 1 },
        null,
        "d3b07384-d113-4ec6-a0ba-1f2b3c4d5e6f",
      ]);
    });

    it("writes several keys at once, all with the TTL", async () => {
      const [a, b] = [key(), key()];
      await cache.setMany(
        [
          [a, "first"],
          [b, { second: true }],
        ],
        { ttlSeconds: 1 },
      );
      expect(await cache.getMany<[string, { second: boolean }]>(a, b)).toEqual(["first", { second: true }]);
      await sleep(1_200);
      expect(await cache.getMany(a, b)).toEqual([null, null]);
    });

    it("sets only while the guard holds the expected string, or is absent when expecting null", async () => {
      const [target, guard] = [key(), key()];
      const [g1, g2] = [randomUUID(), randomUUID()];
      expect(await cache.setIf(target, { v: 1 }, { key: guard, equals: null }, { ttlSeconds: 1 })).toBe(true);
      expect(await cache.get(target)).toEqual({ v: 1 });
      await cache.set(guard, g1);
      expect(await cache.setIf(target, { v: 2 }, { key: guard, equals: null })).toBe(false);
      expect(await cache.setIf(target, { v: 3 }, { key: guard, equals: g2 })).toBe(false);
      expect(await cache.get(target)).toEqual({ v: 1 });
      expect(await cache.setIf(target, { v: 4 }, { key: guard, equals: g1 }, { ttlSeconds: 1 })).toBe(true);
      expect(await cache.get(target)).toEqual({ v: 4 });
      await sleep(1_200);
      expect(await cache.get(target)).toBeNull();
    });

    it("increments atomically under concurrency, keeping the first TTL", async () => {
      const k = key();
      const results = await Promise.all(
        Array.from({ length: 50 }, () => cache.increment(k, 1, { ttlSeconds: 1 })),
      );
      expect(new Set(results).size).toBe(50);
      expect(Math.max(...results)).toBe(50);
      expect(await cache.increment(k, 5)).toBe(55);
      await sleep(1_200);
      expect(await cache.get(k)).toBeNull();
    });
  });
}
