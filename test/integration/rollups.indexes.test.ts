import { type SQLWrapper, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickEvent } from "../../src/analytics/click-event";
import { ingestClicks } from "../../src/analytics/click-ingest";
import { createStatsRepository, type StatsRange } from "../../src/analytics/stats-repository";
import { type Database, type Db, rowsOf } from "../../src/platform/db/database";
import { driversUnderTest } from "../support/databases";
import { explain } from "../support/explain";

/** The statements a repository function sends, caught instead of run (its answer: no rows). */
async function statementsOf(call: (db: Db) => Promise<unknown>): Promise<SQLWrapper[]> {
  const caught: SQLWrapper[] = [];
  const catcher = {
    execute: async (query: SQLWrapper) => {
      caught.push(query);
      return { rows: [] };
    },
  } as unknown as Db;
  await call(catcher);
  return caught;
}

/** The plan of `query`, and its nodes that read or write `rollups`. */
async function plan(db: Database, query: SQLWrapper) {
  const explained = await explain(db, query);
  return { ...explained, onRollups: explained.nodes.filter((node) => node["Relation Name"] === "rollups") };
}

const dayMs = 86_400_000;

for (const driver of driversUnderTest().filter((d) => d.name !== "neon-http")) {
  describe.skipIf(driver.skip)(
    `rollups: one index serves the consumer's upserts and the stats reads, on ${driver.name}${driver.skip ? ` (skipped: ${driver.skip})` : ""}`,
    () => {
      let db: Database & { teardown?: () => Promise<void> };
      const link = crypto.randomUUID();
      const to = new Date(Math.floor(Date.now() / dayMs) * dayMs);
      const from = new Date(to.getTime() - 14 * dayMs);

      beforeAll(async () => {
        db = await driver.open();
        // 12 links × 14 days of hours × 2 traffic classes × 6 rows (total, 3 countries, 2 devices):
        // enough rows that reading them all is never the cheaper plan.
        await db.primary.execute(sql`
          insert into rollups (link_id, granularity, bucket_start, traffic, dimension, value, clicks)
          select case when l = 0 then ${link}::uuid else gen_random_uuid() end, 'hour',
                 ${from.toISOString()}::timestamptz + make_interval(hours => h), t, d.dimension, d.value, 1 + h % 7
          from generate_series(0, 11) as l
          cross join generate_series(0, 14 * 24 - 1) as h
          cross join (values ('human'), ('bot')) as tr(t)
          cross join (values ('total', ''), ('country', 'DE'), ('country', 'FR'), ('country', 'US'),
                             ('device', 'mobile'), ('device', 'desktop')) as d(dimension, value)`);
        await db.primary.execute(sql`vacuum (analyze) rollups`);
      });
      afterAll(async () => {
        await db?.primary.execute(sql`delete from rollups where link_id = ${link}::uuid`);
        await db?.close();
        await db?.teardown?.();
      });

      it("rollups_pkey, in stats order with clicks included, is the table's only index", async () => {
        const rows = rowsOf(
          await db.primary.execute(
            sql`select indexname, indexdef from pg_indexes where tablename = 'rollups' order by 1`,
          ),
        );
        expect(rows.map((row) => row.indexname)).toEqual(["rollups_pkey"]);
        expect(String(rows[0]!.indexdef)).toMatch(
          /\(link_id, granularity, dimension, bucket_start, traffic, value\) INCLUDE \(clicks\)/,
        );
      });

      it("a link's hourly totals over two weeks are an index-only scan of rollups_pkey", async () => {
        const range: StatsRange = { linkId: link, granularity: "hour", from, to };
        const [query] = await statementsOf((catcher) => createStatsRepository(catcher).totals(range));
        const { onRollups, text } = await plan(db, query!);
        expect(
          onRollups.map((node) => [node["Node Type"], node["Index Name"]]),
          text,
        ).toEqual([["Index Only Scan", "rollups_pkey"]]);
        const totals = await createStatsRepository(db.primary).totals(range);
        expect(totals).toHaveLength(14 * 24);
        expect(totals[0]).toEqual({ at: from.getTime(), clicks: 1, bots: 1, previews: 0 });
      });

      it("a breakdown by two dimensions is index-only scans of rollups_pkey", async () => {
        const range: StatsRange = { linkId: link, granularity: "hour", from, to };
        const [query] = await statementsOf((catcher) =>
          createStatsRepository(catcher).breakdowns(range, ["country", "device"], 5),
        );
        const { onRollups, text } = await plan(db, query!);
        expect(onRollups.length, text).toBeGreaterThan(0);
        for (const node of onRollups) {
          expect([node["Node Type"], node["Index Name"]], text).toEqual(["Index Only Scan", "rollups_pkey"]);
        }
      });

      it("the consumer's statement upserts rollups through rollups_pkey", async () => {
        const event: ClickEvent = {
          eventId: crypto.randomUUID(),
          linkId: link,
          workspaceId: crypto.randomUUID(),
          occurredAt: Date.now(),
          traffic: "human",
          reason: "human",
          country: "DE",
          device: "mobile",
          browser: "Firefox",
          os: "Android",
          referrerHost: null,
          visitorHash: null,
        } as ClickEvent;
        const [query] = await statementsOf((catcher) => ingestClicks(catcher, [event]));
        const { nodes, text } = await plan(db, query!);
        const upsert = nodes.find(
          (node) => node["Node Type"] === "ModifyTable" && node["Relation Name"] === "rollups",
        );
        expect(upsert?.["Conflict Arbiter Indexes"], text).toEqual(["rollups_pkey"]);
      });
    },
  );
}
