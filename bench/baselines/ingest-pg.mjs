// click-ingest's floor: a plain script storing the same click events as raw rows only — no stream,
// no rollups, no live counters — with `pg`, `batch` events per INSERT … SELECT FROM
// jsonb_to_recordset … ON CONFLICT (event_id) DO NOTHING, one statement at a time. argv[2]: JSON
// { url, batch, events } (events: the JSON strings the recorder queues), or the path of a file
// holding it. Prints BENCH_JSON { durationMs, backendCpuMs } (the CPU its Postgres backend spent,
// read from /proc: the harness and Postgres share the machine).
import { existsSync, readFileSync } from "node:fs";
import pg from "pg";

const argument = process.argv[2];
const { url, batch, events } = JSON.parse(existsSync(argument) ? readFileSync(argument, "utf8") : argument);
const client = new pg.Client({ connectionString: url });
await client.connect();
const backend = (await client.query("select pg_backend_pid() as pid")).rows[0].pid;
const backendCpuMs = () => {
  const stat = readFileSync(`/proc/${backend}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
};
const cpuBefore = backendCpuMs();
const started = performance.now();
for (let i = 0; i < events.length; i += batch) {
  const rows = events.slice(i, i + batch).map((json) => {
    const e = JSON.parse(json);
    return {
      event_id: e.eventId,
      link_id: e.linkId,
      workspace_id: e.workspaceId,
      occurred_at: new Date(e.occurredAt).toISOString(),
      traffic: e.traffic,
      reason: e.reason,
      country: e.country,
      device: e.device,
      browser: e.browser,
      os: e.os,
      referrer_host: e.referrerHost,
      visitor_hash: e.visitorHash,
    };
  });
  await client.query(
    `insert into clicks (event_id, link_id, workspace_id, occurred_at, traffic, reason, country, device, browser,
                         os, referrer_host, visitor_hash)
     select * from jsonb_to_recordset($1::jsonb) as x(event_id uuid, link_id uuid, workspace_id uuid,
       occurred_at timestamptz, traffic text, reason text, country text, device text, browser text, os text,
       referrer_host text, visitor_hash text)
     on conflict (event_id) do nothing`,
    [JSON.stringify(rows)],
  );
}
const durationMs = performance.now() - started;
const cpu = backendCpuMs() - cpuBefore;
await client.end();
console.log(`BENCH_JSON ${JSON.stringify({ durationMs, backendCpuMs: cpu })}`);
