/**
 * `stats`: distinct stats questions over a link with 1M clicks, p50/p99 and queries/s, against the
 * bare SQL over the rollups via pg (bench/baselines/stats-pg.mjs).
 */

import { type ClickData, seedClicks, seedNote } from "./lib/click-seed";
import { defaultSize, int, runChild, startDataServer, workersOf } from "./lib/data-jobs";
import { type JobRow, type JobScenario, percentile, watchRss } from "./lib/job";
import { placement } from "./lib/proc";

/** Distinct stats questions: hour and day intervals, ranges inside the data, several groupBy sets. */
function statsQuestions(data: ClickData, count: number) {
  const hourMs = 3_600_000;
  const dayMs = 24 * hourMs;
  const groupBys = [
    [],
    ["country"],
    ["browser", "device", "os"],
    ["country", "device", "browser", "os", "referrer"],
    ["referrer"],
  ];
  const span = data.to.getTime() - data.from.getTime();
  const questions: { interval: "hour" | "day"; from: string; to: string; groupBy: string[] }[] = [];
  for (let i = 0; i < count; i += 1) {
    const interval = i % 3 === 0 ? "day" : "hour";
    // Deterministic spread of lengths and offsets; every range is whole buckets and distinct.
    const step = interval === "hour" ? hourMs : dayMs;
    const maxBuckets = interval === "hour" ? 31 * 24 : Math.floor(span / dayMs);
    const buckets = 1 + ((i * 7919) % maxBuckets);
    const room = Math.max(1, Math.floor(span / step) - buckets);
    const start = data.from.getTime() + ((i * 104729) % room) * step;
    questions.push({
      interval,
      from: new Date(start).toISOString(),
      to: new Date(start + buckets * step).toISOString(),
      groupBy: groupBys[i % groupBys.length]!,
    });
  }
  return questions;
}

const statsQueries = 2_000;
const statsConcurrency = 4;

export const stats: JobScenario = {
  kind: "job",
  name: "stats",
  title: "stats queries over a link with 1M clicks (rollups)",
  measures:
    `${statsQueries} distinct GET /api/v1/links/:id/stats questions (interval hour over up to 31 days, day over ` +
    "up to 60; groupBy none, one, three or five dimensions) over one link with 1M clicks, " +
    `${statsConcurrency} at a time, the stats cache off (STATS_CACHE_SECONDS=0): per-request p50/p99 and queries/s. ` +
    "Baseline: the same questions answered by a plain script with the bare SQL over the rollups (totals per bucket " +
    "+ top-N GROUP BY) via pg, same concurrency.",
  needsPostgres: true,
  async setup(ctx) {
    const key = await ctx.postgresKey();
    ctx.log(`  seeding ${int(ctx.jobSize ?? defaultSize)} clicks and their rollups in SQL…`);
    const data = await seedClicks(ctx, ctx.jobSize ?? defaultSize);
    const server = await startDataServer(ctx, { STATS_CACHE_SECONDS: "0" });
    const questions = statsQuestions(data, statsQueries);
    const path = (q: (typeof questions)[number]) =>
      `/api/v1/links/${data.linkId}/stats?${new URLSearchParams({
        interval: q.interval,
        from: q.from,
        to: q.to,
        ...(q.groupBy.length > 0 ? { groupBy: q.groupBy.join(",") } : {}),
      })}`;
    const latency = (sorted: number[]) => ({
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      maxMs: sorted.at(-1) ?? 0,
    });
    const jobs: JobRow[] = [
      {
        id: "pg-groupby",
        label: "bare pg GROUP BY over rollups",
        procs: 1,
        unit: "queries",
        config: `bench/baselines/stats-pg.mjs on core ${placement.singleServer ?? "any"}: totals + top-10 breakdowns per question via pg, ${statsConcurrency} questions in flight`,
        async run() {
          const out = await runChild<{
            answered: number;
            latenciesMs: number[];
            durationMs: number;
            maxRssMb: number;
          }>(
            "bench/baselines/stats-pg.mjs",
            {
              url: (await ctx.postgres()).url,
              linkId: data.linkId,
              queries: questions,
              concurrency: statsConcurrency,
              top: 10,
            },
            placement.singleServer,
          );
          return {
            items: out.answered,
            durationSec: out.durationMs / 1000,
            peakRssMb: out.maxRssMb,
            latency: latency(out.latenciesMs),
            ok: out.answered === questions.length,
            check: `${int(out.answered)} of ${int(questions.length)} answered`,
          };
        },
      },
      {
        id: "edgelink",
        label: "edgelink GET /links/:id/stats",
        procs: 1,
        unit: "queries",
        baseline: "pg-groupby",
        config:
          "edgelink node:cluster ×1 worker on core 0 (Postgres + Redis), STATS_CACHE_SECONDS=0, from " +
          `bench/lib/stats-client.mjs on core ${placement.generator ?? "any"}, ${statsConcurrency} keep-alive connections`,
        async preflight() {
          // End to end: the API's totals and a breakdown over the whole range equal the raw clicks.
          const whole = `/api/v1/links/${data.linkId}/stats?interval=day&groupBy=country&top=100&from=${data.from.toISOString()}&to=${data.to.toISOString()}`;
          const response = await fetch(`http://127.0.0.1:${server.port}${whole}`, {
            headers: { authorization: `Bearer ${key}` },
          });
          const body = (await response.json()) as {
            clicks: number;
            bots: number;
            previews: number;
            breakdowns: { country: { top: { clicks: number }[]; other: number } };
          };
          const countries = body.breakdowns?.country?.top.reduce((a, t) => a + t.clicks, 0) ?? -1;
          const want = data.byTraffic;
          if (
            response.status !== 200 ||
            body.clicks !== want.human ||
            body.bots !== want.bot ||
            body.previews !== want.preview ||
            countries + (body.breakdowns?.country?.other ?? 0) !== want.human
          ) {
            throw new Error(
              `stats over the whole range disagree with the raw clicks: ${JSON.stringify(body).slice(0, 500)}`,
            );
          }
          return `whole range: clicks ${int(body.clicks)}, bots ${int(body.bots)}, previews ${int(body.previews)} = raw; countries add up`;
        },
        async run() {
          const watch = watchRss(workersOf(server));
          const out = await runChild<{
            answered: number;
            statuses: Record<string, number>;
            firstFailure: string | null;
            latenciesMs: number[];
            durationMs: number;
          }>(
            "bench/lib/stats-client.mjs",
            { port: server.port, key, paths: questions.map(path), concurrency: statsConcurrency },
            placement.generator,
          );
          const rss = watch.stop();
          const ok = out.statuses["200"] === questions.length;
          return {
            items: out.statuses["200"] ?? 0,
            durationSec: out.durationMs / 1000,
            peakRssMb: rss.peakMb,
            latency: latency(out.latenciesMs),
            ok,
            check: `${JSON.stringify(out.statuses)}${out.firstFailure ? ` first failure: ${out.firstFailure}` : ""}`,
          };
        },
      },
    ];
    return {
      jobs,
      notes: async () => [seedNote(data)],
      teardown: () => server.stop(),
    };
  },
};
