// The stats client in its own process: GETs every path of `paths` (in order, `concurrency` at a
// time, on keep-alive connections) and times each request. argv[2]: JSON { port, key, paths,
// concurrency }, or the path of a file holding it. Prints one line:
// BENCH_JSON { answered, statuses, firstFailure, latenciesMs (sorted), durationMs }.
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";

const { port, key, paths, concurrency } = JSON.parse(
  process.argv[2].startsWith("{") ? process.argv[2] : readFileSync(process.argv[2], "utf8"),
);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const statuses = {};
const latencies = [];
let firstFailure = null;

const get = (path) =>
  new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request({
      host: "127.0.0.1",
      port,
      path,
      agent,
      headers: { authorization: `Bearer ${key}` },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => {
        latencies.push(performance.now() - started);
        statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
        if (res.statusCode !== 200) firstFailure ??= `${res.statusCode} ${path} ${body.slice(0, 300)}`;
        resolve();
      });
    });
    req.end();
  });

const started = performance.now();
let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < paths.length) await get(paths[next++]);
  }),
);
const durationMs = performance.now() - started;
agent.destroy();
latencies.sort((a, b) => a - b);
console.log(
  `BENCH_JSON ${JSON.stringify({ answered: latencies.length, statuses, firstFailure, latenciesMs: latencies, durationMs })}`,
);
