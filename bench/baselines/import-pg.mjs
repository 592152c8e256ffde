// import-stream's limit: the same links inserted by a plain script with bare multi-row INSERTs via
// `pg` — batches of `batch` rows (edgelink's IMPORT_BATCH_SIZE), `concurrency` statements in flight
// on their own connections (edgelink's import keeps 3), ON CONFLICT DO NOTHING RETURNING like
// edgelink's insert, and like edgelink a row whose random slug was taken is retried with a new one
// (1M 7-character slugs collide about one run in seven), and like edgelink's they are stored as
// generated (slug_custom false, so the q trigram index leaves them out). No HTTP, no validation, no
// JSON. argv[2]: JSON { url, workspaceId, count, prefix, batch, concurrency }. Prints BENCH_JSON { inserted, durationMs, maxRssMb }.
import { randomBytes } from "node:crypto";
import pg from "pg";

const { url, workspaceId, count, prefix, batch, concurrency } = JSON.parse(process.argv[2]);
const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const slug = () => Array.from(randomBytes(7), (byte) => alphabet[byte % 62]).join("");

const pool = new pg.Pool({ connectionString: url, max: concurrency });
let next = 0;
let inserted = 0;
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const first = next;
      const size = Math.min(batch, count - first);
      next += size;
      let urls = Array.from({ length: size }, (_, i) => `https://example.com/imp/${prefix}/${first + i + 1}`);
      while (urls.length > 0) {
        const params = [];
        const tuples = [];
        for (const target of urls) {
          const at = params.length;
          params.push(workspaceId, "localhost", slug(), target);
          tuples.push(`($${at + 1}, $${at + 2}, $${at + 3}, false, $${at + 4})`);
        }
        const { rows } = await pool.query(
          `insert into links (workspace_id, domain, slug, slug_custom, url) values ${tuples.join(", ")}
           on conflict (domain, slug) do nothing returning url`,
          params,
        );
        inserted += rows.length;
        const done = new Set(rows.map((row) => row.url));
        urls = urls.filter((target) => !done.has(target));
      }
    }
  }),
);
const durationMs = performance.now() - started;
await pool.end();
console.log(
  `BENCH_JSON ${JSON.stringify({ inserted, durationMs, maxRssMb: process.resourceUsage().maxRSS / 1024 })}`,
);
