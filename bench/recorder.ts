/**
 * `npx tsx bench/recorder.ts [clicks] [rounds] [root]`: the serving side of click recording without
 * HTTP — edgelink's click recorder and Redis Streams producer on a real Redis (`BENCH_REDIS_URL`,
 * default `redis://127.0.0.1:6379/13`, flushed before and after), fed 40 visits every 10 ms (a
 * serving worker's rate under redirect-mix load), and the CPU per click of this process and of the
 * Redis server (`INFO cpu`). Each round also runs the same loop making the visits without recording
 * them: the "recording" column is the difference. `root` (default: this repository) is a checkout of
 * another tree, e.g. an older commit's `src/` unpacked with `git archive` and `node_modules` linked
 * in, for before/after. Not a substitute for `npm run bench -- redirect-mix`: a tool to attribute
 * the serving side's CPU.
 */
import { hash, randomUUID } from "node:crypto";
import { resolve } from "node:path";
import { Redis } from "@upstash/redis";
import { median } from "./lib/report";

const clicks = Number(process.argv[2] ?? 40_000);
const rounds = Number(process.argv[3] ?? 3);
const root = resolve(process.argv[4] ?? ".");
const redisUrl = process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379/13";
const perTick = 40;
// The hand-off window (CLICK_HANDOFF_MS); 40 visits arrive every 10 ms whatever it is.
const windowMs = Number(process.env.BENCH_WINDOW_MS ?? 10);

const { createClickRecorder } = await import(`${root}/src/analytics/click-recorder.ts`);
const { createRedisStreamClickQueue } = await import(`${root}/src/platform/node/redis-stream-click-queue.ts`);
const { createTcpRequester } = await import(`${root}/src/platform/node/redis-tcp-requester.ts`);
const { MetricsRegistry } = await import(`${root}/src/platform/metrics/metrics-registry.ts`);
const { createLogger } = await import(`${root}/src/platform/log/logger.ts`);
const { MemoryCache } = await import(`${root}/src/platform/cache/memory-cache.ts`);

const requester = createTcpRequester(redisUrl);
const redis = new Redis(requester);
await redis.ping();
await requester.client.flushdb();
const queue = createRedisStreamClickQueue(redis, {
  key: "bench:recorder",
  maxLen: 10_000_000,
  tcp: requester.client,
});
const recorder = createClickRecorder({
  queue,
  cache: new MemoryCache(),
  metrics: new MetricsRegistry(),
  // Taken by trees before the recorder stopped validating its events (a `root` of an older commit).
  logger: createLogger({ level: "silent" }),
  windowMs,
  sha256Hex: (text: string) => hash("sha256", text, "hex"),
});

// redirect-mix's shape: mostly browsers, some crawlers, a referrer on 40%.
const agents = [
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
];
const link = { id: randomUUID(), workspaceId: randomUUID() };
const visit = (i: number) => ({
  eventId: randomUUID(),
  linkId: link.id,
  workspaceId: link.workspaceId,
  occurredAt: Date.now(),
  method: "GET",
  userAgent: agents[i % agents.length]!,
  purpose: null,
  referrer: i % 5 < 2 ? "https://www.google.com/search?q=edgelink" : null,
  country: null,
  ip: `203.0.113.${i % 200}`,
});

async function redisCpuMicros(): Promise<number> {
  const info = String(await requester.client.info("cpu"));
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return (field("used_cpu_user") + field("used_cpu_sys")) * 1e6;
}

/** CPU µs per click of this process and of Redis, making `count` visits (recording them or not). */
async function drive(count: number, record: boolean): Promise<{ process: number; redis: number }> {
  const before = process.cpuUsage();
  const redisBefore = await redisCpuMicros();
  const handedOff: Promise<void>[] = [];
  for (let i = 0; i < count; i += perTick) {
    for (let j = 0; j < perTick; j += 1) {
      const made = visit(i + j);
      if (record) handedOff.push(recorder.record(made));
    }
    await new Promise((done) => setTimeout(done, 10));
  }
  await Promise.all(handedOff);
  const used = process.cpuUsage(before);
  return {
    process: (used.user + used.system) / count,
    redis: ((await redisCpuMicros()) - redisBefore) / count,
  };
}

await drive(10_000, true); // warm-up
const rows = { loop: [] as number[], recording: [] as number[], redis: [] as number[] };
for (let round = 0; round < rounds; round += 1) {
  const bare = await drive(clicks, false);
  const recorded = await drive(clicks, true);
  rows.loop.push(bare.process);
  rows.recording.push(recorded.process - bare.process);
  rows.redis.push(recorded.redis);
}
const show = (values: number[]) =>
  `${median(values).toFixed(2)} µs (rounds: ${values.map((v) => v.toFixed(2)).join(", ")})`;
console.log(
  `${root}: ${clicks} clicks × ${rounds} rounds, ${perTick} visits per 10 ms, hand-off window ${windowMs} ms`,
);
console.log(`  the loop alone (making visits)     ${show(rows.loop)}`);
console.log(`  recording, this process, per click ${show(rows.recording)}`);
console.log(`  recording, Redis, per click        ${show(rows.redis)}`);
console.log(`  stream entries: ${await requester.client.xlen("el:bench:recorder")}`);
await requester.client.flushdb();
await requester.close();
