/**
 * The click stream from the harness's side: a watcher of a stream's consumer group (backlog,
 * drained, dead letters) and the consumer role (`dist/node/consumer.js`, as `npm run consumer`
 * runs it) started from the bundle under test. Shared by redirect-mix and click-ingest.
 */
import type { ChildProcess } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { Redis } from "ioredis";
import { clickStreamNames } from "../../src/platform/node/redis-stream-click-queue";
import { type Cores, captureOutput, nodeBinary, processTree, sleep, spawnOn } from "./proc";
import { edgelinkEnv } from "./servers";

const asRecord = (reply: unknown): Record<string, unknown> => {
  const record: Record<string, unknown> = {};
  if (Array.isArray(reply))
    for (let i = 0; i + 1 < reply.length; i += 2) record[String(reply[i])] = reply[i + 1];
  return record;
};

/** The click stream's backlog: entries delivered and not acknowledged, and entries not yet delivered. */
export function streamWatcher(
  redisUrl: string,
  key = "clicks:stream",
  options: { pollMs?: number; timeoutMs?: number } = {},
) {
  const pollMs = options.pollMs ?? 200;
  const timeoutMs = options.timeoutMs ?? 180_000;
  const { stream, group, deadLetter } = clickStreamNames(key);
  const client = new Redis(redisUrl, { protocol: 2, lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on("error", () => {});
  const backlog = async (): Promise<{ pending: number; undelivered: number }> => {
    let info: Record<string, unknown>;
    let groups: unknown[];
    try {
      info = asRecord(await client.call("XINFO", "STREAM", stream));
      groups = (await client.call("XINFO", "GROUPS", stream)) as unknown[];
    } catch (error) {
      if (/no such key/i.test(String(error))) return { pending: 0, undelivered: 0 };
      throw error;
    }
    const mine = groups.map(asRecord).find((g) => g.name === group);
    if (!mine) return { pending: 0, undelivered: Number(info.length ?? 0) };
    const lag = mine.lag;
    const undelivered =
      typeof lag === "number" || (typeof lag === "string" && lag !== "")
        ? Number(lag)
        : mine["last-delivered-id"] === info["last-generated-id"]
          ? 0
          : Number.NaN;
    return { pending: Number(mine.pending ?? 0), undelivered };
  };
  return {
    backlog,
    /** Waits until the consumer has stored and acknowledged everything; answers the seconds it took. */
    async drained(): Promise<{ seconds: number; drained: boolean }> {
      const started = performance.now();
      while (performance.now() - started < timeoutMs) {
        const { pending, undelivered } = await backlog();
        if (pending === 0 && undelivered === 0)
          return { seconds: (performance.now() - started) / 1000, drained: true };
        await sleep(pollMs);
      }
      return { seconds: (performance.now() - started) / 1000, drained: false };
    },
    deadLettered: async () => Number(await client.xlen(deadLetter)),
    close: () => client.disconnect(),
  };
}

/** A running consumer role: its process tree, signalled as one. */
export interface ConsumerProcess {
  child: ChildProcess;
  /** `performance.now()` when it logged that it started consuming. */
  startedAt: number;
  pids(): number[];
  signal(signal: NodeJS.Signals): void;
  /** SIGCONT (in case it was frozen), SIGTERM, and its exit. */
  stop(): Promise<void>;
}

/**
 * Starts the consumer role of the bundle under test (`consumer.js` beside `bundle`, else
 * dist/node/consumer.js) on `cores` with `settings`, and resolves once it logs that it consumes.
 */
export async function startConsumerProcess(options: {
  bundle?: string;
  cores: Cores;
  settings: Record<string, string>;
  timeoutMs?: number;
}): Promise<ConsumerProcess> {
  const entry = consumerEntry(options.bundle);
  const child = spawnOn(options.cores, nodeBinary, ["--enable-source-maps", entry], {
    env: edgelinkEnv(options.settings),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let startedAt: number | undefined;
  const output = captureOutput(child, (line) => {
    if (line.includes('"click stream consumer started"')) startedAt ??= performance.now();
  });
  const deadline = performance.now() + (options.timeoutMs ?? 30_000);
  while (startedAt === undefined && performance.now() < deadline) await sleep(5);
  if (startedAt === undefined) {
    child.kill("SIGKILL");
    throw new Error(`${entry} did not start consuming:\n${output.join("\n")}`);
  }
  const pids = () => (child.pid ? processTree(child.pid) : []);
  const signal = (name: NodeJS.Signals) => {
    for (const pid of pids()) {
      try {
        process.kill(pid, name);
      } catch {}
    }
  };
  return {
    child,
    startedAt,
    pids,
    signal,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((done) => child.once("exit", done));
      signal("SIGCONT");
      signal("SIGTERM");
      await exited;
    },
  };
}

/** The consumer bundle beside the server bundle under test. */
export const consumerEntry = (bundle: string | undefined) =>
  bundle ? join(dirname(resolve(bundle)), "consumer.js") : resolve("dist/node/consumer.js");
