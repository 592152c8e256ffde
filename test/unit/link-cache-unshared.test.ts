import { describe, expect, it } from "vitest";
import { LinkCache } from "../../src/links/link-cache";
import { MemoryCache } from "../../src/platform/cache/memory-cache";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import { row } from "../support/link-cache-races";

const link = (url: string) => ({ ...row("solo", url), domain: "solo.test" });

/** The embedded default: this process is the in-process cache's only writer. */
function solo() {
  const cache = new MemoryCache();
  const links = new LinkCache(
    cache,
    { localTtlSeconds: 5, localMax: 100, redisTtlSeconds: 3_600, negativeTtlSeconds: 30, shared: false },
    { metrics: new MetricsRegistry(), logger: createLogger({ level: "silent" }) },
  );
  return { cache, links };
}
const background = (work: Promise<unknown>) => void work;

describe("link cache over an unshared (in-process) cache", () => {
  it("keeps no generation markers, so a bulk import's invalidations do not fill the cache", async () => {
    const { cache, links } = solo();
    const slugs = Array.from({ length: 1_000 }, (_, i) => ({ domain: "solo.test", slug: `s${i}` }));
    await links.invalidateMany(slugs);
    const markers = await cache.getMany(...slugs.map(({ slug }) => `link-gen:solo.test:${slug}`));
    expect(markers.every((marker) => marker === null)).toBe(true);
  });

  it("still never stores a read that began before an edit's invalidation", async () => {
    const { cache, links } = solo();
    let release!: () => void;
    let began!: () => void;
    const gate = new Promise<void>((done) => (release = done));
    const started = new Promise<void>((done) => (began = done));
    // A query that took its snapshot before the edit and answers after it.
    const slow = async () => {
      const before = link("https://old.example/");
      began();
      await gate;
      return before;
    };
    const answer = links.resolve("solo.test", "solo", slow, background);
    await started;
    await links.invalidate("solo.test", "solo");
    release();
    // The read answers its own caller with what it read …
    expect((await answer)?.url).toBe("https://old.example/");
    // … but neither tier keeps it: the next lookup reads Postgres afresh.
    expect(await cache.get("link:solo.test:solo")).toBeNull();
    expect(links.peek("solo.test", "solo")).toBeUndefined();
    const fresh = await links.resolve(
      "solo.test",
      "solo",
      async () => link("https://new.example/"),
      background,
    );
    expect(fresh?.url).toBe("https://new.example/");
    expect(((await cache.get("link:solo.test:solo")) as { entry: { url: string } }).entry.url).toBe(
      "https://new.example/",
    );
  });
});
