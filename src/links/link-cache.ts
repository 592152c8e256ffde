import { LRUCache } from "lru-cache";
import type { Cache } from "../platform/cache/cache";
import { withDeadline } from "../platform/deadline";
import type { Logger } from "../platform/log/logger";
import type { MetricsRegistry } from "../platform/metrics/metrics-registry";
import { type Cached, fillWriteWindowMs, LinkRedisTier, type TierRead } from "./link-redis-tier";
import type { Link } from "./link-repository";

/** What the redirect path needs of a link; small, JSON-safe, shared by every tier. */
export interface RedirectEntry {
  id: string;
  workspaceId: string;
  url: string;
  title: string | null;
  redirectStatus: 301 | 302 | 307 | 308;
  cacheControl: string;
  expiresAt: number | null;
  expiredUrl: string | null;
  maxClicks: number | null;
  passwordHash: string | null;
  utm: Record<string, string> | null;
  rules: Link["rules"];
}

export function toRedirectEntry(link: Link): RedirectEntry {
  return {
    id: link.id,
    workspaceId: link.workspaceId,
    url: link.url,
    title: link.title,
    redirectStatus: link.redirectStatus,
    cacheControl: link.cacheControl,
    expiresAt: link.expiresAt ? link.expiresAt.getTime() : null,
    expiredUrl: link.expiredUrl,
    maxClicks: link.maxClicks,
    passwordHash: link.passwordHash,
    utm: link.utm,
    rules: link.rules,
  };
}

/** Whether the link's expiry has passed: from then on it answers 410 (or its `expiredUrl`). */
export const hasExpired = (entry: Pick<RedirectEntry, "expiresAt">, now = Date.now()) =>
  entry.expiresAt !== null && entry.expiresAt <= now;

/** The most a redirect waits on Redis before treating it as a miss and asking Postgres. */
export const redisBudgetMs = 100;

export interface LinkCacheOptions {
  localTtlSeconds: number;
  localMax: number;
  redisTtlSeconds: number;
  negativeTtlSeconds: number;
  /** Milliseconds clock for ages and the local TTL; tests pass their own. Default `Date.now`. */
  now?: () => number;
  /**
   * Whether other processes share the `redis` cache (default true). The embedded default's
   * in-process cache has this process as its only writer, and the in-process supersession of fills
   * covers every race there: no generation markers are kept (one per created link would fill the
   * bounded in-process cache during a bulk import).
   */
  shared?: boolean;
}

/** A Postgres read in flight, shared by the lookups of this process that saw the same generation. */
interface Fill {
  generation: string | null | undefined;
  answer: Promise<RedirectEntry | null>;
}

/**
 * The redirect path's tiers: in-process LRU → Redis → Postgres.
 *
 * Staleness bounds (the promise made in the README), for an edit, delete or create:
 * - this process sees it at once: `invalidate` clears its LRU, and no lookup begun here before the
 *   invalidation stores what it found (it still answers its own request);
 * - Redis stops serving the old entry at once, and no instance's read that began before the
 *   invalidation can write Redis after it (a per-link generation, see {@link LinkRedisTier});
 * - another instance serves its LRU copy for at most `localTtlSeconds` after the invalidation: a
 *   copy's age counts from the moment its read began, not from when the answer arrived;
 * - Redis entries older than a quarter of their TTL are served once more while a background
 *   refresh replaces them (stale-while-revalidate), so a hot link never waits on Postgres;
 * - an unknown slug is remembered for `negativeTtlSeconds`, and concurrent misses in one process
 *   share one query: Postgres sees at most one query per unknown slug per process per TTL.
 * Redis failing or slow (> {@link redisBudgetMs}) degrades to LRU + Postgres, never to an error; an
 * invalidation that cannot reach Redis is logged and counted, and then other instances may serve
 * the old entry until its Redis TTL. Cost: an LRU hit touches nothing shared; a Redis hit is one
 * MGET; a fill adds one compare-then-set (EVALSHA), after the response.
 */
