import { createApp } from "../src/app";
import { loadConfig } from "../src/config";
import { createRedirectFastPath } from "../src/links/redirect-fast-path";
import { createLogger } from "../src/platform/log/logger";
import { MetricsRegistry } from "../src/platform/metrics/metrics-registry";
import { createNodeCache, createNodeDatabase } from "../src/platform/node/node-platform";
import { createServices } from "../src/services";

const config = loadConfig({
  PGLITE_DATA_DIR: "memory://",
  LOG_LEVEL: "warn",
  RATE_LIMIT_REDIRECT: "1000000000/60s",
  CLICK_RECORDING: process.env.REC ?? "off",
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
const app = createApp(services);
const ws = await services.workspaces.create({ name: "b" });
const { key } = await services.apiKeys.create(ws.id, { name: "b", scopes: ["links:write"] });
await app.request("/api/v1/links", {
  method: "POST",
  headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
  body: JSON.stringify({ url: "https://example.com/landing", slug: "hot" }),
});
await app.request("/hot");
const serveFast = createRedirectFastPath(services);
const rawHeaders = { host: "localhost:3000" } as Record<string, string>;
const headers = { get: (n: string) => rawHeaders[n] ?? null };
const N = 2_000_000;
for (let round = 0; round < 5; round++) {
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const a = serveFast({
      method: "GET",
      target: "/hot",
      host: "localhost:3000",
      headers,
      remoteAddress: "127.0.0.1",
    });
    if (!a) throw new Error("not fast");
    a.after();
  }
  const u = process.cpuUsage(t0);
  console.log(`round ${round}: ${(((u.user + u.system) * 1000) / N).toFixed(0)} ns per fast redirect`);
}
process.exit(0);
