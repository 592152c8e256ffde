/**
 * Backing services for the cluster scenarios: a throw-away Postgres database (created, migrated,
 * dropped) and a Redis, by default a private `redis-server` on a free port so that its
 * `INFO commandstats` counts edgelink's commands only (the machine's shared Redis also serves the
 * other engineer's tests).
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { migratePostgres } from "../../db/migrate";
import { captureOutput, freePort, redisServerPath, sleep, spawnOn } from "./proc";

export interface Postgres {
  /** The throw-away database's URL. */
  url: string;
  name: string;
  /** Committed transactions of the database so far (pg_stat_database; flushed lazily, see below). */
  xactCommit(): Promise<number>;
  /** Pids of the server backends connected to the database. */
  backendPids(): Promise<number[]>;
  /** Waits until pg_stat_database stops moving (backends flush their counters within ~10 s of going idle). */
  settledXactCommit(): Promise<number>;
  /** Rows of the links table whose url is LIKE `pattern`. */
  countLinks(pattern: string): Promise<number>;
  drop(): Promise<void>;
}

export async function createPostgres(adminUrl: string): Promise<Postgres> {
  const name = `edgelink_bench_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  admin.on("error", () => {});
  await admin.query(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  await migratePostgres(url.toString());
  let reader: pg.Client | undefined;
  const xactCommit = async () => {
    // A fresh snapshot each time (stats are cached per transaction otherwise).
    await admin.query("select pg_stat_clear_snapshot()");
    const { rows } = await admin.query<{ n: string }>(
      "select xact_commit::text as n from pg_stat_database where datname = $1",
      [name],
    );
    return Number(rows[0]?.n ?? 0);
  };
  return {
    url: url.toString(),
    name,
    xactCommit,
    async backendPids() {
      const { rows } = await admin.query<{ pid: number }>(
        "select pid from pg_stat_activity where datname = $1",
        [name],
      );
      return rows.map((row) => row.pid);
    },
    async settledXactCommit() {
      let last = await xactCommit();
      let stableFor = 0;
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && stableFor < 12) {
        await sleep(1_000);
        const now = await xactCommit();
        stableFor = now === last ? stableFor + 1 : 0;
        last = now;
      }
      return last;
    },
    async countLinks(pattern) {
      if (!reader) {
        reader = new pg.Client({ connectionString: url.toString() });
        reader.on("error", () => {});
        await reader.connect();
      }
      const { rows } = await reader.query<{ n: string }>(
        "select count(*)::text as n from links where url like $1",
        [pattern],
      );
      return Number(rows[0]?.n ?? 0);
    },
    async drop() {
      await reader?.end().catch(() => {});
      await admin.query(`drop database if exists ${name} with (force)`);
      await admin.end();
    },
  };
}

export interface RedisService {
  url: string;
  /** How it was provided, for the report. */
  describe: string;
  /** Whether only edgelink talks to it (commandstats are then exact). */
  private: boolean;
  pid?: number;
  /** Calls per command (lower-case name), from INFO commandstats, minus the harness's own INFO calls. */
  commandCalls(): Promise<Record<string, number>>;
  flush(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(sharedUrl: string | undefined): Promise<RedisService> {
  if (sharedUrl || !redisServerPath) {
    const url = sharedUrl ?? "redis://127.0.0.1:6379/15";
    const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    client.on("error", () => {});
    await client.connect();
    return {
      url,
      describe: `shared Redis ${url} (commandstats include any other client of that server)`,
      private: false,
      commandCalls: () => commandCalls(client),
      // Never flush a shared server: keys are prefixed el: and scenarios use fresh slugs.
      flush: async () => {},
      stop: async () => {
        client.disconnect();
      },
    };
  }
  const port = await freePort();
  const child = spawnOn(
    undefined,
    redisServerPath,
    [
      "--port",
      String(port),
      "--bind",
      "127.0.0.1",
      "--save",
      "",
      "--appendonly",
      "no",
      "--loglevel",
      "warning",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const output = captureOutput(child);
  const url = `redis://127.0.0.1:${port}`;
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on("error", () => {});
  for (let attempt = 0; ; attempt += 1) {
    try {
      await client.connect();
      break;
    } catch (error) {
      if (attempt > 50) throw new Error(`private redis-server did not start: ${error}\n${output.join("\n")}`);
      client.disconnect();
      await sleep(100);
    }
  }
  return {
    url,
    describe: `private redis-server on 127.0.0.1:${port} (only edgelink connects: commandstats are exact)`,
    private: true,
    pid: child.pid,
    commandCalls: () => commandCalls(client),
    flush: async () => {
      await client.flushall();
    },
    stop: async () => {
      client.disconnect();
      child.kill("SIGTERM");
      await new Promise((done) => child.once("exit", done));
    },
  };
}

async function commandCalls(client: Redis): Promise<Record<string, number>> {
  const text = await client.info("commandstats");
  const calls: Record<string, number> = {};
  for (const match of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
    calls[match[1]!] = Number(match[2]);
  }
  delete calls.info;
  return calls;
}

/** Per-command call deltas between two `commandCalls()` readings (zeros left out). */
export function callDelta(
  before: Record<string, number>,
  after: Record<string, number>,
): Record<string, number> {
  const delta: Record<string, number> = {};
  for (const [command, calls] of Object.entries(after)) {
    const change = calls - (before[command] ?? 0);
    if (change > 0) delta[command] = change;
  }
  return delta;
}
