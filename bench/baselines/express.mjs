// The classic stack: Express 5, the same route and Map; run as a node:cluster (WORKERS=2), the
// shape of the seed article's example.
import express from "express";
import { cacheControl, host, links, notFound, port, run } from "./common.mjs";

run((ready) => {
  const app = express();
  app.get("/:slug", (req, res) => {
    const target = links.get(req.params.slug);
    if (!target) return res.status(404).type("application/problem+json").send(notFound(req.params.slug));
    res.set("Cache-Control", cacheControl);
    res.redirect(302, target);
  });
  const server = app.listen(port, host, ready);
  server.keepAliveTimeout = 65_000;
});
