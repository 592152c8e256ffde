// import-stream's limit: the same links inserted by a plain script with bare multi-row INSERTs via
// `pg` — batches of `batch` rows (edgelink's IMPORT_BATCH_SIZE), `concurrency` statements in flight
// on their own connections (edgelink's import keeps 3), ON CONFLICT DO NOTHING RETURNING like
// edgelink's insert. No HTTP, no validation, no JSON. argv[2]: JSON { url, workspaceId, count,
// prefix, batch, concurrency }. Prints BENCH_JSON { inserted, durationMs, maxRssMb }.
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
      const params = [];
      const tuples = [];
      for (let i = 0; i < size; i += 1) {
        const at = params.length;
        params.push(workspaceId, "localhost", slug(), `https://example.com/imp/${prefix}/${first + i + 1}`);
        tuples.push(`($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4})`);
      }
      const { rowCount } = await pool.query(
        `insert into links (workspace_id, domain, slug, url) values ${tuples.join(", ")}
         on conflict (domain, slug) do nothing returning id, domain, slug`,
        params,
      );
      inserted += rowCount ?? 0;
    }
  }),
);
const durationMs = performance.now() - started;
await pool.end();
console.log(
  `BENCH_JSON ${JSON.stringify({ inserted, durationMs, maxRssMb: process.resourceUsage().maxRSS / 1024 })}`,
);
