import { sql } from "drizzle-orm";
import { type Db, rowsOf } from "../platform/db/database";

/**
 * Deletes raw clicks that occurred before `olderThan`, oldest first, `batchSize` rows per
 * statement so no statement holds many locks or runs into the statement timeout; stops after
 * `maxBatches` (the next run continues). Rollups are not touched: they are kept forever, which is
 * why stats over old ranges still work. Answers the number of rows deleted.
 *
 * @example
 * await pruneClicks(db.primary, new Date(Date.now() - 90 * 86_400_000));
 */
export async function pruneClicks(
  db: Db,
  olderThan: Date,
  options: { batchSize?: number; maxBatches?: number } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 5_000;
  const maxBatches = options.maxBatches ?? 100;
  let deleted = 0;
  for (let batch = 0; batch < maxBatches; batch += 1) {
    const result = await db.execute(sql`
      with doomed as (
        select event_id from clicks where occurred_at < ${olderThan.toISOString()}::timestamptz
        order by occurred_at limit ${batchSize}
      ), gone as (
        delete from clicks c using doomed d where c.event_id = d.event_id returning 1
      )
      select count(*)::int as n from gone
    `);
    const count = Number(rowsOf<{ n: unknown }>(result)[0]?.n ?? 0);
    deleted += count;
    if (count < batchSize) break;
  }
  return deleted;
}
