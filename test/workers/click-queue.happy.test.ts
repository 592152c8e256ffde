import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { ClickEvent } from "../../src/analytics/click-event";
import worker from "../../src/entry/worker";
import { fetchWorker, standinSql, withoutServices } from "./worker-client";

const chrome =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15";

describe.skipIf(withoutServices)("click events through Cloudflare Queues (simulated by miniflare)", () => {
  let workspaceId: string;
  let linkId: string;
  let slug: string;

  beforeAll(async () => {
    const sql = standinSql();
    const [workspace] = await sql`insert into workspaces (name) values ('workers clicks') returning id`;
    workspaceId = workspace!.id;
    slug = `q${randomUUID().slice(0, 10)}`;
    const [link] = await sql`insert into links (workspace_id, domain, slug, url)
      values (${workspaceId}, 'edgelink.test', ${slug}, 'https://example.com/q') returning id`;
    linkId = link!.id;
  });

  const event = (over: Partial<ClickEvent> = {}): ClickEvent => ({
    eventId: randomUUID(),
    linkId,
    workspaceId,
    occurredAt: Date.now(),
    traffic: "human",
    reason: "browser",
    country: "NL",
    device: "desktop",
    browser: "Safari",
    os: "macOS",
    referrerHost: null,
    visitorHash: "abc",
    ...over,
  });
  const deliver = async (bodies: unknown[], attempts = 1) => {
    const batch = createMessageBatch(
      "edgelink-clicks",
      bodies.map((body, i) => ({ id: `m${i}`, timestamp: Date.now(), attempts, body })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch as never, env);
    return getQueueResult(batch, ctx);
  };
  const humansStored = async (ids: string[]) => {
    const [row] =
      await standinSql()`select count(*)::int as n from clicks where event_id = any(${ids}::uuid[])`;
    return Number(row!.n);
  };

  it("a batch delivered twice stores each human click once, and both deliveries are acknowledged", async () => {
    const events = Array.from({ length: 25 }, () => event());
    const ids = events.map((e) => e.eventId);

    const first = await deliver(events);
    const second = await deliver(events, 2);

    for (const result of [first, second]) {
      expect(result.outcome).toBe("ok");
      expect(result.explicitAcks.sort()).toEqual(events.map((_, i) => `m${i}`).sort());
      expect(result.retryMessages).toEqual([]);
    }
    expect(await humansStored(ids)).toBe(25);
    const [rollup] = await standinSql()`select sum(clicks)::int as n from rollups
      where link_id = ${linkId} and traffic = 'human' and granularity = 'day' and dimension = 'total'`;
    expect(rollup!.n).toBeGreaterThanOrEqual(25);
  });

  it("retries an invalid message towards the dead-letter queue and still stores the valid ones", async () => {
    const good = [event(), event()];
    const result = await deliver([good[0], { eventId: "not-a-uuid" }, "garbage", good[1]]);

    expect(result.explicitAcks.sort()).toEqual(["m0", "m3"]);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(["m1", "m2"]);
    expect(await humansStored(good.map((e) => e.eventId))).toBe(2);
  });

  it("a redirect's click travels producer → queue → consumer into Postgres", async () => {
    const before =
      await standinSql()`select count(*)::int as n from clicks where link_id = ${linkId} and browser = 'Safari' and device = 'desktop' and reason = 'browser' and occurred_at > now() - interval '1 minute' and visitor_hash is not null`;
    const response = await fetchWorker(`/${slug}`, {
      headers: { "User-Agent": chrome, "CF-Connecting-IP": "203.0.113.9" },
    });
    expect(response.status).toBe(302);

    const deadline = Date.now() + 15_000;
    let after = before[0]!.n as number;
    while (after <= (before[0]!.n as number) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const [row] =
        await standinSql()`select count(*)::int as n from clicks where link_id = ${linkId} and browser = 'Safari' and device = 'desktop' and reason = 'browser' and occurred_at > now() - interval '1 minute' and visitor_hash is not null`;
      after = row!.n as number;
    }
    expect(after).toBe((before[0]!.n as number) + 1);
  });
});
