// The physical limit: bare node:http answering the same 302 from a Map (WORKERS=2: node:cluster).
import http from "node:http";
import { cacheControl, host, links, notFound, port, run } from "./common.mjs";

run((ready) => {
  const server = http.createServer((req, res) => {
    const query = req.url.indexOf("?");
    const slug = query === -1 ? req.url.slice(1) : req.url.slice(1, query);
    const target = (req.method === "GET" || req.method === "HEAD") && links.get(slug);
    if (target) {
      res.writeHead(302, { Location: target, "Cache-Control": cacheControl });
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
