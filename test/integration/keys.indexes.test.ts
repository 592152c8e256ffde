import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiKeyQueries } from "../../src/auth/api-key-repository";
import type { Database } from "../../src/platform/db/database";
import { createWorkspaceRepository } from "../../src/workspaces/workspace-repository";
import { driversUnderTest } from "../support/databases";
import { explain as plan } from "../support/explain";

for (const driver of driversUnderTest().filter((d) => d.name !== "neon-http")) {
  describe.skipIf(driver.skip)(
    `GET /keys lists in the order it declares, straight from its index, on ${driver.name}${driver.skip ? ` (skipped: ${driver.skip})` : ""}`,
    () => {
      let db: Database & { teardown?: () => Promise<void> };
      let small: string;
      const run = crypto.randomUUID().slice(0, 8);

      beforeAll(async () => {
        db = await driver.open();
        const workspaces = createWorkspaceRepository(db);
        const big = (await workspaces.create({ name: `keys big ${run}` })).id;
        small = (await workspaces.create({ name: `keys small ${run}` })).id;
        // Many keys elsewhere, a few here: the planner reads this workspace through the index.
        await db.primary.execute(sql`
          insert into api_keys (workspace_id, name, prefix, secret_hash, scopes, created_at)
          select ${big}::uuid, 'k' || i, 'elk_big', ${`big-${run}-`} || i, array['links:read'],
                 now() - make_interval(secs => i)
          from generate_series(1, 20000) as i`);
        // Three created in the same millisecond: "newest first" alone would leave their order open.
        await db.primary.execute(sql`
          insert into api_keys (workspace_id, name, prefix, secret_hash, scopes, created_at)
          select ${small}::uuid, 'k' || i, 'elk_sml', ${`small-${run}-`} || i, array['links:read'],
                 case when i <= 3 then timestamptz '2026-01-01T00:00:00Z'
                      else timestamptz '2026-01-01T00:00:00Z' - make_interval(secs => i) end
          from generate_series(1, 8) as i`);
        await db.primary.execute(sql`analyze api_keys`);
      });
      afterAll(async () => {
        await db?.close();
        await db?.teardown?.();
      });

      it("answers newest first, ties by id, and walks api_keys_workspace_created_idx without sorting", async () => {
        const { types, indexes, text } = await plan(db, apiKeyQueries.list(db.primary, small));
        expect(indexes, text).toContain("api_keys_workspace_created_idx");
        expect(types, text).not.toContain("Sort");
        expect(types, text).not.toContain("Incremental Sort");
        const keys = await apiKeyQueries.list(db.primary, small);
        const declared = [...keys].sort(
          (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0),
        );
        expect(keys.map((k) => k.id)).toEqual(declared.map((k) => k.id));
        expect(keys).toHaveLength(8);
      });
    },
  );
}
