import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createVisitorHasher } from "../../src/analytics/visit-enricher";
import { MemoryCache } from "../../src/platform/cache/memory-cache";

const nodeSha256Hex = (text: string) => createHash("sha256").update(text).digest("hex");
const agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) Safari/604.1 — ünïcode";

describe("visitor hash", () => {
  it("is the same with Node's synchronous SHA-256 as with Web Crypto's, so Node and the edge count uniques alike", async () => {
    // One cache: both hashers read the day's salt the first of them wrote.
    const cache = new MemoryCache();
    const now = () => Date.UTC(2026, 10, 27, 12);
    const webCrypto = createVisitorHasher(cache, now);
    const node = createVisitorHasher(cache, now, nodeSha256Hex);
    for (const [ip, userAgent] of [
      ["203.0.113.7", agent],
      ["2001:db8::/64", null],
    ] as const) {
      const expected = await webCrypto(ip, userAgent);
      expect(expected).toMatch(/^[0-9a-f]{32}$/);
      expect(await node(ip, userAgent)).toBe(expected);
    }
    expect(await node(null, agent)).toBeNull();
  });

  it("answers synchronously once the day's salt is known, and takes the next day's salt when the day changes", async () => {
    const cache = new MemoryCache();
    let at = Date.UTC(2026, 10, 27, 23, 59, 59);
    const hasher = createVisitorHasher(cache, () => at, nodeSha256Hex);
    const first = hasher("203.0.113.7", agent);
    expect(first).toBeInstanceOf(Promise);
    const today = await first;
    const again = hasher("203.0.113.7", agent);
    expect(again).toBe(today);
    at += 1_000;
    const tomorrow = hasher("203.0.113.7", agent);
    expect(tomorrow).toBeInstanceOf(Promise);
    expect(await tomorrow).not.toBe(today);
    expect(await cache.get("visitor-salt:2026-11-28")).toMatch(/^[0-9a-f]{64}$/);
    expect(hasher("203.0.113.7", agent)).toBe(await tomorrow);
  });
});
