import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { Redis as IORedis } from "ioredis";
import type { ClickConsumer } from "../../src/analytics/click-consumer";
import { configSchema } from "../../src/config";
import { createLogger } from "../../src/platform/log/logger";
import { MetricsRegistry } from "../../src/platform/metrics/metrics-registry";
import type { ClickStreamNames } from "../../src/platform/node/redis-stream-click-queue";
import { flatRecord, tcpStreamConnection } from "../../src/platform/node/redis-stream-commands";
import {
  type RedisStreamConsumerOptions,
  startRedisStreamConsumer,
} from "../../src/platform/node/redis-stream-consumer";
import { nodeBinary } from "./node-process";

/** The bundle `npm run build:node` writes for `npm run consumer`. */
export const consumerEntry = resolve("dist/node/consumer.js");

/** A spawned `node dist/node/consumer.js`, its JSON log lines and its exit. */
export interface ConsumerProcess {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  /** Lines that were not JSON log lines (stderr, crash output). */
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitForLog(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<void>;
}

/** Spawns the consumer role with exactly `settings` as its edgelink configuration. */
export function spawnConsumer(settings: Record<string, string>): ConsumerProcess {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(configSchema.shape)) delete env[key];
  Object.assign(env, { LOG_LEVEL: "info" }, settings);
  const child = spawn(nodeBinary, ["--enable-source-maps", consumerEntry], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  const stderr: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch {
      stderr.push(line);
    }
  });
  createInterface({ input: child.stderr! }).on("line", (line) => stderr.push(line));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once("exit", (code, signal) => done({ code, signal })),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
  });
  return {
    child,
    logs,
    stderr,
    exited,
    async waitForLog(match, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!logs.some(match)) {
        if (gone || Date.now() > deadline) {
          const tail = [...logs.slice(-10).map((l) => JSON.stringify(l)), ...stderr.slice(-10)].join("\n");
          throw new Error(`consumer ${gone ? "exited" : "timed out"} before the log line\n${tail}`);
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

/** What a stream and its group hold right now, read over a plain connection. */
export async function streamState(redis: IORedis, names: ClickStreamNames) {
  const groups = ((await redis.call("XINFO", "GROUPS", names.stream).catch(() => [])) as unknown[]).map(
    flatRecord,
  );
  const group = groups.find((g) => g.name === names.group);
  const dead = (await redis.call("XRANGE", names.deadLetter, "-", "+")) as [string, string[]][];
  return {
    length: Number(await redis.call("XLEN", names.stream)),
    pending: Number(group?.pending ?? 0),
    lag: group ? Number(group.lag ?? 0) : Number.NaN,
    deadLetters: dead.map(([, fields]) => flatRecord(fields) as Record<string, string>),
  };
}

/**
 * A RESP2 ioredis connection for the tests' own stream commands; lazy, so a suite skipped for want
 * of Redis never dials the placeholder address it was given.
 */
export const plainRedis = (url: string) =>
  new IORedis(url, { protocol: 2, maxRetriesPerRequest: 1, lazyConnect: true });

/**
 * Starts an in-process Redis Streams consumer as the consumer suites do: small batches, quick
 * claims and polls, silent logs, metrics of its own. `over` replaces any of those.
 */
export function startTestStreamConsumer(
  redisUrl: string,
  names: ClickStreamNames,
  consumer: ClickConsumer,
  over: Partial<RedisStreamConsumerOptions> = {},
) {
  const metrics = new MetricsRegistry();
  const running = startRedisStreamConsumer({
    connection: tcpStreamConnection(redisUrl),
    names,
    consumerName: `t-${randomUUID().slice(0, 8)}`,
    consumer,
    batchSize: 10,
    claimIdleMs: 100,
    maxAttempts: 3,
    metrics,
    logger: createLogger({ level: "silent" }),
    waitMs: 100,
    ...over,
  });
  return { running, metrics };
}
