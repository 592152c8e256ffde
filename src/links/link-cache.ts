import { LRUCache } from "lru-cache";
import type { Cache } from "../platform/cache/cache";
import { withDeadline } from "../platform/deadline";
import type { Logger } from "../platform/log/logger";
import type { MetricsRegistry } from "../platform/metrics/metrics-registry";
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

/** A tier's answer: a link, or the remembered fact that there is none (negative cache). */
type Cached = { entry: RedirectEntry; fetchedAt: number } | { missing: true; fetchedAt: number };

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

/** The most a redirect waits on Redis before treating it as a miss and asking Postgres. */
export const redisBudgetMs = 100;

export interface LinkCacheOptions {
  localTtlSeconds: number;
  localMax: number;
  redisTtlSeconds: number;
  negativeTtlSeconds: number;
}

/**
 * The redirect path's tiers: in-process LRU → Redis → Postgres.
 *
 * Staleness bounds (the promise made in the README):
 * - an edit or delete clears Redis and this process's LRU at once (`invalidate`);
 * - another instance may serve its LRU copy for at most `localTtlSeconds` after that;
 * - Redis entries older than a quarter of their TTL are served once more while a background
 *   refresh replaces them (stale-while-revalidate), so a hot link never waits on Postgres;
 * - an unknown slug is remembered for `negativeTtlSeconds`, and concurrent misses in one process
 *   share one query: Postgres sees at most one query per unknown slug per process per TTL.
 * Redis failing or slow (> {@link redisBudgetMs}) degrades to LRU + Postgres, never to an error.
 */
export class LinkCache {
  private readonly local: LRUCache<string, Cached>;
  private readonly inflight = new Map<string, Promise<RedirectEntry | null>>();

  constructor(
    private readonly redis: Cache,
    private readonly options: LinkCacheOptions,
    private readonly observe: { metrics: MetricsRegistry; logger: Logger },
  ) {
    this.local = new LRUCache({
      max: Math.max(1, options.localMax),
      ttl: options.localTtlSeconds * 1000 || 1,
    });
  }

  /**
   * Resolves (domain, slug), filling tiers on the way back. `load` is the Postgres read;
   * `background` keeps a revalidation alive after the response (waitUntil on the edge).
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
    const shared = await this.readRedis(key);
    if (shared) {
      this.local.set(key, shared, { ttl: this.localTtl(shared) });
      const staleAfter = (this.options.redisTtlSeconds * 1000) / 4;
      if ("entry" in shared && Date.now() - shared.fetchedAt > staleAfter) {
        background(this.fill(key, load).catch(() => {}));
      }
      return this.answer(shared, "redis");
    }
    this.count("postgres");
    return this.fill(key, load);
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

  /** Forgets (domain, slug) here and in Redis; call on create (clears a negative entry), edit, delete. */
  invalidate(domain: string, slug: string): Promise<void> {
    return this.invalidateMany([{ domain, slug }]);
  }

  /** {@link invalidate} for many links at once (a bulk import): one Redis DEL for all of them. */
  async invalidateMany(links: readonly { domain: string; slug: string }[]): Promise<void> {
    if (links.length === 0) return;
    const keys = links.map(({ domain, slug }) => cacheKey(domain, slug));
    for (const key of keys) this.local.delete(key);
    try {
      await withDeadline(this.redis.delete(...keys), redisBudgetMs * 10, "redis");
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

  private fill(key: string, load: () => Promise<Link | null>): Promise<RedirectEntry | null> {
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = (async () => {
        this.observe.metrics.counter("link_cache_db_loads_total", "Postgres reads made by the redirect path");
        const link = await load();
        const value: Cached = link
          ? { entry: toRedirectEntry(link), fetchedAt: Date.now() }
          : { missing: true, fetchedAt: Date.now() };
        this.local.set(key, value, { ttl: this.localTtl(value) });
        const ttlSeconds = "entry" in value ? this.options.redisTtlSeconds : this.options.negativeTtlSeconds;
        this.redis.set(key, value, { ttlSeconds }).catch(() => this.count("redis_error"));
        return "entry" in value ? value.entry : null;
      })().finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  private async readRedis(key: string): Promise<Cached | null> {
    try {
      return await withDeadline(this.redis.get<Cached>(key), redisBudgetMs, "redis");
    } catch {
      this.count("redis_error");
      return null;
    }
  }

  private localTtl(value: Cached): number {
    const seconds =
      "entry" in value
        ? this.options.localTtlSeconds
        : Math.min(this.options.localTtlSeconds, this.options.negativeTtlSeconds);
    return Math.max(1, seconds * 1000);
  }

  private answer(value: Cached, tier: "local" | "redis"): RedirectEntry | null {
    this.count(tier);
    return "entry" in value ? value.entry : null;
  }

  private count(outcome: "local" | "redis" | "postgres" | "redis_error"): void {
    this.observe.metrics.counter("link_cache_lookups_total", "Redirect lookups by the tier that answered", {
      tier: outcome,
    });
  }
}

const cacheKey = (domain: string, slug: string) => `link:${domain}:${slug}`;
