import { and, arrayContains, eq, ilike, inArray, lt, or, type Placeholder, sql } from "drizzle-orm";
import { linkSearchText, links } from "../../db/schema";
import type { Database, Db } from "../platform/db/database";
import { jsonRecordset } from "../platform/db/json-recordset";

export type Link = typeof links.$inferSelect;
export type NewLink = Omit<typeof links.$inferInsert, "id" | "createdAt" | "updatedAt" | "clickCount">;
export type LinkChanges = Partial<Omit<NewLink, "workspaceId">>;
/** What a bulk insert answers for each link it created. */
export type CreatedLink = Pick<Link, "id" | "domain" | "slug">;

/** Position in the newest-first listing: the last row's creation time and id (ties broken by id). */
export interface LinkCursor {
  createdAt: Date;
  id: string;
}

/** One page of `GET /links`: its size, where it starts, and the optional tag and `q` filters. */
export interface LinkListOptions {
  limit: number;
  cursor?: LinkCursor;
  tag?: string;
  q?: string;
  /**
   * The short domains, for `q`'s exact match on a generated slug: with them the match is a probe
   * of `links_domain_slug_key` per domain; without, `q` matches text only.
   */
  slugDomains?: readonly string[];
}

/** Postgres' unique_violation, whatever driver reports it (drizzle wraps it as `cause`). */
export function isUniqueViolation(error: unknown): boolean {
  for (let current = error; current && typeof current === "object"; current = (current as Error).cause) {
    if ((current as { code?: unknown }).code === "23505") return true;
  }
  return false;
}

/** `q` is matched literally: `%` and `_` typed by a user are not wildcards. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (char) => `\\${char}`);

/**
 * The read queries of the hot and list paths, built but not run: the repository awaits them, and
 * the index tests EXPLAIN exactly these (not a hand-written look-alike).
 */
export const linkQueries = {
  /** The redirect path: one probe of `links_domain_slug_key`. */
  findBySlug: (db: Db, domain: string | Placeholder, slug: string | Placeholder) =>
    db
      .select()
      .from(links)
      .where(and(eq(links.domain, domain), eq(links.slug, slug)))
      .limit(1),

  /**
   * One page newest first, plus one row to tell whether another page follows. Served by
   * `links_workspace_created_idx`, or `links_tags_idx` / `links_search_trgm_idx` (with
   * `links_domain_slug_key` for a generated slug) for tag and q.
   */
  list: (db: Db, workspaceId: string, options: LinkListOptions) => {
    const { cursor, tag, q, slugDomains = [] } = options;
    return (
      db
        .select()
        .from(links)
        .where(
          and(
            eq(links.workspaceId, workspaceId),
            tag ? arrayContains(links.tags, [tag]) : undefined,
            q
              ? or(
                  ilike(linkSearchText(links), `%${escapeLike(q)}%`),
                  slugDomains.length > 0
                    ? and(inArray(links.domain, [...slugDomains]), eq(links.slug, q))
                    : undefined,
                )
              : undefined,
            // A row comparison, so the index seeks straight to the cursor: the equivalent
            // `a < x or (a = x and b < y)` is only a filter, and page n would read n pages of rows.
            cursor
              ? sql`(${links.createdAt}, ${links.id}) < (${cursor.createdAt.toISOString()}::timestamptz, ${cursor.id}::uuid)`
              : undefined,
          ),
        )
        // NULLS LAST as in the index: plain `desc` means NULLS FIRST in Postgres, an order the index
        // cannot give (the columns are NOT NULL, but the planner does not use that), so every page
        // was a sequential scan and a sort of the whole workspace.
        .orderBy(sql`${links.createdAt} desc nulls last`, sql`${links.id} desc nulls last`)
        .limit(options.limit + 1)
    );
  },
};

/**
 * Links, always addressed within one workspace except on the redirect path, which looks a link up
 * by (domain, slug) — the unique index — and owns no tenant context.
 */
