import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { LinkCache, type LinkCacheOptions } from "../../src/links/link-cache";
import type { Link } from "../../src/links/link-repository";
import type { Cache } from "../../src/platform/cache/cache";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";

type OpenedCache = Cache & { teardown?: () => Promise<void> };

const defaults: LinkCacheOptions = {
  localTtlSeconds: 5,
  localMax: 1_000,
  redisTtlSeconds: 3_600,
  negativeTtlSeconds: 30,
};

/** A links row as Postgres would answer it; only `url` varies between versions. */
export function row(slug: string, url: string): Link {
  const at = new Date(0);
  return {
    id: "00000000-0000-4000-8000-000000000001",
    workspaceId: "00000000-0000-4000-8000-000000000002",
    domain: "race.test",
    slug,
    slugCustom: true,
    url,
    title: null,
    tags: [],
    expiresAt: null,
    expiredUrl: null,
    maxClicks: null,
    clickCount: 0,
    redirectStatus: 302,
    cacheControl: "private, max-age=0",
    passwordHash: null,
    utm: null,
    rules: null,
    createdAt: at,
    updatedAt: at,
  };
}

/**
 * One link's row in "Postgres", and the reads of it. `held()` is a read that takes its snapshot when
 * called but answers only on `release()` — a query that started before an edit and returns after it.
 */
function postgres(initial: Link | null) {
  const db = {
    current: initial,
    reads: 0,
    load: async () => {
      db.reads += 1;
      return db.current;
    },
    held() {
      let release!: () => void;
      let began!: () => void;
      const gate = new Promise<void>((done) => (release = done));
      const started = new Promise<void>((done) => (began = done));
      const load = async () => {
        db.reads += 1;
        const snapshot = db.current;
        began();
        await gate;
        return snapshot;
      };
      return { load, started, release };
    },
  };
  return db;
}

/** Collects `waitUntil` work so a test can let it finish before asserting. */
function afterResponse() {
  const pending: Promise<unknown>[] = [];
  return {
    background: (work: Promise<unknown>) => void pending.push(work),
    async settle() {
      while (pending.length > 0) await Promise.allSettled(pending.splice(0));
    },
  };
}

/** Counts what a LinkCache asks of the shared tier. */
function countingCache(inner: Cache): Cache & { calls: string[] } {
  const calls: string[] = [];
  return new Proxy(inner, {
    get(target, name, receiver) {
      if (name === "calls") return calls;
      const member = Reflect.get(target, name, receiver);
      if (typeof member !== "function") return member;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return member.apply(target, args);
      };
    },
  }) as Cache & { calls: string[] };
}

/**
 * The stale-link races of the redirect cache, run against one shared tier: several LinkCache
 * instances (processes or isolates) over the same cache, a Postgres read that can be held open,
 * and an edit's invalidation landing while it is. Each case names the bound it checks.
 */
