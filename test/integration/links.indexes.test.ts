import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { links } from "../../db/schema";
import { linkQueries } from "../../src/links/link-repository";
import type { Database, Db } from "../../src/platform/db/database";
import { createWorkspaceRepository } from "../../src/workspaces/workspace-repository";
import { driversUnderTest } from "../support/databases";
import { explain as plan } from "../support/explain";

for (const driver of driversUnderTest().filter((d) => d.name !== "neon-http")) {
  describe.skipIf(driver.skip)(
    `every hot and list query of links is served by an index on ${driver.name}${driver.skip ? ` (skipped: ${driver.skip})` : ""}`,
    () => {
      let db: Database & { teardown?: () => Promise<void> };
      let big: string;
      let small: string;
      let read: Db;
      const run = crypto.randomUUID().slice(0, 8);

      beforeAll(async () => {
        db = await driver.open();
        read = db.primary;
        const workspaces = createWorkspaceRepository(db);
        big = (await workspaces.create({ name: `big ${run}` })).id;
        small = (await workspaces.create({ name: `small ${run}` })).id;
        // 50 000 links in one workspace, 50 in another; a rare tag on 50 of them (0.1 %: frequent
        // enough for ANALYZE to see it) and a rare word in 5 titles, so the filters are selective.
        // At 5 000 rows the table is so small that Postgres rightly reads all of it instead of
        // the trigram index, and the planner is left alone here except where a test says so.
        await db.primary.execute(sql`
          insert into links (workspace_id, domain, slug, slug_custom, url, title, tags, created_at)
          select ${big}::uuid, 'localhost',
                 case when i % 2 = 0 then ${`ix${run}-`} || i else substr(md5(${run} || i), 1, 10) end,
                 i % 2 = 0, 'https://example.com/page/' || i,
                 case when i % 10000 = 7 then 'Zebracorn launch ' || i else 'Title ' || i end,
                 case when i % 1000 = 3 then array['rare-tag', 'common'] else array['common'] end,
                 now() - make_interval(secs => i)
          from generate_series(1, 50000) as i`);
        await db.primary.execute(sql`
          insert into links (workspace_id, domain, slug, url, created_at)
          select ${small}::uuid, 'localhost', ${`ixs${run}-`} || i, 'https://example.org/' || i,
                 now() - make_interval(secs => i)
          from generate_series(1, 50) as i`);
        await db.primary.execute(sql`analyze links`);
      });
      afterAll(async () => {
        await db?.close();
        await db?.teardown?.();
      });

      it("the redirect lookup by (domain, slug) probes links_domain_slug_key", async () => {
        const { indexes, seqScans, text } = await plan(
          db,
          linkQueries.findBySlug(read, "localhost", `ix${run}-4242`),
        );
        expect(indexes, text).toEqual(["links_domain_slug_key"]);
        expect(seqScans, text).toEqual([]);
        const [row] = await linkQueries.findBySlug(read, "localhost", `ix${run}-4242`);
        expect(row?.url).toBe("https://example.com/page/4242");
      });

      it("a page of a workspace, newest first, walks links_workspace_created_idx (first page and with a cursor)", async () => {
        const first = await plan(db, linkQueries.list(read, big, { limit: 20 }));
        expect(first.indexes, first.text).toContain("links_workspace_created_idx");
        expect(first.seqScans, first.text).toEqual([]);
        // No sort node: the index order is the page order.
        expect(
          first.nodes.map((n) => n["Node Type"]),
          first.text,
        ).not.toContain("Sort");
        const rows = await linkQueries.list(read, big, { limit: 20 });
        const cursor = { createdAt: rows[19]!.createdAt, id: rows[19]!.id };
        const next = await plan(db, linkQueries.list(read, big, { limit: 20, cursor }));
        expect(next.indexes, next.text).toContain("links_workspace_created_idx");
        expect(
          next.nodes.map((n) => n["Node Type"]),
          next.text,
        ).not.toContain("Sort");
        // The cursor is part of the index condition (a seek), not a filter over the rows before it.
        const scan = next.nodes.find((n) => n["Index Name"] === "links_workspace_created_idx")!;
        expect(scan["Index Cond"], next.text).toMatch(/created_at/);
        expect(scan.Filter, next.text).toBeUndefined();
        const after = await linkQueries.list(read, big, { limit: 20, cursor });
        expect(after[0]!.createdAt.getTime()).toBeLessThan(cursor.createdAt.getTime());
        // The small workspace too (planner left alone: a handful of rows among thousands).
        const other = await plan(db, linkQueries.list(read, small, { limit: 20 }));
        expect(other.indexes, other.text).toContain("links_workspace_created_idx");
      });

      it("q search uses the trigram index links_search_trgm_idx", async () => {
        const { indexes, seqScans, text } = await plan(
          db,
          linkQueries.list(read, big, { limit: 20, q: "zebracorn", slugDomains: ["localhost"] }),
        );
        expect(indexes, text).toContain("links_search_trgm_idx");
        expect(seqScans, text).toEqual([]);
        const found = await linkQueries.list(read, big, { limit: 20, q: "ZEBRACORN" });
        expect(found).toHaveLength(5);
      });

      it("q naming a generated slug probes links_domain_slug_key beside the trigram index", async () => {
        // Odd rows stand for generated slugs (random text): the trigram index does not hold them.
        const [generated] = await read
          .select({ slug: links.slug })
          .from(links)
          .where(and(eq(links.workspaceId, big), eq(links.url, "https://example.com/page/4243")));
        const slug = generated!.slug;
        const { indexes, seqScans, text } = await plan(
          db,
          linkQueries.list(read, big, { limit: 20, q: slug, slugDomains: ["localhost", "other.test"] }),
        );
        expect(indexes, text).toContain("links_domain_slug_key");
        expect(indexes, text).toContain("links_search_trgm_idx");
        expect(seqScans, text).toEqual([]);
        const found = await linkQueries.list(read, big, { limit: 20, q: slug, slugDomains: ["localhost"] });
        expect(found.map((row) => row.slug)).toEqual([slug]);
        expect(await linkQueries.list(read, big, { limit: 20, q: slug })).toEqual([]);
      });

      it("the tag filter uses the GIN index links_tags_idx", async () => {
        const { indexes, seqScans, text } = await plan(
          db,
          linkQueries.list(read, big, { limit: 20, tag: "rare-tag" }),
        );
        expect(indexes, text).toContain("links_tags_idx");
        expect(seqScans, text).toEqual([]);
        expect(await linkQueries.list(read, big, { limit: 20, tag: "rare-tag" })).toHaveLength(21);
      });

      it("with sequential scans priced out, even an unselective q or tag has an index to use", async () => {
        // A common tag or word matches most rows: the planner rightly prefers the ordered walk of
        // links_workspace_created_idx with a filter, or a seq scan. With enable_seqscan off we only
        // prove no query of the list path is left without any index.
        for (const options of [{ tag: "common" }, { q: "title" }, { q: "%" }]) {
          const { indexes, seqScans, text } = await plan(
            db,
            linkQueries.list(read, big, { limit: 20, ...options }),
            { noSeqScan: true },
          );
          expect(seqScans, text).toEqual([]);
          expect(indexes.length, text).toBeGreaterThan(0);
        }
      });
    },
  );
}
