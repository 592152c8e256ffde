import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { createPostgres } from "./lib/backing";

const pgres = await createPostgres("postgres://postgres@127.0.0.1:5432/postgres");
const client = new pg.Client({ connectionString: pgres.url });
await client.connect();
const ws = (await client.query("insert into workspaces (name) values ('p') returning id")).rows[0].id;
await client.query(
  `insert into links (workspace_id, domain, slug, url) select $1, 'localhost', 'ci' || n, 'https://example.com/' || n from generate_series(1, 100000) as n`,
  [ws],
);
const ids = (await client.query("select id from links")).rows.map((r) => r.id);
const redis = new Redis("redis://127.0.0.1:6379/11");
await redis.flushdb();
const N = 60000;
const start = Date.now() - 3_600_000;
const events = Array.from({ length: N }, (_, i) =>
  JSON.stringify({
    eventId: randomUUID(),
    linkId: ids[Math.min(ids.length - 1, Math.floor(Math.exp(Math.random() * Math.log(ids.length))) - 1)],
    workspaceId: ws,
    occurredAt: start + i * 50,
    traffic: i % 20 ? "human" : "bot",
    reason: i % 20 ? "browser" : "known-bot",
    country: ["DE", "US", "FR"][i % 3],
    device: "mobile",
    browser: "Chrome",
    os: "Android",
    referrerHost: i % 3 ? null : "google.com",
    visitorHash: randomUUID().replaceAll("-", ""),
  }),
);
for (let j = 0; j < N; j += 40)
  await redis.xadd("el:prof:clicks", "*", "events", `[${events.slice(j, j + 40).join(",")}]`);
const child = spawn(
  "node",
  [
    "--cpu-prof",
    "--cpu-prof-dir=/tmp/cprof",
    "--enable-source-maps",
    process.argv[2] ?? "dist/node/consumer.js",
  ],
  {
    env: {
      ...process.env,
      DATABASE_URL: pgres.url,
      REDIS_URL: "redis://127.0.0.1:6379/11",
      CLICK_STREAM_KEY: "prof:clicks",
      NODE_ENV: "production",
      LOG_LEVEL: "warn",
    },
    stdio: "inherit",
  },
);
const t0 = Date.now();
for (;;) {
  await new Promise((r) => setTimeout(r, 200));
  const n = Number((await client.query("select count(*) from clicks")).rows[0].count);
  if (n >= N * 0.95 || Date.now() - t0 > 120000) {
    console.log(`stored ${n} in ${(Date.now() - t0) / 1000}s`);
    break;
  }
}
await new Promise((r) => setTimeout(r, 1500));
child.kill("SIGTERM");
await new Promise((r) => child.once("exit", r));
await redis.flushdb();
redis.disconnect();
await client.end();
await pgres.drop();
