/**
 * What a scenario is, and the runner that measures its rows interleaved: after one warm-up per row,
 * round 1 measures A B C …, round 2 A B C …, and so on, so that a noisy stretch of the shared
 * machine hits every row alike; ratios are paired within a round.
 */
import { loadavg } from "node:os";
import type { Postgres, RedisService } from "./backing";
import type { JobScenario } from "./job";
import { type Generator, type LoadShape, runLoad } from "./load";
import type { Measurement } from "./report";
import type { Server } from "./servers";

export interface Row {
  /** Stable id within the scenario, e.g. `edgelink-x2`. */
  id: string;
  label: string;
  procs: number;
  /** Server configuration, tiers and backing services, printed under the table. */
  config: string;
  server: Server;
  /** A function gives a fresh shape (e.g. new slugs) per measurement. */
  shape: () => LoadShape;
  /** Id of the row this one is compared with (same scenario, same round). */
  baseline?: string;
  /** Statuses that are the point of the row; others are counted as unexpected. */
  expect: number[];
  /** Checks one request before any load (status, headers): throws when the answer is wrong. */
  preflight: () => Promise<string>;
  /** Extra processes whose CPU counts as the server's (Redis, Postgres backends). */
  backingPids?: () => Promise<number[]>;
  /** Called around each measurement; `after` answers scenario-specific counts. */
  before?: () => Promise<unknown>;
  after?: (
    before: unknown,
    requests: number,
    codes: Record<string, number>,
    prefix: string,
  ) => Promise<Record<string, number>>;
}

export interface ScenarioRun {
  rows: Row[];
  /** Lines for the report, computed after all rounds (e.g. totals checked against Postgres). */
  afterRounds?: (measurements: Measurement[]) => Promise<string[]>;
  beforeRounds?: () => Promise<void>;
  teardown(): Promise<void>;
}

export interface Context {
  rounds: number;
  durationSec: number;
  warmupSec: number;
  generator: Generator;
  connections?: number;
  /** Only rows whose id contains one of these (all when empty). */
  rowFilter: string[];
  profileDir?: string;
  /** The edgelink bundle under test (`--bundle`); dist/node/server.js when undefined. */
  bundle?: string;
  /** A second edgelink bundle measured side by side with it in redirect-hot (`--compare`). */
  compareBundle?: string;
  /** Units of work per job run (links imported, clicks exported) when not the scenario's default. */
  jobSize?: number;
  /** Lazily created backing services, shared by the scenarios of one run. */
  postgres(): Promise<Postgres>;
  redis(): Promise<RedisService>;
  /** An API key of a workspace in the shared Postgres database. */
  postgresKey(): Promise<string>;
  log(line: string): void;
}

/** A scenario of load rows: each row is a fixed duration of load from the generator. */
export interface LoadScenario {
  kind?: "load";
  name: string;
  title: string;
  /** What it measures, for the report and the README. */
  measures: string;
  connections: number;
  needsPostgres: boolean;
  setup(ctx: Context): Promise<ScenarioRun>;
}

/** Load scenarios (redirects, API calls) and job scenarios (./job.ts: imports, exports, queries). */
export type Scenario = LoadScenario | JobScenario;

function unexpectedCount(
  expect: number[],
  codes: Record<string, number>,
  requests: number,
  non2xx3xx: number,
): number {
  if (Object.keys(codes).length === 0) {
    // wrk in `fixed` mode counts only non-2xx/3xx answers.
    const wantsSuccess = expect.every((s) => s >= 200 && s < 400);
    return wantsSuccess ? non2xx3xx : requests - non2xx3xx;
  }
  return Object.entries(codes)
    .filter(([status]) => !expect.includes(Number(status)))
    .reduce((sum, [, count]) => sum + count, 0);
}

export async function runScenario(
  scenario: LoadScenario,
  ctx: Context,
  run: ScenarioRun,
): Promise<{ measurements: Measurement[]; notes: string[] }> {
  const connections = ctx.connections ?? scenario.connections;
  const rows = run.rows.filter(
    (row) => ctx.rowFilter.length === 0 || ctx.rowFilter.some((part) => row.id.includes(part)),
  );
  // A filtered row keeps its baseline, so that its ratio can still be computed.
  const keep = new Set(rows.flatMap((row) => [row.id, ...(row.baseline ? [row.baseline] : [])]));
  const measured = run.rows.filter((row) => keep.has(row.id));
  for (const row of measured) ctx.log(`  preflight ${row.id}: ${await row.preflight()}`);
  for (const row of measured) {
    ctx.log(`  warm-up ${row.id} (${ctx.warmupSec} s)`);
    await runLoad({
      port: row.server.port,
      shape: row.shape(),
      connections,
      durationSec: ctx.warmupSec,
      generator: ctx.generator,
    });
  }
  await run.beforeRounds?.();
  const measurements: Measurement[] = [];
  for (let round = 1; round <= ctx.rounds; round += 1) {
    for (const row of measured) {
      const load1 = loadavg()[0]!;
      const backing = (await row.backingPids?.()) ?? [];
      const before = await row.before?.();
      const result = await runLoad({
        port: row.server.port,
        shape: row.shape(),
        connections,
        durationSec: ctx.durationSec,
        generator: ctx.generator,
        cpuGroups: () => ({ server: row.server.pids(), backing }),
      });
      const extra = (await row.after?.(before, result.requests, result.codes, result.prefix)) ?? {};
      const unexpected = unexpectedCount(row.expect, result.codes, result.requests, result.non2xx3xx);
      measurements.push({ scenario: scenario.name, row: row.id, round, load1, result, extra, unexpected });
      const flag = result.errors > 0 || unexpected > 0 ? "  ! FLAGGED" : "";
      const extras = Object.entries(extra)
        .map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toFixed(3)}`)
        .join(" ");
      ctx.log(
        `  round ${round} ${row.id.padEnd(22)} ${String(result.rps).padStart(7)} req/s  p50 ${result.p50Ms} ms  p99 ${result.p99Ms} ms  ` +
          `err ${result.errors}  non-2xx/3xx ${result.non2xx3xx}  load ${load1.toFixed(2)}  cpu ${JSON.stringify(result.cpu)}${extras ? `  ${extras}` : ""}${flag}`,
      );
    }
  }
  const notes = (await run.afterRounds?.(measurements)) ?? [];
  return { measurements, notes };
}
