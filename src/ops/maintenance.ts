import { lt } from "drizzle-orm";
import { idempotencyKeys } from "../../db/schema";
import { pruneClicks } from "../analytics/click-retention";
import type { Services } from "../services";

export interface MaintenanceReport {
  expiredIdempotencyKeys: number;
  /** Raw clicks older than CLICK_RETENTION_DAYS deleted by this run (rollups stay). */
  prunedClicks: number;
}

const dayMs = 86_400_000;

/**
 * Periodic housekeeping, run by the edge's cron trigger and by one Node process on an interval.
 * Every step is idempotent, so two runs overlapping (a slow run and the next tick) do no harm.
 */
export async function runMaintenance(services: Services, now: Date): Promise<MaintenanceReport> {
  const expired = await services.db.primary
    .delete(idempotencyKeys)
    .where(lt(idempotencyKeys.expiresAt, now))
    .returning({ key: idempotencyKeys.key });
  const retainedSince = new Date(now.getTime() - services.config.CLICK_RETENTION_DAYS * dayMs);
  const prunedClicks = await pruneClicks(services.db.primary, retainedSince);
  const report = { expiredIdempotencyKeys: expired.length, prunedClicks };
  services.metrics.counter("maintenance_runs_total", "Maintenance runs completed");
  services.metrics.counter("clicks_pruned_total", "Raw clicks deleted by retention", {}, prunedClicks);
  services.logger.info("maintenance done", { ...report });
  return report;
}
