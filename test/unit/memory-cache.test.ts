import { describe, expect, it } from "vitest";
import { MemoryCache } from "../../src/platform/cache/memory-cache";

describe("MemoryCache", () => {
  it("stays within its bound, dropping the least recently written key first", async () => {
    const cache = new MemoryCache({ maxEntries: 3 });
    for (const key of ["a", "b", "c"]) await cache.set(key, key);
    await cache.set("a", "a2");
    await cache.set("d", "d");
    expect(await cache.get("b")).toBeNull();
    expect(await cache.get("a")).toBe("a2");
    expect(await cache.get("d")).toBe("d");
  });

  it("hands out copies, so a caller mutating a value does not change the cache", async () => {
    const cache = new MemoryCache();
    const value = { tags: ["x"] };
    await cache.set("k", value);
    value.tags.push("y");
    const read = await cache.get<{ tags: string[] }>("k");
    read!.tags.push("z");
    expect(await cache.get("k")).toEqual({ tags: ["x"] });
  });

  it("expires on its clock and refuses to increment a non-number", async () => {
    let now = 0;
    const cache = new MemoryCache({ now: () => now });
    await cache.set("k", 1, { ttlSeconds: 10 });
    now = 9_999;
    expect(await cache.get("k")).toBe(1);
    now = 10_000;
    expect(await cache.get("k")).toBeNull();
    await cache.set("s", "text");
    await expect(cache.increment("s")).rejects.toThrow(TypeError);
  });
});