export function createLinkRepository(db: Database) {
  const ownedBy = (workspaceId: string, id: string) =>
    and(eq(links.workspaceId, workspaceId), eq(links.id, id));
  // The lookup of every redirect the caches do not answer, built once (at the first lookup, so a
  // failure to build it is that lookup's): drizzle would build its SQL on every call, and as a
  // named statement Postgres parses and plans it once per connection.
  const prepareBySlug = () =>
    linkQueries
      .findBySlug(db.primary, sql.placeholder("domain"), sql.placeholder("slug"))
      .prepare("edgelink_link_by_slug");
  let bySlug: ReturnType<typeof prepareBySlug> | undefined;

  return {
    /** Answers `null` when (domain, slug) is already taken. */
    async create(input: NewLink): Promise<Link | null> {
      try {
        const [row] = await db.primary.insert(links).values(input).returning();
        return row!;
      } catch (error) {
        if (isUniqueViolation(error)) return null;
        throw error;
      }
    },

    async findBySlug(domain: string, slug: string): Promise<Link | null> {
      bySlug ??= prepareBySlug();
      const [row] = await bySlug.execute({ domain, slug });
      return row ?? null;
    },

    async findById(workspaceId: string, id: string): Promise<Link | null> {
      const [row] = await db.primary.select().from(links).where(ownedBy(workspaceId, id)).limit(1);
      return row ?? null;
    },

    /** Newest first; lists tolerate replica lag, so they read from a replica when one is configured. */
    async list(
      workspaceId: string,
      options: LinkListOptions,
    ): Promise<{ rows: Link[]; nextCursor: LinkCursor | null }> {
      const rows = await linkQueries.list(db.replica, workspaceId, options);
      const page = rows.slice(0, options.limit);
      const last = page.at(-1);
      return {
        rows: page,
        nextCursor: rows.length > options.limit && last ? { createdAt: last.createdAt, id: last.id } : null,
      };
    },

    /** Answers `null` when the link does not exist in this workspace; throws nothing for foreign ids. */
    async update(workspaceId: string, id: string, changes: LinkChanges): Promise<Link | null> {
      const [row] = await db.primary
        .update(links)
        .set({ ...changes, updatedAt: sql`now()` })
        .where(ownedBy(workspaceId, id))
        .returning();
      return row ?? null;
    },

    async delete(workspaceId: string, id: string): Promise<Link | null> {
      const [row] = await db.primary.delete(links).where(ownedBy(workspaceId, id)).returning();
      return row ?? null;
    },

    /** Counts one click towards `maxClicks`, atomically: answers false once the limit is reached. */
    async consumeClick(id: string): Promise<boolean> {
      const [row] = await db.primary
        .update(links)
        .set({ clickCount: sql`${links.clickCount} + 1` })
        .where(
          and(eq(links.id, id), or(sql`${links.maxClicks} is null`, lt(links.clickCount, links.maxClicks))),
        )
        .returning({ clickCount: links.clickCount });
      return row !== undefined;
    },

    /** Creates several links all-or-nothing (one batch on neon-http, one transaction elsewhere). */
    async createMany(inputs: NewLink[]): Promise<Link[]> {
      if (inputs.length === 0) return [];
      const results = await db.atomic((tx) =>
        inputs.map((input) => tx.insert(links).values(input).returning()),
      );
      return (results as Link[][]).map((rows) => rows[0]!);
    },

    /**
     * Inserts every row it can in ONE statement (a bulk import's batch): a row whose (domain, slug)
     * is taken — by an existing link, or by an earlier row of the same call — is skipped rather
     * than failing the rest. Answers who was inserted (id, domain, slug); the caller tells what was
     * skipped.
     */
    async createManySkippingTaken(inputs: NewLink[]): Promise<CreatedLink[]> {
      if (inputs.length === 0) return [];
      return db.primary
        .insert(links)
        .select(jsonRecordset(links, inputs))
        .onConflictDoNothing({ target: [links.domain, links.slug] })
        .returning({ id: links.id, domain: links.domain, slug: links.slug });
    },
  };
}

export type LinkRepository = ReturnType<typeof createLinkRepository>;
