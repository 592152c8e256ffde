import { randomUUID } from "node:crypto";
import type { NeonQueryFunction } from "@neondatabase/serverless";
import { NeonDbError, neon, neonConfig } from "@neondatabase/serverless";
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/neon-http";
import { integer, jsonb, pgTable, serial, text, timestamp } from "drizzle-orm/pg-core";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NeonHttpServer } from "../../dev/neon-http-server";
import { startNeonHttpServer } from "../../dev/neon-http-server";

const databaseUrl = process.env.DATABASE_URL;
const testDb = "edgelink_neon_standin_test";

const links = pgTable("links", {
  id: serial("id").primaryKey(),
  slug: text("slug").notNull().unique("links_slug_key"),
  url: text("url").notNull(),
  clicks: integer("clicks").notNull().default(0),
  meta: jsonb("meta").$type<Record<string, unknown>>(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

async function admin<T>(url: string, run: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function expectDbError(promise: Promise<unknown>): Promise<NeonDbError> {
  const error = await promise.then(
    () => expect.fail("expected the query to fail"),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NeonDbError);
  return error as NeonDbError;
}

describe.skipIf(!databaseUrl)("neon HTTP stand-in (through @neondatabase/serverless)", () => {
  let server: NeonHttpServer;
  let sql: NeonQueryFunction<false, false>;
  let previousEndpoint: typeof neonConfig.fetchEndpoint;
  // The header's host is deliberately bogus: the stand-in keeps only user/password/database from it.
  let neonUrl: string;
  let backingUrl: string;

  beforeAll(async () => {
    await admin(databaseUrl!, async (c) => {
      await c.query(`DROP DATABASE IF EXISTS ${testDb} WITH (FORCE)`);
      await c.query(`CREATE DATABASE ${testDb}`);
    });
    const url = new URL(databaseUrl!);
    url.pathname = `/${testDb}`;
    backingUrl = url.toString();
    url.hostname = "ep-local-standin.neon.invalid";
    url.port = "";
    neonUrl = url.toString();

    server = await startNeonHttpServer({ databaseUrl: databaseUrl! });
    previousEndpoint = neonConfig.fetchEndpoint;
    neonConfig.fetchEndpoint = server.url;
    sql = neon(neonUrl);
    await sql`CREATE TABLE links (
      id serial PRIMARY KEY, slug text NOT NULL CONSTRAINT links_slug_key UNIQUE, url text NOT NULL,
      clicks integer NOT NULL DEFAULT 0, meta jsonb, created_at timestamptz NOT NULL DEFAULT now())`;
    await sql`CREATE TABLE samples (
      i4 int4, i8 int8, num numeric, flag bool, txt text, doc jsonb, ts timestamptz, tags text[], bin bytea, id uuid)`;
  });

  afterAll(async () => {
    if (previousEndpoint !== undefined) neonConfig.fetchEndpoint = previousEndpoint;
    await server?.close();
    await admin(databaseUrl!, (c) => c.query(`DROP DATABASE IF EXISTS ${testDb} WITH (FORCE)`));
  });

  it("routes to the header's database on the configured host", async () => {
    expect(await sql`SELECT current_database() AS db`).toEqual([{ db: testDb }]);
  });

  // Runs before anything constructs drizzle(): drizzle-orm/neon-http globally switches the driver's
  // timestamptz parser to return strings.
  it("round-trips values of common types as raw text for the driver to parse", async () => {
    const sample = {
      i4: 42,
      i8: "9007199254740993",
      num: "12345.678901234567890123",
      flag: true,
      txt: `h\u00e9llo "double" 'single' \\ back\u2019slash \u{1F600}\n`,
      doc: { a: 1, nested: { b: [1, "two", null], u: "\u00fc" } },
      ts: new Date("2024-02-29T12:34:56.789Z"),
      tags: ["a", "b c", 'with "quote"', "{braces}", "\u00fc", null],
      bin: Buffer.from([0, 1, 2, 127, 128, 255]),
      id: randomUUID(),
    };
    const { i4, i8, num, flag, txt, doc, ts, tags, bin, id } = sample;
    await sql`INSERT INTO samples VALUES (${i4}, ${i8}, ${num}, ${flag}, ${txt}, ${doc}, ${ts}, ${tags}, ${bin}, ${id})`;
    await sql`INSERT INTO samples VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`;

    const rows = await sql`SELECT * FROM samples ORDER BY i4 NULLS LAST`;
    expect(rows).toEqual([sample, Object.fromEntries(Object.keys(sample).map((k) => [k, null]))]);
    expect(rows[0]?.ts).toBeInstanceOf(Date);
    expect(Buffer.isBuffer(rows[0]?.bin)).toBe(true);
  });

  it("supports array mode, object mode and full results, including duplicate column names", async () => {
    const query = "SELECT 1 AS a, $1::text AS b, 3 AS a";
    expect(await sql.query(query, ["x"], { arrayMode: true })).toEqual([[1, "x", 3]]);
    // Object rows keep the last of duplicated names, as pg does.
    expect(await sql.query(query, ["x"])).toEqual([{ a: 3, b: "x" }]);

    const full = await neon(neonUrl, { arrayMode: true, fullResults: true })`SELECT 1 AS a, 2 AS a`;
    expect(full.command).toBe("SELECT");
    expect(full.rowCount).toBe(1);
    expect(full.rows).toEqual([[1, 2]]);
    expect(full.fields.map((f) => [f.name, f.dataTypeID])).toEqual([
      ["a", 23],
      ["a", 23],
    ]);

    const objects = await sql.query("SELECT id FROM links WHERE false", [], { fullResults: true });
    expect(objects).toMatchObject({ command: "SELECT", rowCount: 0, rows: [] });
    expect(objects.fields[0]).toMatchObject({ name: "id", dataTypeID: 23, format: "text" });
    expect(objects.fields[0]?.tableID).toBeGreaterThan(0);
  });

  it("answers Neon-Array-Mode: false with raw-text rows keyed by column name", async () => {
    const response = await fetch(server.url, {
      method: "POST",
      headers: { "Neon-Connection-String": neonUrl, "Neon-Array-Mode": "false" },
      body: JSON.stringify({ query: "SELECT 1 AS a, NULL::int AS b, 2 AS a", params: [] }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ rows: [{ a: "2", b: null }], rowAsArray: false });
  });

  it("runs sql.transaction() all-or-nothing", async () => {
    await sql`INSERT INTO links (slug, url) VALUES ('taken', 'https://example.com/taken')`;
    const error = await expectDbError(
      sql.transaction([
        sql`INSERT INTO links (slug, url) VALUES ('first', 'https://example.com/1')`,
        sql`INSERT INTO links (slug, url) VALUES ('taken', 'https://example.com/2')`,
      ]),
    );
    expect(error.code).toBe("23505");
    expect(await sql`SELECT slug FROM links WHERE slug = 'first'`).toEqual([]);

    const [inserted, counted] = await sql.transaction((tx) => [
      tx`INSERT INTO links (slug, url) VALUES ('second', 'https://example.com/2') RETURNING slug`,
      tx`SELECT count(*)::int AS n FROM links WHERE slug = 'second'`,
    ]);
    expect(inserted).toEqual([{ slug: "second" }]);
    expect(counted).toEqual([{ n: 1 }]);
  });

  it("honours isolation level, read-only and deferrable for transactions", async () => {
    const results = await sql.transaction(
      [sql`SHOW transaction_isolation`, sql`SHOW transaction_read_only`, sql`SHOW transaction_deferrable`],
      { isolationLevel: "Serializable", readOnly: true, deferrable: true },
    );
    expect(results).toEqual([
      [{ transaction_isolation: "serializable" }],
      [{ transaction_read_only: "on" }],
      [{ transaction_deferrable: "on" }],
    ]);
    const [level] = await sql.transaction([sql`SHOW transaction_isolation`], {
      isolationLevel: "RepeatableRead",
    });
    expect(level).toEqual([{ transaction_isolation: "repeatable read" }]);

    const error = await expectDbError(
      sql.transaction([sql`INSERT INTO links (slug, url) VALUES ('ro', 'https://example.com/ro')`], {
        readOnly: true,
      }),
    );
    expect(error.code).toBe("25006");
    expect(await sql`SELECT slug FROM links WHERE slug = 'ro'`).toEqual([]);
  });

  it("surfaces Postgres errors with their fields", async () => {
    const unique = await expectDbError(
      sql`INSERT INTO links (slug, url) VALUES ('taken', 'https://example.com/again')`,
    );
    expect(unique).toMatchObject({
      code: "23505",
      constraint: "links_slug_key",
      table: "links",
      severity: "ERROR",
    });
    expect(unique.detail).toContain("(slug)=(taken)");

    const syntax = await expectDbError(sql`SELECT FROM WHERE`);
    expect(syntax.code).toBe("42601");
    expect(syntax.position).toBe("13");

    // Extended protocol, as on Neon: one statement per query.
    expect((await expectDbError(sql`SELECT 1; SELECT 2`)).code).toBe("42601");
  });

  it("survives backend connections being terminated", async () => {
    const killed = await expectDbError(sql`SELECT pg_terminate_backend(pg_backend_pid())`);
    expect(killed.code).toBe("57P01");
    expect(await sql`SELECT 1 AS ok`).toEqual([{ ok: 1 }]);

    // Idle pooled connections killed from outside: the pool must drop them without crashing.
    const terminated = await admin(backingUrl, async (c) => {
      const { rows } = await c.query(
        `SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity
         WHERE application_name = 'neon-http-standin' AND datname = $1`,
        [testDb],
      );
      return rows.length;
    });
    expect(terminated).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await sql`SELECT 2 AS ok`).toEqual([{ ok: 2 }]);
  });

  it("rejects non-POST, bad JSON, malformed bodies and oversized bodies", async () => {
    const get = await fetch(server.url);
    expect(get.status).toBe(405);
    const badJson = await fetch(server.url, { method: "POST", body: "{not json" });
    expect(badJson.status).toBe(400);
    expect(await badJson.json()).toEqual({ message: "Request body is not valid JSON" });
    const badShape = await fetch(server.url, { method: "POST", body: JSON.stringify({ query: 1 }) });
    expect(badShape.status).toBe(400);
    const badLevel = await fetch(server.url, {
      method: "POST",
      headers: { "Neon-Batch-Isolation-Level": "Chaos" },
      body: JSON.stringify({ queries: [] }),
    });
    expect(badLevel.status).toBe(400);
    const huge = await fetch(server.url, { method: "POST", body: "x".repeat(10 * 1024 * 1024 + 1) });
    expect(huge.status).toBe(413);
  });

  describe("drizzle-orm/neon-http", () => {
    const db = () => drizzle({ client: neon(neonUrl), schema: { links } });

    it("inserts with returning, selects, updates and deletes", async () => {
      const d = db();
      const [created] = await d
        .insert(links)
        .values({ slug: "drizzle", url: "https://example.com/d", meta: { tags: ["x"] } })
        .returning();
      expect(created).toMatchObject({ slug: "drizzle", clicks: 0, meta: { tags: ["x"] } });
      expect(created?.createdAt).toBeInstanceOf(Date);

      const found = await d.select().from(links).where(eq(links.slug, "drizzle"));
      expect(found).toEqual([created]);

      const updated = await d
        .update(links)
        .set({ clicks: 5 })
        .where(eq(links.id, created!.id))
        .returning({ clicks: links.clicks });
      expect(updated).toEqual([{ clicks: 5 }]);
      expect(await d.query.links.findFirst({ where: eq(links.slug, "drizzle") })).toMatchObject({
        clicks: 5,
      });

      const deleted = await d.delete(links).where(eq(links.slug, "drizzle"));
      expect(deleted.rowCount).toBe(1);
      expect(await d.select().from(links).where(eq(links.slug, "drizzle"))).toEqual([]);
    });

    it("runs db.batch() in one transaction", async () => {
      const d = db();
      const [inserted, selected] = await d.batch([
        d
          .insert(links)
          .values({ slug: "batch-ok", url: "https://example.com/b" })
          .returning({ slug: links.slug }),
        d.select({ slug: links.slug }).from(links).where(eq(links.slug, "batch-ok")),
      ]);
      expect(inserted).toEqual([{ slug: "batch-ok" }]);
      expect(selected).toEqual([{ slug: "batch-ok" }]);

      const error = await expectDbError(
        d.batch([
          d.insert(links).values({ slug: "batch-rolled-back", url: "https://example.com/r" }),
          d.insert(links).values({ slug: "batch-ok", url: "https://example.com/dup" }),
        ]),
      );
      expect(error).toMatchObject({ code: "23505", constraint: "links_slug_key" });
      expect(await d.select().from(links).where(eq(links.slug, "batch-rolled-back"))).toEqual([]);
    });
  });
});
