-- One index for both the consumer's upserts and the stats reads: the key in stats order, with
-- `clicks` included so those reads stay index-only. drizzle-kit cannot declare INCLUDE; the
-- schema's primaryKey lists the same key columns, so later generations see no change here.
-- Rebuilding the key locks `rollups` for the build (seconds per million rows).
DROP INDEX "rollups_stats_idx";--> statement-breakpoint
ALTER TABLE "rollups" DROP CONSTRAINT "rollups_pkey";--> statement-breakpoint
ALTER TABLE "rollups" ADD CONSTRAINT "rollups_pkey" PRIMARY KEY("link_id","granularity","dimension","bucket_start","traffic","value") INCLUDE ("clicks");
