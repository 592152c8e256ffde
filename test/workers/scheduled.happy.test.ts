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
});
