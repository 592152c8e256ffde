import type { RollupGranularity } from "../../db/schema";
import type { Config } from "../config";
import type { LinkService } from "../links/link-service";
import type { Cache } from "../platform/cache/cache";
import type { Database } from "../platform/db/database";
import { liveClicksKey, uniquesKey } from "./live-counters";
import { type BreakdownRow, createStatsRepository } from "./stats-repository";
import type { LinkStats, StatsQuery } from "./stats-schemas";

const hourMs = 3_600_000;
const dayMs = 86_400_000;
const stepMs: Record<RollupGranularity, number> = { hour: hourMs, day: dayMs };
/** Longest range per interval: a month of hours (744 points), two years of days (731 points). */
const maxRangeMs: Record<RollupGranularity, number> = { hour: 31 * dayMs, day: 731 * dayMs };
const defaultRangeMs: Record<RollupGranularity, number> = { hour: dayMs, day: 30 * dayMs };

export type StatsFailure = { kind: "not-found" } | { kind: "invalid"; field: string; message: string };
export type StatsResult = { ok: true; value: LinkStats } | { ok: false; failure: StatsFailure };

const floorTo = (ms: number, step: number) => Math.floor(ms / step) * step;
const ceilTo = (ms: number, step: number) => Math.ceil(ms / step) * step;

/**
 * `toISOString()` of every bucket start in [from, to), whole UTC hours: each day's date part is
 * formatted once and the hour appended (formatting a Date costs ~1 µs, and a month of hours has 744
 * of them).
 */
export function bucketStarts(from: number, to: number, step: number): string[] {
  const starts: string[] = [];
  let day = Number.NaN;
  let date = "";
  for (let at = from; at < to; at += step) {
    const dayOf = floorTo(at, dayMs);
    if (dayOf !== day) {
      day = dayOf;
      date = new Date(day).toISOString().slice(0, -13);
    }
    const hour = (at - day) / hourMs;
    starts.push(
      Number.isInteger(hour)
        ? `${date}${hour < 10 ? "0" : ""}${hour}:00:00.000Z`
        : new Date(at).toISOString(),
    );
  }
  return starts;
}

function toBreakdowns(rows: BreakdownRow[], dimensions: readonly string[]): LinkStats["breakdowns"] {
  const breakdowns: Record<string, { top: { value: string; clicks: number }[]; other: number }> = {};
  for (const dimension of dimensions) breakdowns[dimension] = { top: [], other: 0 };
  for (const row of rows) {
    const entry = breakdowns[row.dimension]!;
    if (row.value === null) entry.other = row.clicks;
    else entry.top.push({ value: row.value, clicks: row.clicks });
  }
  return breakdowns;
}

/**
 * Stats of one link, from rollups (never a scan of raw clicks, except for `groupBy=reason`), cached
 * for STATS_CACHE_SECONDS under a key that holds the workspace — so an answer can only be served
 * again to the workspace it was computed for. A link deleted meanwhile keeps its cached answer
 * for at most that long.
 */
