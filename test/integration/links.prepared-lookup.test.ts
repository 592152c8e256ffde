import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createLinkRepository } from "../../src/links/link-repository";
import { rowsOf } from "../../src/platform/db/database";
import { createNodePostgresDatabase } from "../../src/platform/db/node-postgres-database";
import { createWorkspaceRepository } from "../../src/workspaces/workspace-repository";
import { driversUnderTest } from "../support/databases";

const url = inject("testDatabaseUrl");
const skip = driversUnderTest().find((driver) => driver.name === "node-postgres")?.skip;

describe.skipIf(skip)(
  `the redirect lookup by slug on node-postgres${skip ? ` (skipped: ${skip})` : ""}`,
  () => {
    // One connection, so the session the statement is prepared in is the one asked about.
    const db = createNodePostgresDatabase({ url: url!, poolMax: 1, statementTimeoutMs: 5_000 });
    const repository = createLinkRepository(db);
    const slug = `prep-${crypto.randomUUID().slice(0, 8)}`;
    const preparedHere = async () =>
      rowsOf<{ name: string; statement: string }>(
        await db.primary.execute(sql`select name, statement from pg_prepared_statements`),
      );

    beforeAll(async () => {
      const workspace = await createWorkspaceRepository(db).create({ name: `prepared ${slug}` });
      await repository.create({
        workspaceId: workspace.id,
        domain: "localhost",
        slug,
        url: "https://example.com/prepared",
      });
    });
    afterAll(() => db.close());

    it("is one named statement, parsed once per connection however often it runs", async () => {
      for (let i = 0; i < 5; i += 1) {
        expect((await repository.findBySlug("localhost", slug))?.url).toBe("https://example.com/prepared");
        expect(await repository.findBySlug("localhost", `${slug}-none`)).toBeNull();
        expect(await repository.findBySlug("other.example", slug)).toBeNull();
      }
      const statements = await preparedHere();
      expect(statements.map((row) => row.name)).toEqual(["edgelink_link_by_slug"]);
      expect(statements[0]!.statement).toMatch(
        /from "links" where \("links"\."domain" = \$1 and "links"\."slug" = \$2\) limit \$3/,
      );
    });
  },
);
