import { randomUUID } from "node:crypto";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { roomyLimits } from "../support/api";
import { startTestApp, type TestApp } from "../support/app";

const chrome =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36";

const rows = (result: unknown) => {
  const answer = result as { rows?: Record<string, unknown>[] } | Record<string, unknown>[];
  return Array.isArray(answer) ? answer : (answer.rows ?? []);
};

describe("CLICK_RECORDING=off", () => {
  let t: TestApp;
  let workspaceId: string;

  beforeAll(async () => {
    t = await startTestApp({ ...roomyLimits, CLICK_RECORDING: "off", CLICK_FLUSH_MS: "20" });
    workspaceId = (await t.services.workspaces.create({ name: "private" })).id;
  });
  afterAll(() => t?.close());

  it("serves redirects and counts them in metrics, but queues and stores no click; maxClicks still counts", async () => {
    const made = await t.services.linkService.create(workspaceId, {
      url: "https://example.com/",
      slug: `o${randomUUID().slice(0, 10)}`,
      maxClicks: 3,
    });
    if (!made.ok) throw new Error(JSON.stringify(made.failure));
    const link = made.value;
    const statuses = [];
    for (let i = 0; i < 4; i += 1) {
      statuses.push((await t.app.request(`/${link.slug}`, { headers: { "User-Agent": chrome } })).status);
    }
    expect(statuses).toEqual([302, 302, 302, 410]);
    await t.services.clickRecorder.drain?.();
    await new Promise((resolve) => setTimeout(resolve, 100));

    const metrics = await (await t.app.request("/metrics")).text();
    expect(metrics).toMatch(/^clicks_served_total\{traffic="unrecorded"\} 3$/m);
    expect(metrics).not.toMatch(/^clicks_served_total\{traffic="human"\}/m);
    const [clicks] = rows(
      await t.services.db.primary.execute(
        sql`select count(*)::int as n from clicks where link_id = ${link.id}`,
      ),
    );
    expect(Number(clicks!.n)).toBe(0);
    const [stored] = rows(
      await t.services.db.primary.execute(sql`select click_count from links where id = ${link.id}`),
    );
    expect(Number(stored!.click_count)).toBe(3);
  });
});
