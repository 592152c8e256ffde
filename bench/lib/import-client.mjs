// The import-stream client in its own process (like wrk for the redirect scenarios).
// argv[2]: JSON { port, key, count, prefix, format: "ndjson"|"csv" }. Streams `count` links as the
// body of ONE `POST /api/v1/links/bulk` — generated as it goes, written with backpressure, never
// held whole — while it reads the streamed result lines. Prints one line: BENCH_JSON {...}.
import { request } from "node:http";

const { port, key, count, prefix, format = "ndjson" } = JSON.parse(process.argv[2]);
const linesPerChunk = 1_000;
const url = (i) => `https://example.com/imp/${prefix}/${i}`;
const line = format === "csv" ? (i) => `${url(i)}\n` : (i) => `{"url":"${url(i)}"}\n`;

const started = performance.now();
let firstResultMs = null;
const counts = { created: 0, error: 0, other: 0 };
let firstError = null;
let lastLine = 0;

const done = new Promise((resolve, reject) => {
  const req = request({
    host: "127.0.0.1",
    port,
    method: "POST",
    path: "/api/v1/links/bulk",
    headers: {
      authorization: `Bearer ${key}`,
      "content-type": format === "csv" ? "text/csv" : "application/x-ndjson",
    },
  });
  req.on("error", reject);
  req.on("response", (res) => {
    if (res.statusCode !== 200) {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => reject(new Error(`status ${res.statusCode}: ${body.slice(0, 500)}`)));
      return;
    }
    res.setEncoding("utf8");
    let carry = "";
    res.on("data", (chunk) => {
      firstResultMs ??= performance.now() - started;
      const text = carry + chunk;
      let start = 0;
      for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
        // Cheap status probe; the full line is parsed only when it is not `created`.
        const row = text.slice(start, end);
        start = end + 1;
        if (row.includes('"status":"created"')) counts.created += 1;
        else {
          const parsed = JSON.parse(row);
          counts[parsed.status === "error" ? "error" : "other"] += 1;
          firstError ??= row.slice(0, 500);
        }
        const at = row.indexOf('"line":');
        if (at !== -1) lastLine = Number.parseInt(row.slice(at + 7), 10);
      }
      carry = text.slice(start);
    });
    res.on("end", resolve);
    res.on("error", reject);
  });
  let i = 0;
  const write = () => {
    if (format === "csv" && i === 0) req.write("url\n");
    while (i < count) {
      let chunk = "";
      const end = Math.min(count, i + linesPerChunk);
      for (; i < end; i += 1) chunk += line(i + 1);
      if (!req.write(chunk)) {
        req.once("drain", write);
        return;
      }
    }
    req.end();
  };
  write();
});

try {
  await done;
  const durationMs = performance.now() - started;
  console.log(
    `BENCH_JSON ${JSON.stringify({ sent: count, ...counts, lastLine, firstError, durationMs, firstResultMs })}`,
  );
} catch (error) {
  console.error(`import client failed: ${error?.stack ?? error}`);
  process.exit(1);
}
