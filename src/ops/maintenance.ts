import { lt } from "drizzle-orm";
import { idempotencyKeys } from "../../db/schema";
import type { Services } from "../services";

export interface MaintenanceReport {
  expiredIdempotencyKeys: number;
}

/**
 * Periodic housekeeping, run by the edge's cron trigger and by one Node process on an interval.
 * Every step is idempotent, so two runs overlapping (a slow run and the next tick) do no harm.
 */
export async function runMaintenance(services: Services, now: Date): Promise<MaintenanceReport> {
  const expired = await services.db.primary
    .delete(idempotencyKeys)
    .where(lt(idempotencyKeys.expiresAt, now))
    .returning({ key: idempotencyKeys.key });
  const report = { expiredIdempotencyKeys: expired.length };
  services.metrics.counter("maintenance_runs_total", "Maintenance runs completed");
  services.logger.info("maintenance done", { ...report });
  return report;
}
