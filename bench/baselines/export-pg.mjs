// export-stream's limit: a plain script dumping the same clicks with `pg` — the same keyset pages
// (occurred_at, event_id) of `pageSize` rows, the same columns, one JSON line per row — into
// /dev/null with backpressure. No HTTP, no framework. argv[2]: JSON { url, workspaceId, from, to,
// pageSize }. Prints BENCH_JSON { lines, bytes, durationMs, maxRssMb }.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import pg from "pg";

const { url, workspaceId, from, to, pageSize } = JSON.parse(process.argv[2]);
const client = new pg.Client({ connectionString: url });
await client.connect();
const out = createWriteStream("/dev/null");
const columns = `event_id as "eventId", link_id as "linkId", occurred_at as "occurredAt", traffic, reason,
  country, device, browser, os, referrer_host as "referrerHost"`;
let lines = 0;
let bytes = 0;
let after = null;
const started = performance.now();
for (;;) {
  const { rows } = after
    ? await client.query(
        `select ${columns} from clicks where workspace_id = $1 and occurred_at >= $2 and occurred_at < $3
         and (occurred_at, event_id) > ($2::timestamptz, $4::uuid) order by occurred_at, event_id limit $5`,
        [workspaceId, after.occurredAt, to, after.eventId, pageSize],
      )
    : await client.query(
        `select ${columns} from clicks where workspace_id = $1 and occurred_at >= $2 and occurred_at < $3
         order by occurred_at, event_id limit $4`,
        [workspaceId, from, to, pageSize],
      );
  if (rows.length > 0) {
    const text = rows.map((row) => `${JSON.stringify(row)}\n`).join("");
    lines += rows.length;
    bytes += Buffer.byteLength(text);
    if (!out.write(text)) await once(out, "drain");
  }
  if (rows.length < pageSize) break;
  const last = rows.at(-1);
  after = { occurredAt: last.occurredAt.toISOString(), eventId: last.eventId };
}
out.end();
await once(out, "finish");
const durationMs = performance.now() - started;
await client.end();
console.log(
  `BENCH_JSON ${JSON.stringify({ lines, bytes, durationMs, maxRssMb: process.resourceUsage().maxRSS / 1024 })}`,
);
