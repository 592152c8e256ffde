// The fastest mainstream framework: Fastify 5, the same route and Map (WORKERS=2: node:cluster).
import Fastify from "fastify";
import { cacheControl, host, links, notFound, port, run } from "./common.mjs";

run((ready) => {
  const app = Fastify({ logger: false, keepAliveTimeout: 65_000 });
  app.get("/:slug", (request, reply) => {
    const { slug } = request.params;
    const target = links.get(slug);
    if (!target) return reply.code(404).type("application/problem+json").send(notFound(slug));
    return reply.header("Cache-Control", cacheControl).redirect(target, 302);
  });
  app.listen({ port, host }).then(ready);
});
