import type { Cache } from "../platform/cache/cache";
import type { RedirectEntry } from "./link-cache";

/** A tier's answer: a link, or the remembered fact that there is none (negative cache). */
export type Cached = { entry: RedirectEntry; fetchedAt: number } | { missing: true; fetchedAt: number };

/** What Redis holds for a link: the answer, and the generation of the link it was read under. */
type Stored = Cached & { generation?: string | null };

/** A look at the Redis tier: the answer if it is still current, and the link's generation now. */
export interface TierRead {
  value: Cached | null;
  generation: string | null;
}

/**
 * The longest a fill may take, from reading the generation to writing Redis, and still write. The
 * generation marker outlives it by a wide margin (see {@link LinkRedisTier}), so a marker cannot
 * expire under a fill that read the generation before it was set.
 */
export const fillWriteWindowMs = 30_000;

/**
 * The redirect cache's Redis tier, made safe against stale fills by a per-link generation.
 *
 * Every link may have a generation marker (`link-gen:…`, a random UUID) beside its entry
 * (`link:…`). An invalidation writes a new marker, then deletes the entry. A reader reads both in
 * one MGET and trusts the entry only if it was written under the current generation. A fill
 * (Postgres read) remembers the generation it saw *before* reading Postgres and writes its answer
 * only while that generation is still current — one atomic compare-then-set — so a read that began
 * before an edit can never land in Redis after the edit's invalidation, whatever the interleaving.
 *
 * Markers live for the entry TTL plus a margin: an entry written under an older generation always
 * expires before the marker that outdates it, and the margin exceeds {@link fillWriteWindowMs}.
 * The delete after the marker is for instances of earlier releases, which do not read markers, and
 * to free memory; correctness here does not depend on it.
 */
export class LinkRedisTier {
  private readonly markerTtlSeconds: number;

  private readonly markers: boolean;

  constructor(
    private readonly cache: Cache,
    private readonly ttl: { redisTtlSeconds: number; negativeTtlSeconds: number; shared?: boolean },
  ) {
    // Unshared (one process): fills superseded in-process never write, so no generations are needed.
    this.markers = ttl.shared ?? true;
    this.markerTtlSeconds =
      Math.max(ttl.redisTtlSeconds, ttl.negativeTtlSeconds) + 2 * Math.ceil(fillWriteWindowMs / 1000);
  }

  /** One round trip (MGET of the entry and its generation). */
  async read(key: string): Promise<TierRead> {
    if (!this.markers) return { value: await this.cache.get<Cached>(key), generation: null };
    const [stored, generation] = await this.cache.getMany<[Stored, string]>(key, markerKey(key));
    const current = stored !== null && (stored.generation ?? null) === generation;
    return { value: current ? stored : null, generation };
  }

  /**
   * Writes `value` if the link is still at `generation` (the one read before the value was read
   * from Postgres); answers whether it did. One round trip (EVALSHA on Redis).
   */
  write(key: string, value: Cached, generation: string | null): Promise<boolean> {
    const ttlSeconds = "entry" in value ? this.ttl.redisTtlSeconds : this.ttl.negativeTtlSeconds;
    if (!this.markers) return this.cache.set(key, value, { ttlSeconds }).then(() => true);
    const stored: Stored = { ...value, generation };
    return this.cache.setIf(key, stored, { key: markerKey(key), equals: generation }, { ttlSeconds });
  }

  /**
   * Moves each link to a new generation, which outdates its entry and every fill in flight. One round
   * trip: the markers (one pipeline) and the delete go out together; only the markers must land.
   */
  async invalidate(keys: readonly string[]): Promise<void> {
    if (!this.markers) {
      await this.cache.delete(...keys);
      return;
    }
    const markers = keys.map((key) => [markerKey(key), crypto.randomUUID()] as const);
    const [marked] = await Promise.allSettled([
      this.cache.setMany(markers, { ttlSeconds: this.markerTtlSeconds }),
      this.cache.delete(...keys),
    ]);
    if (marked.status === "rejected") throw marked.reason;
  }
}

// A UUID never parses as JSON, so the marker reads back as the very string that was written.
const markerKey = (key: string) => `link-gen:${key.slice("link:".length)}`;