export function describeLinkCacheRaces(label: string, open: () => Promise<OpenedCache>) {
  describe(`link cache races (${label})`, () => {
    let shared: OpenedCache;
    const instance = (options: Partial<LinkCacheOptions> = {}) =>
      new LinkCache(
        shared,
        { ...defaults, ...options },
        { metrics: new MetricsRegistry(), logger: createLogger({ level: "silent" }) },
      );
    let slug: string;

    beforeAll(async () => {
      shared = await open();
    });
    afterAll(async () => {
      await shared?.close();
      await shared?.teardown?.();
    });
    afterEach(() => {
      vi.useRealTimers();
    });
    const fresh = () => {
      slug = `s${crypto.randomUUID().slice(0, 12)}`;
      return slug;
    };

    it("a fill that read Postgres before an edit does not put the old target into Redis", async () => {
      const db = postgres(row(fresh(), "https://example.com/v1"));
      const [filler, editor, other] = [instance(), instance(), instance()];
      const work = afterResponse();
      const slow = db.held();
      const filling = filler.resolve("race.test", slug, slow.load, work.background);
      await slow.started;
      db.current = row(slug, "https://example.com/v2");
      await editor.invalidate("race.test", slug);
      slow.release();
      // The slow read began before the edit: answering with it is fine, caching it for others is not.
      expect((await filling)?.url).toBe("https://example.com/v1");
      await work.settle();
      expect((await other.resolve("race.test", slug, db.load, work.background))?.url).toBe(
        "https://example.com/v2",
      );
    });

    it("a fill that read Postgres before a delete does not bring the link back", async () => {
      const db = postgres(row(fresh(), "https://example.com/deleted"));
      const [filler, editor, other] = [instance(), instance(), instance()];
      const work = afterResponse();
      const slow = db.held();
      const filling = filler.resolve("race.test", slug, slow.load, work.background);
      await slow.started;
      db.current = null;
      await editor.invalidate("race.test", slug);
      slow.release();
      await filling;
      await work.settle();
      expect(await other.resolve("race.test", slug, db.load, work.background)).toBeNull();
    });

    it("a miss read before a create does not cache the link's absence over it", async () => {
      const db = postgres(null);
      fresh();
      const [filler, creator, other] = [instance(), instance(), instance()];
      const work = afterResponse();
      const slow = db.held();
      const filling = filler.resolve("race.test", slug, slow.load, work.background);
      await slow.started;
      db.current = row(slug, "https://example.com/created");
      await creator.invalidate("race.test", slug);
      slow.release();
      expect(await filling).toBeNull();
      await work.settle();
      expect((await other.resolve("race.test", slug, db.load, work.background))?.url).toBe(
        "https://example.com/created",
      );
    });

    it("a stale-while-revalidate refresh that read Postgres before an edit does not put the old target back", async () => {
      vi.useFakeTimers({ toFake: ["Date"], now: Date.now() });
      const db = postgres(row(fresh(), "https://example.com/v1"));
      const work = afterResponse();
      await instance().resolve("race.test", slug, db.load, work.background);
      await work.settle();
      // Past a quarter of the Redis TTL: the next Redis hit is served and refreshed in the background.
      vi.setSystemTime(Date.now() + (defaults.redisTtlSeconds * 1000) / 2);
      const slow = db.held();
      const refresher = instance();
      const served = await refresher.resolve("race.test", slug, slow.load, work.background);
      expect(served?.url).toBe("https://example.com/v1");
      await slow.started;
      db.current = row(slug, "https://example.com/v2");
      await instance().invalidate("race.test", slug);
      slow.release();
      await work.settle();
      expect((await instance().resolve("race.test", slug, db.load, work.background))?.url).toBe(
        "https://example.com/v2",
      );
    });

    it("the instance that invalidates never keeps what a read begun before the invalidation found", async () => {
      const db = postgres(row(fresh(), "https://example.com/v1"));
      const self = instance();
      const work = afterResponse();
      const slow = db.held();
      const filling = self.resolve("race.test", slug, slow.load, work.background);
      await slow.started;
      db.current = row(slug, "https://example.com/v2");
      await self.invalidate("race.test", slug);
      // A request after the edit neither joins the read in flight nor waits for it.
      expect((await self.resolve("race.test", slug, db.load, work.background))?.url).toBe(
        "https://example.com/v2",
      );
      slow.release();
      await filling;
      await work.settle();
      expect((await self.resolve("race.test", slug, db.load, work.background))?.url).toBe(
        "https://example.com/v2",
      );
      expect(self.peek("race.test", slug)?.url).toBe("https://example.com/v2");
    });

    it("a lookup after another instance's invalidation does not join a read begun before it", async () => {
      const db = postgres(row(fresh(), "https://example.com/v1"));
      const other = instance();
      const work = afterResponse();
      const slow = db.held();
      const filling = other.resolve("race.test", slug, slow.load, work.background);
      await slow.started;
      db.current = row(slug, "https://example.com/v2");
      await instance().invalidate("race.test", slug);
      expect((await other.resolve("race.test", slug, db.load, work.background))?.url).toBe(
        "https://example.com/v2",
      );
      slow.release();
      await filling;
      await work.settle();
      expect(other.peek("race.test", slug)?.url).toBe("https://example.com/v2");
    });

    it("another instance's local copy lives at most the local TTL from the moment it was read", async () => {
      let now = Date.now();
      const db = postgres(row(fresh(), "https://example.com/v1"));
      const other = instance({ localTtlSeconds: 5, now: () => now });
      const work = afterResponse();
      const slow = db.held();
      const filling = other.resolve("race.test", slug, slow.load, work.background);
      await slow.started;
      db.current = row(slug, "https://example.com/v2");
      await instance().invalidate("race.test", slug);
      // The read answers 6 s after it began: its copy is already older than the local TTL.
      now += 6_000;
      slow.release();
      await filling;
      await work.settle();
      expect(other.peek("race.test", slug)).toBeUndefined();
      expect((await other.resolve("race.test", slug, db.load, work.background))?.url).toBe(
        "https://example.com/v2",
      );
    });

    it("a read after the invalidation refills Redis, so the next instance does not ask Postgres", async () => {
      const db = postgres(row(fresh(), "https://example.com/v1"));
      const work = afterResponse();
      await instance().resolve("race.test", slug, db.load, work.background);
      await work.settle();
      db.current = row(slug, "https://example.com/v2");
      await instance().invalidate("race.test", slug);
      const reads = db.reads;
      expect((await instance().resolve("race.test", slug, db.load, work.background))?.url).toBe(
        "https://example.com/v2",
      );
      await work.settle();
      expect(db.reads).toBe(reads + 1);
      expect((await instance().resolve("race.test", slug, db.load, work.background))?.url).toBe(
        "https://example.com/v2",
      );
      expect(db.reads).toBe(reads + 1);
    });

    it("costs nothing shared on a local hit and one call on a Redis hit", async () => {
      const db = postgres(row(fresh(), "https://example.com/cost"));
      const work = afterResponse();
      await instance().resolve("race.test", slug, db.load, work.background);
      await work.settle();
      const counted = countingCache(shared);
      const reader = new LinkCache(counted, defaults, {
        metrics: new MetricsRegistry(),
        logger: createLogger({ level: "silent" }),
      });
      await reader.resolve("race.test", slug, db.load, work.background);
      expect(counted.calls).toHaveLength(1);
      await reader.resolve("race.test", slug, db.load, work.background);
      expect(reader.peek("race.test", slug)?.url).toBe("https://example.com/cost");
      expect(counted.calls).toHaveLength(1);
    });
  });
}
