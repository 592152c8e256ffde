-- The q index no longer holds generated slugs (see linkSearchText in db/schema.ts): half the index's
-- cost per inserted link. Existing links count as custom, so they stay searchable as before.
-- Rebuilding the index blocks writes to links for the build (seconds per million links).
DROP INDEX "links_search_trgm_idx";--> statement-breakpoint
ALTER TABLE "links" ADD COLUMN "slug_custom" boolean DEFAULT true NOT NULL;--> statement-breakpoint
CREATE INDEX "links_search_trgm_idx" ON "links" USING gin ((case when "slug_custom" then "slug" else '' end || ' ' || coalesce("title", '') || ' ' || "url") gin_trgm_ops);