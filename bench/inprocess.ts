/**
 * `npx tsx bench/inprocess.ts [requests]`: the redirect path without sockets, for attributing CPU
 * to edgelink's own code. Calls `app.fetch` in a loop (64 in flight, like the HTTP scenarios) on
 * (a) a plain Hono app answering the same 302 from a Map and (b) edgelink's app (embedded PGlite in
 * memory, in-process cache and limiter), interleaved, and prints CPU µs per request for each and
 * their ratio. Not a substitute for `npm run bench` (no HTTP parsing or socket writes): a tool for
 * before/after comparisons of hot-path changes.
 */
import { Hono } from "hono";
import { createApp } from "../src/app";
import { loadConfig } from "../src/config";
import { createLogger } from "../src/platform/log/logger";
import { MetricsRegistry } from "../src/platform/metrics/metrics-registry";
import { createNodeCache, createNodeDatabase } from "../src/platform/node/node-platform";
import { createServices } from "../src/services";
import { median } from "./lib/report";

const requests = Number(process.argv[2] ?? 200_000);
const rounds = Number(process.argv[3] ?? 5);
const inFlight = 64;
const target = "https://example.com/landing";

const config = loadConfig({
  PGLITE_DATA_DIR: "memory://",
  LOG_LEVEL: "warn",
  RATE_LIMIT_REDIRECT: "1000000000/60s",
});
const logger = createLogger({ level: "warn" });
const db = await createNodeDatabase(config, logger);
const { cache } = createNodeCache(config);
const services = createServices({
  runtime: "node",
  config,
  db,
  cache,
  metrics: new MetricsRegistry(),
  logger,
});
const edgelink = createApp(services);
const workspace = await services.workspaces.create({ name: "bench" });
const { key } = await services.apiKeys.create(workspace.id, { name: "bench", scopes: ["links:write"] });
const created = await edgelink.request("/api/v1/links", {
  method: "POST",
  headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
  body: JSON.stringify({ url: target, slug: "hot" }),
});
if (created.status !== 201) throw new Error(`seed failed: ${created.status} ${await created.text()}`);

const links = new Map([["hot", target]]);
const hono = new Hono();
hono.get("/:slug", (c) => {
  const url = links.get(c.req.param("slug"));
  if (!url) return c.notFound();
  c.header("Cache-Control", "private, max-age=0");
  return c.redirect(url, 302);
});

// What @hono/node-server hands the app on Node (the limiter reads the socket address from it).
const env = { incoming: { socket: { remoteAddress: "127.0.0.1" } } };
type Fetch = (request: Request, env: unknown) => Response | Promise<Response>;

async function drive(fetch: Fetch, count: number): Promise<number> {
  let sent = 0;
  const worker = async () => {
    while (sent < count) {
      sent += 1;
      const response = await fetch(new Request("http://localhost/hot"), env);
      if (response.status !== 302) throw new Error(`got ${response.status}`);
    }
  };
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: inFlight }, worker));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / count;
}

const apps: [string, Fetch][] = [
  ["hono (same 302 from a Map)", (r, e) => hono.fetch(r, e)],
  ["edgelink createApp", (r, e) => edgelink.fetch(r, e)],
];
for (const [, fetch] of apps) await drive(fetch, 20_000); // warm-up
const results = new Map<string, number[]>(apps.map(([name]) => [name, []]));
for (let round = 0; round < rounds; round += 1) {
  for (const [name, fetch] of apps) results.get(name)!.push(await drive(fetch, requests));
}
const [honoName, edgeName] = apps.map(([name]) => name) as [string, string];
const ratios = results.get(edgeName)!.map((us, i) => us / results.get(honoName)![i]!);
for (const [name, values] of results) {
  console.log(
    `${name.padEnd(28)} ${median(values).toFixed(2)} µs CPU/request (rounds: ${values.map((v) => v.toFixed(2)).join(", ")})`,
  );
}
console.log(
  `edgelink / hono: ${median(ratios).toFixed(2)}× [${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}]`,
);
await db.close();
