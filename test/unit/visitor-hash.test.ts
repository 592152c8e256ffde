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
});