export class LinkCache {
  private readonly local: LRUCache<string, Cached>;
  private readonly shared: LinkRedisTier;
  private readonly inflight = new Map<string, Fill>();
  private readonly now: () => number;
  /** Bumped by every invalidation here: a Redis read in flight across one does not fill the LRU. */
  private invalidations = 0;

  constructor(
    redis: Cache,
    private readonly options: LinkCacheOptions,
    private readonly observe: { metrics: MetricsRegistry; logger: Logger },
  ) {
    this.now = options.now ?? (() => Date.now());
    this.shared = new LinkRedisTier(redis, options);
    this.local = new LRUCache({
      max: Math.max(1, options.localMax),
      ttl: options.localTtlSeconds * 1000 || 1,
      ...(options.now ? { perf: { now: options.now } } : {}),
    });
  }

  /**
   * Resolves (domain, slug), filling tiers on the way back. `load` is the Postgres read;
   * `background` keeps work alive after the response (waitUntil on the edge): revalidations and
   * Redis writes.
   */
  async resolve(
    domain: string,
    slug: string,
    load: () => Promise<Link | null>,
    background: (work: Promise<unknown>) => void,
  ): Promise<RedirectEntry | null> {
    const key = cacheKey(domain, slug);
    const hit = this.local.get(key);
    if (hit) return this.answer(hit, "local");
    const readAt = this.now();
    const invalidations = this.invalidations;
    const shared = await this.readRedis(key);
    if (shared?.value) {
      const { value, generation } = shared;
      if (invalidations === this.invalidations) this.keepLocal(key, value, readAt);
      const staleAfter = (this.options.redisTtlSeconds * 1000) / 4;
      if ("entry" in value && this.now() - value.fetchedAt > staleAfter) {
        background(this.fill(key, load, generation, background).catch(() => {}));
      }
      return this.answer(value, "redis");
    }
    this.count("postgres");
    // Without a generation (Redis failed) the fill answers and fills the LRU, but never Redis.
    return this.fill(key, load, shared?.generation, background);
  }

  /**
   * The in-process tier alone, synchronously: the link, or undefined when this process holds no
   * live copy (a remembered miss included). For a fast path that must not wait for anything;
   * everything else goes through {@link resolve}.
   */
  peek(domain: string, slug: string): RedirectEntry | undefined {
    const hit = this.local.get(cacheKey(domain, slug));
    if (!hit || !("entry" in hit)) return undefined;
    this.count("local");
    return hit.entry;
  }

  /** Whether this process's LRU holds anything for (domain, slug): a live link or a remembered miss. */
  holds(domain: string, slug: string): boolean {
    return this.local.has(cacheKey(domain, slug));
  }

  /**
   * Forgets (domain, slug) here and outdates it in Redis; call after the change is committed, on
   * create (clears a negative entry), edit and delete.
   */
  invalidate(domain: string, slug: string): Promise<void> {
    return this.invalidateMany([{ domain, slug }]);
  }

  /** {@link invalidate} for many links at once (a bulk import): one Redis round trip for all of them. */
  async invalidateMany(links: readonly { domain: string; slug: string }[]): Promise<void> {
    if (links.length === 0) return;
    const keys = links.map(({ domain, slug }) => cacheKey(domain, slug));
    this.invalidations += 1;
    for (const key of keys) {
      this.local.delete(key);
      // Lookups from now on read Postgres afresh instead of joining a read begun before the change.
      this.inflight.delete(key);
    }
    try {
      await withDeadline(this.shared.invalidate(keys), redisBudgetMs * 10, "redis");
    } catch (error) {
      // Other instances then see the old entry until its Redis TTL; say so loudly.
      this.observe.logger.error("link cache invalidation failed in redis", {
        key: keys[0],
        keys: keys.length,
        error,
      });
      this.observe.metrics.counter(
        "link_cache_invalidation_failures_total",
        "Redis invalidations that failed",
        undefined,
        keys.length,
      );
    }
  }