export function createStatsService(deps: {
  db: Database;
  cache: Cache;
  linkService: LinkService;
  config: Config;
  now?: () => number;
}) {
  const repository = createStatsRepository(deps.db.replica);
  const ttlSeconds = deps.config.STATS_CACHE_SECONDS;

  /** PFCOUNT over the day HyperLogLogs the consumer fills: the union, so a returning visitor counts once. */
  const uniques = async (linkId: string, from: number, to: number): Promise<number | null> => {
    const keys: string[] = [];
    for (let day = floorTo(from, dayMs); day < to; day += dayMs) {
      keys.push(uniquesKey(linkId, new Date(day).toISOString().slice(0, 10)));
    }
    // Redis unreachable: the counts from Postgres still answer, without the estimate.
    return deps.cache.hyperLogLogCount(...keys).catch(() => null);
  };

  const compute = async (linkId: string, query: StatsQuery, from: number, to: number): Promise<LinkStats> => {
    const { interval, top } = query;
    const dimensions = query.groupBy ?? [];
    const range = { linkId, granularity: interval, from: new Date(from), to: new Date(to) };
    const rollupDimensions = dimensions.filter((dimension) => dimension !== "reason");
    const [totals, breakdownRows, reasonRows, uniqueCount, liveClicks] = await Promise.all([
      repository.totals(range),
      repository.breakdowns(range, rollupDimensions, top),
      dimensions.includes("reason") ? repository.reasons(linkId, range.from, range.to) : undefined,
      uniques(linkId, from, to),
      deps.cache.get<number>(liveClicksKey(linkId)).catch(() => null),
    ]);
    const step = stepMs[interval];
    const series = bucketStarts(from, to, step).map((start) => ({ start, clicks: 0, bots: 0, previews: 0 }));
    const sums = { clicks: 0, bots: 0, previews: 0 };
    for (const row of totals) {
      const point = series[(row.at - from) / step];
      if (point) {
        point.clicks += row.clicks;
        point.bots += row.bots;
        point.previews += row.previews;
      }
      sums.clicks += row.clicks;
      sums.bots += row.bots;
      sums.previews += row.previews;
    }
    return {
      linkId,
      interval,
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      ...sums,
      uniques: uniqueCount,
      allTimeClicks: liveClicks === null ? null : Number(liveClicks),
      series,
      breakdowns: toBreakdowns(breakdownRows, rollupDimensions),
      ...(reasonRows
        ? {
            reasons: {
              bot: reasonRows
                .filter((r) => r.traffic === "bot")
                .map((r) => ({ value: r.reason ?? "unknown", clicks: r.clicks })),
              preview: reasonRows
                .filter((r) => r.traffic === "preview")
                .map((r) => ({ value: r.reason ?? "unknown", clicks: r.clicks })),
            },
          }
        : {}),
    };
  };

  return {
    /** How long an answer may be reused; the HTTP layer says the same in Cache-Control. */
    ttlSeconds,

    async linkStats(workspaceId: string, linkId: string, query: StatsQuery): Promise<StatsResult> {
      const { interval } = query;
      const step = stepMs[interval];
      const now = deps.now?.() ?? Date.now();
      const requestedTo = query.to?.getTime() ?? now;
      const requestedFrom = query.from?.getTime() ?? requestedTo - defaultRangeMs[interval];
      if (requestedFrom >= requestedTo) {
        const field = query.to ? "query.to" : "query.from";
        return {
          ok: false,
          failure: {
            kind: "invalid",
            field,
            message: query.to ? "must be after from" : "must be before now",
          },
        };
      }
      if (requestedTo - requestedFrom > maxRangeMs[interval]) {
        const limit = interval === "hour" ? "31 days with interval=hour (use interval=day)" : "731 days";
        return {
          ok: false,
          failure: { kind: "invalid", field: "query.from", message: `must be at most ${limit} before to` },
        };
      }
      // Whole buckets: rollups count per bucket, so a partial bucket cannot be answered exactly.
      const from = floorTo(requestedFrom, step);
      const to = query.to ? ceilTo(requestedTo, step) : floorTo(now, step) + step;
      const key = `stats:v1:${workspaceId}:${linkId}:${interval}:${from}:${to}:${query.groupBy?.join(",") ?? ""}:${query.top}`;
      if (ttlSeconds > 0) {
        const cached = await deps.cache.get<LinkStats>(key).catch(() => null);
        if (cached) return { ok: true, value: cached };
      }
      const link = await deps.linkService.get(workspaceId, linkId);
      if (!link.ok) return { ok: false, failure: { kind: "not-found" } };
      const stats = await compute(linkId, query, from, to);
      // A cache that cannot take it only costs the next request a recomputation.
      if (ttlSeconds > 0) await deps.cache.set(key, stats, { ttlSeconds }).catch(() => {});
      return { ok: true, value: stats };
    },
  };
}

export type StatsService = ReturnType<typeof createStatsService>;
