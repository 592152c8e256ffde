// The physical limit: bare node:http answering the same 302 from a Map (WORKERS=2: node:cluster).
// BENCH_HEADERS=edgelink: also sends the six fields edgelink adds to every redirect (a fresh
// X-Request-Id and the five rate-limit fields, constant values) — what they cost on the wire alone.
import http from "node:http";
import { cacheControl, host, links, notFound, port, run } from "./common.mjs";

const extraHeaders = process.env.BENCH_HEADERS === "edgelink";

run((ready) => {
  const server = http.createServer((req, res) => {
    const query = req.url.indexOf("?");
    const slug = query === -1 ? req.url.slice(1) : req.url.slice(1, query);
    const target = (req.method === "GET" || req.method === "HEAD") && links.get(slug);
    if (target) {
      if (extraHeaders) {
        res.writeHead(302, {
          "x-request-id": crypto.randomUUID(),
          "cache-control": cacheControl,
          location: target,
          "ratelimit-policy": '"redirect";q=1000000000;w=60',
          ratelimit: '"redirect";r=999999999;t=42',
          "ratelimit-limit": "1000000000",
          "ratelimit-remaining": "999999999",
          "ratelimit-reset": "42",
        });
      } else {
        res.writeHead(302, { Location: target, "Cache-Control": cacheControl });
      }
      res.end();
      return;
    }
    const body = notFound(slug);
    res.writeHead(404, {
      "Content-Type": "application/problem+json",
      "Content-Length": Buffer.byteLength(body),
    });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  server.listen(port, host, ready);
});
