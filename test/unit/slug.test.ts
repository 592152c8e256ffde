import { describe, expect, it } from "vitest";
import { generateSlug, reservedSlugs } from "../../src/links/slug";

describe("generateSlug", () => {
  it("draws base62 slugs of the asked length, every character about equally often", () => {
    const counts = new Map<string, number>();
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i += 1) {
      const slug = generateSlug(7);
      expect(slug).toMatch(/^[0-9A-Za-z]{7}$/);
      seen.add(slug);
      for (const char of slug) counts.set(char, (counts.get(char) ?? 0) + 1);
    }
    // 20k draws of 62^7 values: a repeat would mean the bytes are reused.
    expect(seen.size).toBe(20_000);
    expect(counts.size).toBe(62);
    // 140k characters, 2,258 expected each; a byte-modulo bias (256 % 62) would give the first
    // eight characters ~25% more.
    for (const count of counts.values()) expect(Math.abs(count - 140_000 / 62)).toBeLessThan(250);
    expect(generateSlug(1)).toMatch(/^[0-9A-Za-z]$/);
    expect(reservedSlugs.has("docs")).toBe(true);
  });
});