  /**
   * Reads Postgres once for all lookups here that saw the same `generation`. A lookup that saw a
   * newer one (another instance invalidated meanwhile) starts its own read rather than take an
   * answer read before the change.
   */
  private fill(
    key: string,
    load: () => Promise<Link | null>,
    generation: string | null | undefined,
    background: (work: Promise<unknown>) => void,
  ): Promise<RedirectEntry | null> {
    const running = this.inflight.get(key);
    if (running && running.generation === generation) return running.answer;
    // Once superseded (an invalidation here, or a fill under a newer generation) it answers its own
    // callers but stores nothing. `current` runs only after `load` has answered, when `fill` is set.
    const current = () => this.inflight.get(key) === fill;
    const fill: Fill = { generation, answer: this.readPostgres(key, load, generation, current, background) };
    this.inflight.set(key, fill);
    fill.answer
      .finally(() => {
        if (current()) this.inflight.delete(key);
      })
      .catch(() => {});
    return fill.answer;
  }

  private async readPostgres(
    key: string,
    load: () => Promise<Link | null>,
    generation: string | null | undefined,
    current: () => boolean,
    background: (work: Promise<unknown>) => void,
  ): Promise<RedirectEntry | null> {
    const readAt = this.now();
    this.observe.metrics.counter("link_cache_db_loads_total", "Postgres reads made by the redirect path");
    const link = await load();
    const value: Cached = link
      ? { entry: toRedirectEntry(link), fetchedAt: readAt }
      : { missing: true, fetchedAt: readAt };
    if (current()) {
      this.keepLocal(key, value, readAt);
      // Past the window the generation marker could have expired under this read: skip Redis.
      if (generation !== undefined && this.now() - readAt < fillWriteWindowMs) {
        background(this.share(key, value, generation));
      }
    }
    return "entry" in value ? value.entry : null;
  }

  private async share(key: string, value: Cached, generation: string | null): Promise<void> {
    try {
      const wrote = await this.shared.write(key, value, generation);
      if (!wrote) {
        this.observe.metrics.counter(
          "link_cache_stale_fills_total",
          "Redis fills refused because the link changed while they read Postgres",
        );
      }
    } catch {
      this.count("redis_error");
    }
  }

  private async readRedis(key: string): Promise<TierRead | null> {
    try {
      return await withDeadline(this.shared.read(key), redisBudgetMs, "redis");
    } catch {
      this.count("redis_error");
      return null;
    }
  }

  /** Keeps `value` for the local TTL counted from `readAt`, when the read began. */
  private keepLocal(key: string, value: Cached, readAt: number): void {
    const seconds =
      "entry" in value
        ? this.options.localTtlSeconds
        : Math.min(this.options.localTtlSeconds, this.options.negativeTtlSeconds);
    const ttl = seconds * 1000 - (this.now() - readAt);
    if (ttl >= 1) this.local.set(key, value, { ttl });
  }

  private answer(value: Cached, tier: "local" | "redis"): RedirectEntry | null {
    this.count(tier);
    return "entry" in value ? value.entry : null;
  }

  private readonly lookups = new Map<LookupOutcome, () => void>();

  /** Counted on every redirect, so each tier's series is bound once. */
  private count(outcome: LookupOutcome): void {
    let increment = this.lookups.get(outcome);
    if (!increment) {
      increment = this.observe.metrics.boundCounter(
        "link_cache_lookups_total",
        "Redirect lookups by the tier that answered",
        { tier: outcome },
      );
      this.lookups.set(outcome, increment);
    }
    increment();
  }
}

type LookupOutcome = "local" | "redis" | "postgres" | "redis_error";

const cacheKey = (domain: string, slug: string) => `link:${domain}:${slug}`;
