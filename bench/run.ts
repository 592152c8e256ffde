/**
 * `npm run bench [-- <scenario>… ] [options]`: builds the Node bundle, runs the scenarios with their
 * baselines interleaved, prints one table and writes bench/results/<timestamp>.json.
 * Protocol: ../shared/docs/bench.md. Options: `npm run bench -- --help`.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createPostgres, type Postgres, type RedisService, startRedis } from "./lib/backing";
import { type JobMeasurement, runJobs } from "./lib/job";
import { type JobSummary, renderJobTable, summarizeJob } from "./lib/job-report";
import { defaultGenerator, type Generator } from "./lib/load";
import { placement, redisServerPath, wrkPath } from "./lib/proc";
import { profilesIn, summarizeProfile } from "./lib/profile";
import { type Measurement, type RowSummary, renderTable, summarizeRow } from "./lib/report";
import { type Context, runScenario } from "./lib/scenario";
import { createWorkspaceKey, setEdgelinkOverrides } from "./lib/servers";
import { scenarios } from "./scenarios";

const usage = `Usage: npm run bench [-- [scenario…] [options]]

Scenarios: ${scenarios.map((s) => s.name).join(", ")} (default: all)
Options:
  --rounds N         interleaved rounds per row (default 3, at least 3 for a claim)
  --duration S       seconds per measurement (default 10, at most 15)
  --warmup S         seconds of unmeasured load per row before round 1 (default 3)
  --connections N    override every scenario's connection count
  --generator G      wrk | autocannon (default: wrk when installed, else autocannon)
  --rows A,B         only rows whose id contains A or B (their baselines are kept)
  --profile          run edgelink with --cpu-prof and print its top frames afterwards
  --bundle FILE      the edgelink build to measure (default dist/node/server.js, built first)
  --compare FILE     also measure another edgelink build (e.g. dist/node-before/server.js, the
                     bundle before a change) in redirect-hot, interleaved with dist/node/server.js
  --no-build         skip \`npm run build:node\` (measure dist/node/server.js as it is)
  --size N           work per job run: links imported (import-stream), clicks seeded (export-stream,
                     stats); default 1000000
  --set KEY=VALUE    a setting for every edgelink process started, over the scenario's (repeatable;
                     printed with the run): for experiments, e.g. --set CLICK_HANDOFF_MS=0
Environment: BENCH_DATABASE_URL (admin URL of the Postgres to create a throw-away database on;
default DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres), BENCH_REDIS_URL (use this
Redis instead of a private redis-server).`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string" },
    generator: { type: "string" },
    rows: { type: "string", default: "" },
    profile: { type: "boolean", default: false },
    compare: { type: "string" },
    bundle: { type: "string" },
    "no-build": { type: "boolean", default: false },
    size: { type: "string" },
    set: { type: "string", multiple: true, default: [] },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log(usage);
  process.exit(0);
}
const unknown = positionals.filter((name) => !scenarios.some((s) => s.name === name));
if (unknown.length > 0) {
  console.error(`unknown scenario ${unknown.join(", ")}\n\n${usage}`);
  process.exit(2);
}
const selected = positionals.length > 0 ? scenarios.filter((s) => positionals.includes(s.name)) : scenarios;
const rounds = Number(values.rounds);
const durationSec = Number(values.duration);
const warmupSec = Number(values.warmup);
if (!(durationSec > 0 && durationSec <= 15) || !(warmupSec > 0 && warmupSec <= 15) || !(rounds >= 1)) {
  console.error("--duration and --warmup must be in (0, 15] s, --rounds ≥ 1");
  process.exit(2);
}
const jobSize = values.size === undefined ? undefined : Number(values.size);
let overrides: Record<string, string>;
try {
  overrides = setEdgelinkOverrides(values.set);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
if (jobSize !== undefined && !(Number.isInteger(jobSize) && jobSize >= 1_000 && jobSize <= 10_000_000)) {
  console.error("--size must be an integer in [1000, 10000000]");
  process.exit(2);
}
const generator = (values.generator ?? defaultGenerator()) as Generator;
if (generator !== "wrk" && generator !== "autocannon") {
  console.error("--generator must be wrk or autocannon");
  process.exit(2);
}

const startedAt = new Date();
const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
const profileDir = values.profile ? join("bench/results", `profiles-${stamp}`) : undefined;
const log = (line: string) => console.log(line);

const gitCommit = (() => {
  try {
    const head = execFileSync("git", ["rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["status", "--porcelain", "src"], { encoding: "utf8" }).trim();
    // With --bundle the working tree is not what runs; say so instead of flagging its edits.
    if (values.bundle) return `${head} (measuring ${values.bundle})`;
    return dirty ? `${head} (+ uncommitted src changes)` : head;
  } catch {
    return "unknown";
  }
})();

if (!values["no-build"] && !values.bundle) {
  log("building dist/node/server.js (npm run build:node)…");
  const build = spawnSync("npm", ["run", "build:node", "--silent"], { stdio: "inherit" });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

let postgres: Postgres | undefined;
let redis: RedisService | undefined;
let postgresKey: Promise<string> | undefined;
const adminUrl =
  process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const ctx: Context = {
  rounds,
  durationSec,
  warmupSec,
  generator,
  connections: values.connections ? Number(values.connections) : undefined,
  rowFilter: values.rows ? values.rows.split(",").filter(Boolean) : [],
  profileDir,
  bundle: values.bundle,
  compareBundle: values.compare,
  jobSize,
  async postgres() {
    postgres ??= await createPostgres(adminUrl);
    return postgres;
  },
  async redis() {
    redis ??= await startRedis(
      process.env.BENCH_REDIS_URL ?? (redisServerPath ? undefined : process.env.REDIS_URL),
    );
    return redis;
  },
  async postgresKey() {
    const url = (await ctx.postgres()).url;
    postgresKey ??= createWorkspaceKey({ DATABASE_URL: url });
    return postgresKey;
  },
  log,
};

const onlyJobs = selected.every((s) => s.kind === "job");
const header = [
  `edgelink bench ${startedAt.toISOString()} · commit ${gitCommit} · Node ${process.version}`,
  onlyJobs
    ? `job scenarios only (no load generator): ${rounds} interleaved rounds, each job run whole${jobSize ? ` (--size ${jobSize})` : ""}`
    : `generator: ${generator}${generator === "wrk" ? " -t1 (Lua script bench/lib/wrk.lua)" : " (bench/lib/autocannon-child.mjs, own process)"}` +
      `${wrkPath ? "" : " — wrk not installed"} · ${rounds} rounds × ${durationSec} s per row, interleaved, after ${warmupSec} s warm-up per row`,
  `placement: ${placement.describe()}`,
  `edgelink under test: ${values.bundle ?? "dist/node/server.js (built from the working tree)"}` +
    `${values.compare ? ` · compared with ${values.compare}` : ""}` +
    `${
      Object.keys(overrides).length > 0
        ? ` · --set ${Object.entries(overrides)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ")} on every edgelink`
        : ""
    }`,
];
for (const line of header) log(line);

const measurements: Measurement[] = [];
const summaries: RowSummary[] = [];
const jobMeasurements: JobMeasurement[] = [];
const jobSummaries: JobSummary[] = [];
const labels = new Map<string, string>();
const legend: string[] = [];
const notes: string[] = [];
const loads: number[] = [loadavg()[0]!];
let failed = false;

try {
  for (const scenario of selected) {
    if (scenario.kind === "job") {
      log(`\n== ${scenario.name}: ${scenario.title}`);
      const run = await scenario.setup(ctx);
      try {
        const result = await runJobs(scenario, ctx, run);
        jobMeasurements.push(...result.measurements);
        for (const row of run.jobs) {
          labels.set(`${scenario.name}/${row.id}`, `${row.label} ×${row.procs}`);
          if (!result.measurements.some((m) => m.row === row.id)) continue;
          legend.push(`${scenario.name} · ${row.label} ×${row.procs}: ${row.config}`);
          jobSummaries.push(summarizeJob(scenario.name, row, result.measurements));
        }
        for (const note of result.notes) notes.push(`${scenario.name}: ${note}`);
        for (const m of result.measurements) loads.push(m.load1);
      } finally {
        await run.teardown();
      }
      continue;
    }
    const connections = ctx.connections ?? scenario.connections;
    log(`\n== ${scenario.name}: ${scenario.title} · ${connections} connections`);
    const run = await scenario.setup(ctx);
    try {
      const result = await runScenario(scenario, ctx, run);
      measurements.push(...result.measurements);
      for (const row of run.rows) {
        labels.set(`${scenario.name}/${row.id}`, `${row.label} ×${row.procs}`);
        if (!result.measurements.some((m) => m.row === row.id)) continue;
        legend.push(`${scenario.name} · ${row.label} ×${row.procs}: ${row.config}`);
        summaries.push(
          summarizeRow(
            {
              scenario: scenario.name,
              id: row.id,
              label: row.label,
              procs: row.procs,
              baseline: row.baseline,
              expected: row.expect.every((s) => s >= 200 && s < 400) ? "2xx/3xx" : row.expect.join("/"),
            },
            result.measurements,
          ),
        );
      }
      for (const note of result.notes) notes.push(`${scenario.name}: ${note}`);
      for (const m of result.measurements) loads.push(m.load1);
    } finally {
      await run.teardown();
    }
  }
} catch (error) {
  failed = true;
  console.error(`\nbench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
} finally {
  await redis?.stop().catch(() => {});
  await postgres
    ?.drop()
    .catch((error: unknown) => console.error(`could not drop ${postgres?.name}: ${error}`));
}

const machine = `load average (1 min) during the run: min ${Math.min(...loads).toFixed(2)}, max ${Math.max(...loads).toFixed(2)} on ${placement.pinned ? "2+" : "these"} cores`;
if (summaries.length > 0 || jobSummaries.length > 0) {
  log(`\n${header.join("\n")}`);
  const loadScenarios = selected.flatMap((s) => (s.kind === "job" ? [] : [s]));
  log(
    `${loadScenarios.length > 0 ? `connections: ${loadScenarios.map((s) => `${s.name} ${ctx.connections ?? s.connections}`).join(", ")} · ` : ""}${machine}`,
  );
}
if (summaries.length > 0) {
  log(
    "req/s: median over rounds [min–max]; latencies: medians of each round's percentile; ratio: per-round paired " +
      "ratio to the named baseline, median [min–max]; CPU: cores used during the measurement by the server processes, " +
      "the generator, and everything else on the machine (other tenant, Postgres, Redis); ! = flagged (errors or unexpected statuses)\n",
  );
  log(renderTable(summaries, labels));
}
if (jobSummaries.length > 0) {
  log(
    `\njobs (${rounds} interleaved rounds): rate = units of work per second of one whole run, median [min–max]; ratio: ` +
      "per-round paired ratio of rates to the named baseline; peak RSS: the highest VmRSS of the process doing the " +
      "work (edgelink: its worker, sampled every 100 ms; a baseline script: its own maxRSS); p50/p99: per-request " +
      "latencies within a run (median of the runs' p50; p99 median [min–max]); ! = a correctness check failed\n",
  );
  log(renderJobTable(jobSummaries, labels));
}
if (summaries.length > 0 || jobSummaries.length > 0) {
  log("\nrows:");
  for (const line of legend) log(`  ${line}`);
  if (redis) log(`  Redis: ${redis.describe}`);
  if (notes.length > 0) {
    log("\nchecks:");
    for (const note of notes) log(`  ${note}`);
  }
}

if (profileDir) {
  for (const file of profilesIn(profileDir)) log(`\n${summarizeProfile(file)}`);
}

mkdirSync("bench/results", { recursive: true });
const out = join("bench/results", `${stamp}.json`);
writeFileSync(
  out,
  `${JSON.stringify(
    {
      startedAt: startedAt.toISOString(),
      commit: gitCommit,
      node: process.version,
      generator,
      placement: placement.describe(),
      rounds,
      durationSec,
      warmupSec,
      settings: overrides,
      redis: redis?.describe,
      scenarios: selected.map((s) => ({
        name: s.name,
        title: s.title,
        measures: s.measures,
        ...(s.kind === "job" ? {} : { connections: ctx.connections ?? s.connections }),
      })),
      rows: legend,
      jobSize,
      summaries,
      jobSummaries,
      notes,
      measurements,
      jobMeasurements,
      failed,
    },
    null,
    2,
  )}\n`,
);
log(`\nresults: ${out}`);
process.exit(failed ? 1 : 0);
