import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/entry/worker";
import { standinSql, withoutServices } from "./worker-client";

describe.skipIf(withoutServices)("the cron trigger", () => {
  it("runs maintenance: expired idempotency keys go, live ones stay", async () => {
    const sql = standinSql();
    const [workspace] = await sql`insert into workspaces (name) values ('workers cron') returning id`;
    await sql`insert into idempotency_keys (workspace_id, key, request_hash, expires_at) values
              (${workspace!.id}, 'expired', 'h1', now() - interval '1 hour'),
              (${workspace!.id}, 'live', 'h2', now() + interval '1 hour')`;

    const ctx = createExecutionContext();
    await worker.scheduled(
      createScheduledController({ cron: "17 * * * *", scheduledTime: Date.now() }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);

    const left =
      await sql`select key from idempotency_keys where workspace_id = ${workspace!.id} order by key`;
    expect(left.map((row) => row.key)).toEqual(["live"]);
  });

  it("prunes raw clicks older than CLICK_RETENTION_DAYS (default 90) and keeps the rollups", async () => {
    const sql = standinSql();
    const [workspace] = await sql`insert into workspaces (name) values ('workers retention') returning id`;
    const linkId = crypto.randomUUID();
    const clicks = [200, 91, 89, 1].map((daysAgo) => ({
      id: crypto.randomUUID(),
      at: new Date(Date.now() - daysAgo * 86_400_000).toISOString(),
    }));
    for (const click of clicks)
      await sql`insert into clicks (event_id, link_id, workspace_id, occurred_at, traffic)
                values (${click.id}, ${linkId}, ${workspace!.id}, ${click.at}, 'human')`;
    await sql`insert into rollups (link_id, granularity, bucket_start, traffic, dimension, value, clicks)
              values (${linkId}, 'day', now() - interval '200 days', 'human', 'total', '', 1)`;

    const ctx = createExecutionContext();
    await worker.scheduled(
      createScheduledController({ cron: "17 * * * *", scheduledTime: Date.now() }),
      env,
      ctx,
    );
    await waitOnExecutionContext(ctx);

    const left = await sql`select event_id from clicks where link_id = ${linkId} order by occurred_at`;
    expect(left.map((row) => row.event_id)).toEqual([clicks[2]!.id, clicks[3]!.id]);
    const [rollup] = await sql`select clicks from rollups where link_id = ${linkId}`;
    expect(Number(rollup!.clicks)).toBe(1);
  });
});
