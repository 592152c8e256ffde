/**
 * `export-stream`: 1M clicks through GET /api/v1/clicks/export as NDJSON and CSV, rows/s and the
 * worker's peak RSS, against a bare pg keyset dump (bench/baselines/export-pg.mjs).
 */

import { seedClicks, seedNote } from "./lib/click-seed";
import { defaultSize, exportPageSize, int, runChild, startDataServer, workersOf } from "./lib/data-jobs";
import { type JobRow, type JobScenario, watchRss } from "./lib/job";
import { placement, sleep } from "./lib/proc";

export const exportStream: JobScenario = {
  kind: "job",
  name: "export-stream",
  title: "streamed export of 1M clicks through GET /api/v1/clicks/export",
  measures:
    "GET /api/v1/clicks/export over a range holding 1M clicks (seeded in SQL), as NDJSON and as CSV, read and " +
    "counted by a client as it arrives; rows/s over the whole response and the peak RSS of the edgelink worker. " +
    "Baseline: a plain script paging the same rows with the same keyset query via pg and writing the same NDJSON " +
    "lines to /dev/null.",
  needsPostgres: true,
  async setup(ctx) {
    const size = ctx.jobSize ?? defaultSize;
    const key = await ctx.postgresKey();
    ctx.log(`  seeding ${int(size)} clicks and their rollups in SQL…`);
    const data = await seedClicks(ctx, size);
    const server = await startDataServer(ctx, {});
    const range = { from: data.from.toISOString(), to: data.to.toISOString() };
    const flatness: string[] = [];
    const viaHttp = (format: "ndjson" | "csv"): JobRow => ({
      id: `edgelink-${format}`,
      label: `edgelink export ${format}`,
      procs: 1,
      unit: "rows",
      baseline: "pg-keyset",
      config:
        `edgelink node:cluster ×1 worker on core 0 (Postgres + Redis), EXPORT_PAGE_SIZE=${exportPageSize} (default), ` +
        `format=${format}, read by bench/lib/export-client.mjs on core ${placement.generator ?? "any"}`,
      async run(round) {
        await sleep(500);
        const watch = watchRss(workersOf(server));
        const out = await runChild<{
          status: number;
          lines: number;
          bytes: number;
          lastLine: string;
          durationMs: number;
        }>(
          "bench/lib/export-client.mjs",
          { port: server.port, key, query: new URLSearchParams({ ...range, format }).toString() },
          placement.generator,
        );
        const rss = watch.stop();
        flatness.push(`${format} round ${round}: ${rss.byTenth.map((v) => v.toFixed(0)).join(" ")}`);
        const rows = format === "csv" ? out.lines - 1 : out.lines;
        // A complete body ends with a whole row; a truncated one would not parse.
        const lastIsRow =
          format === "ndjson"
            ? out.lastLine.startsWith("{") && out.lastLine.endsWith("}")
            : out.lastLine.split(",").length === 10;
        return {
          items: rows,
          durationSec: out.durationMs / 1000,
          peakRssMb: rss.peakMb,
          ok: out.status === 200 && rows === data.clicks && lastIsRow,
          check: `${out.status}, ${int(rows)} rows${format === "csv" ? " + header" : ""} of ${int(data.clicks)}, ${(out.bytes / 2 ** 20).toFixed(0)} MB, last line ${lastIsRow ? "complete" : "TRUNCATED"}`,
        };
      },
    });
    const jobs: JobRow[] = [
      {
        id: "pg-keyset",
        label: "bare pg keyset dump",
        procs: 1,
        unit: "rows",
        config:
          `bench/baselines/export-pg.mjs on core ${placement.singleServer ?? "any"}: the same keyset pages of ` +
          `${exportPageSize} rows via pg, JSON lines into /dev/null`,
        async run() {
          const out = await runChild<{ lines: number; bytes: number; durationMs: number; maxRssMb: number }>(
            "bench/baselines/export-pg.mjs",
            {
              url: (await ctx.postgres()).url,
              workspaceId: data.workspaceId,
              ...range,
              pageSize: exportPageSize,
            },
            placement.singleServer,
          );
          return {
            items: out.lines,
            durationSec: out.durationMs / 1000,
            peakRssMb: out.maxRssMb,
            ok: out.lines === data.clicks,
            check: `${int(out.lines)} rows of ${int(data.clicks)}, ${(out.bytes / 2 ** 20).toFixed(0)} MB`,
          };
        },
      },
      viaHttp("ndjson"),
      viaHttp("csv"),
    ];
    return {
      jobs,
      notes: async () => [
        seedNote(data),
        `edgelink worker RSS (MB), highest sample in each tenth of the export: ${flatness.join("; ")}`,
      ],
      teardown: () => server.stop(),
    };
  },
};
