// The export-stream client in its own process: one `GET /api/v1/clicks/export?…`, the body read as
// it arrives and counted (lines, bytes), never kept. argv[2]: JSON { port, key, query }.
// Prints one line: BENCH_JSON { status, lines, bytes, lastLine, durationMs, firstByteMs }.
import { request } from "node:http";

const { port, key, query } = JSON.parse(process.argv[2]);
const started = performance.now();
const result = await new Promise((resolve, reject) => {
  const req = request({
    host: "127.0.0.1",
    port,
    path: `/api/v1/clicks/export?${query}`,
    headers: { authorization: `Bearer ${key}` },
  });
  req.on("error", reject);
  req.on("response", (res) => {
    let lines = 0;
    let bytes = 0;
    let firstByteMs = null;
    let tail = Buffer.alloc(0);
    res.on("data", (chunk) => {
      firstByteMs ??= performance.now() - started;
      bytes += chunk.length;
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1;
      // The last line, to show that the body ended with a complete row.
      tail =
        chunk.length >= 512
          ? chunk.subarray(chunk.length - 512)
          : Buffer.concat([tail, chunk]).subarray(-512);
    });
    res.on("end", () => {
      const text = tail.toString("utf8").trimEnd();
      resolve({
        status: res.statusCode,
        lines,
        bytes,
        lastLine: text.slice(text.lastIndexOf("\n") + 1),
        firstByteMs,
      });
    });
    res.on("error", reject);
  });
  req.end();
});
console.log(`BENCH_JSON ${JSON.stringify({ ...result, durationMs: performance.now() - started })}`);
