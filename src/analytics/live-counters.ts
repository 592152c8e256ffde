import type { Cache } from "../platform/cache/cache";
import type { IngestedClick } from "./click-ingest";

/** How long a day's unique-visitor HyperLogLog is kept: a bit over a year of daily estimates. */
export const uniquesTtlSeconds = 400 * 86_400;

/**
 * Redis keys the consumer maintains for human clicks it actually inserted (never for a redelivery
 * it recognised as a duplicate), read by the stats API. Names are relative to the Cache port, which
 * prefixes every key with `el:` (so in Redis they are `el:clicks:live:{linkId}` and so on).
 *
 * - `clicks:live:{linkId}` — a counter (INCRBY): human clicks ingested for the link, all time, no TTL.
 * - `uniques:{linkId}:{YYYY-MM-DD}` — a HyperLogLog (PFADD of visitor hashes) of the UTC day the
 *   click occurred; expires {@link uniquesTtlSeconds} after its first click. Several days' keys go
 *   into one `hyperLogLogCount` for the uniques of a range.
 *
 * Postgres stays the source of truth: the counters are updated after the commit, best-effort, so a
 * consumer that dies between the two (or Redis being away) leaves them short, never over.
 *
 * @example
 * await cache.get<number>(liveClicksKey(linkId));
 * await cache.hyperLogLogCount(uniquesKey(linkId, "2026-11-27"), uniquesKey(linkId, "2026-11-28"));
 */
export const liveClicksKey = (linkId: string) => `clicks:live:${linkId}`;

/** @see liveClicksKey — `day` is a UTC date, `YYYY-MM-DD`. */
export const uniquesKey = (linkId: string, day: string) => `uniques:${linkId}:${day}`;

/**
 * Folds freshly inserted clicks into the live counters: one INCRBY per link and one PFADD per link
 * and day, all in one round trip. Non-human traffic is not counted here (rollups keep it).
 */
export async function updateLiveCounters(cache: Cache, inserted: readonly IngestedClick[]): Promise<void> {
  const clicks = new Map<string, number>();
  const visitors = new Map<string, string[]>();
  for (const click of inserted) {
    if (click.traffic !== "human") continue;
    clicks.set(click.linkId, (clicks.get(click.linkId) ?? 0) + 1);
    if (!click.visitorHash) continue;
    const key = uniquesKey(click.linkId, click.occurredAt.toISOString().slice(0, 10));
    const list = visitors.get(key);
    if (list) list.push(click.visitorHash);
    else visitors.set(key, [click.visitorHash]);
  }
  // One round trip for the whole batch: a batch of a hundred clicks over many links would otherwise
  // cost the consumer (which shares its process with serving) two commands per link.
  await cache.countMany(
    [...clicks].map(([linkId, count]) => [liveClicksKey(linkId), count] as const),
    [...visitors],
    { hyperLogLogTtlSeconds: uniquesTtlSeconds },
  );
}
