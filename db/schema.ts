import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

// Millisecond precision everywhere: a JS Date holds no more, and keyset cursors compare timestamps
// exactly, so a microsecond the client cannot see would make pages skip or repeat rows.
const createdAt = () => timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow();

export const workspaces = pgTable("workspaces", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  createdAt: createdAt(),
});

/** Only a hash of the key's secret is stored; `prefix` is the short visible part shown in lists. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    secretHash: text("secret_hash").notNull(),
    scopes: text("scopes").array().notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 3 }),
    revokedAt: timestamp("revoked_at", { withTimezone: true, precision: 3 }),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, precision: 3 }),
  },
  (table) => [
    uniqueIndex("api_keys_secret_hash_key").on(table.secretHash),
    // GET /keys: newest first, ties by id — the whole order, so the list needs no sort.
    index("api_keys_workspace_created_idx").on(table.workspaceId, table.createdAt.desc(), table.id.desc()),
  ],
);

export type RedirectStatus = 301 | 302 | 307 | 308;

export interface LinkRule {
  device?: ("desktop" | "mobile" | "tablet")[];
  country?: string[];
  url: string;
}

/**
 * The text `GET /links?q=` searches by substring; queries must use this exact expression to hit
 * the index. A generated slug is left out: its random characters are a trigram index's worst case
 * (nearly every one a key of its own) and were half of the index's cost per inserted link, while
 * nobody searches for a piece of one. `q` still finds a generated slug by exact match, through
 * `links_domain_slug_key`.
 */
export function linkSearchText(table: {
  slug: AnyPgColumn;
  slugCustom: AnyPgColumn;
  title: AnyPgColumn;
  url: AnyPgColumn;
}) {
  return sql`(case when ${table.slugCustom} then ${table.slug} else '' end || ' ' || coalesce(${table.title}, '') || ' ' || ${table.url})`;
}

export const links = pgTable(
  "links",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    domain: text("domain").notNull(),
    slug: text("slug").notNull(),
    // Chosen by the client rather than generated; links stored before the column existed count as
    // chosen, so a substring search still finds them as it did.
    slugCustom: boolean("slug_custom").notNull().default(true),
    url: text("url").notNull(),
    title: text("title"),
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 3 }),
    expiredUrl: text("expired_url"),
    maxClicks: integer("max_clicks"),
    clickCount: bigint("click_count", { mode: "number" }).notNull().default(0),
    redirectStatus: smallint("redirect_status").$type<RedirectStatus>().notNull().default(302),
    cacheControl: text("cache_control").notNull().default("private, max-age=0"),
    passwordHash: text("password_hash"),
    utm: jsonb("utm").$type<Record<string, string>>(),
    rules: jsonb("rules").$type<LinkRule[]>(),
    createdAt: createdAt(),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (table) => [
    // The redirect hot path: one index probe per slug.
    uniqueIndex("links_domain_slug_key").on(table.domain, table.slug),
    // Keyset pagination, newest first, within a workspace.
    index("links_workspace_created_idx").on(table.workspaceId, table.createdAt.desc(), table.id.desc()),
    index("links_tags_idx").using("gin", table.tags),
    // `q` search on custom slug, title and url: one trigram index over the expression `linkSearchText`.
    index("links_search_trgm_idx").using("gin", sql`${linkSearchText(table)} gin_trgm_ops`),
  ],
);

export type TrafficClass = "human" | "bot" | "preview" | "head";

/** One row per counted request; `event_id` is minted at the edge so redelivery never double-counts. */
export const clicks = pgTable(
  "clicks",
  {
    eventId: uuid("event_id").primaryKey(),
    linkId: uuid("link_id").notNull(),
    workspaceId: uuid("workspace_id").notNull(),
    occurredAt: timestamp("occurred_at", { withTimezone: true, precision: 3 }).notNull(),
    traffic: text("traffic").$type<TrafficClass>().notNull(),
    reason: text("reason"),
    country: text("country"),
    device: text("device"),
    browser: text("browser"),
    os: text("os"),
    referrerHost: text("referrer_host"),
    visitorHash: text("visitor_hash"),
  },
  (table) => [
    index("clicks_link_occurred_idx").on(table.linkId, table.occurredAt),
    index("clicks_workspace_occurred_idx").on(table.workspaceId, table.occurredAt),
    index("clicks_occurred_idx").on(table.occurredAt),
  ],
);

export type RollupGranularity = "hour" | "day";

/** Aggregates kept after raw clicks are pruned; `dimension` = "total" carries the plain count. */
export const rollups = pgTable(
  "rollups",
  {
    linkId: uuid("link_id").notNull(),
    granularity: text("granularity").$type<RollupGranularity>().notNull(),
    bucketStart: timestamp("bucket_start", { withTimezone: true, precision: 3 }).notNull(),
    traffic: text("traffic").$type<TrafficClass>().notNull(),
    dimension: text("dimension").notNull(),
    value: text("value").notNull(),
    clicks: bigint("clicks", { mode: "number" }).notNull().default(0),
  },
  (table) => [
    // The key in the order stats read it: a link's `total` rows per bucket (any traffic), or a few
    // dimensions over a bucket range, are adjacent entries (bucket before dimension would step over
    // every dimension of every bucket in the range). The migration adds `INCLUDE (clicks)` (drizzle
    // cannot declare it), so those reads are index-only scans once vacuum has marked the pages
    // all-visible — and the consumer's upserts maintain one index, not a key plus a covering copy.
    primaryKey({
      name: "rollups_pkey",
      columns: [
        table.linkId,
        table.granularity,
        table.dimension,
        table.bucketStart,
        table.traffic,
        table.value,
      ],
    }),
  ],
);

/** Replays of `Idempotency-Key` requests, scoped per workspace, until `expires_at`. */
export const idempotencyKeys = pgTable(
  "idempotency_keys",
  {
    workspaceId: uuid("workspace_id")
      .notNull()
      .references(() => workspaces.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    responseStatus: smallint("response_status"),
    responseBody: jsonb("response_body"),
    responseHeaders: jsonb("response_headers").$type<Record<string, string>>(),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 3 }).notNull(),
  },
  (table) => [
    primaryKey({ name: "idempotency_keys_pkey", columns: [table.workspaceId, table.key] }),
    index("idempotency_keys_expires_idx").on(table.expiresAt),
  ],
);

export const schema = { workspaces, apiKeys, links, clicks, rollups, idempotencyKeys };
