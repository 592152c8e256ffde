// The framework edgelink is built on, alone: Hono 4 on @hono/node-server, the same route and Map
// (WORKERS=2: node:cluster). The gap between this row and edgelink is edgelink's own work.
// BENCH_HEADERS=edgelink: also sends the six fields edgelink adds to every redirect (X-Request-Id
// and the five rate-limit fields, through c.header / Headers as edgelink does), constant values.
import { serve } from "@hono/node-server";
import { Hono } from "hono";
import { cacheControl, host, links, notFound, port, run } from "./common.mjs";

const extraHeaders = process.env.BENCH_HEADERS === "edgelink";

run((ready) => {
  const app = new Hono();
  app.get("/:slug", (c) => {
    const slug = c.req.param("slug");
    const target = links.get(slug);
    if (!target) return c.body(notFound(slug), 404, { "Content-Type": "application/problem+json" });
    if (extraHeaders) c.header("X-Request-Id", crypto.randomUUID());
    c.header("Cache-Control", cacheControl);
    const response = c.redirect(target, 302);
    if (extraHeaders) {
      response.headers.set("RateLimit-Policy", '"redirect";q=1000000000;w=60');
      response.headers.set("RateLimit", '"redirect";r=999999999;t=42');
      response.headers.set("RateLimit-Limit", "1000000000");
      response.headers.set("RateLimit-Remaining", "999999999");
      response.headers.set("RateLimit-Reset", "42");
    }
    return response;
  });
  const server = serve({ fetch: app.fetch, port, hostname: host }, ready);
  server.keepAliveTimeout = 65_000;
});
