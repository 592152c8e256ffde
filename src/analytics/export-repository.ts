import { and, asc, count, eq, gte, lt, sql } from "drizzle-orm";
import { clicks } from "../../db/schema";
import type { Db } from "../platform/db/database";

/** Which clicks an export holds: one workspace, [from, to), optionally one link. */
export interface ClickExportFilter {
  workspaceId: string;
  from: Date;
  to: Date;
  linkId?: string;
}

/** The exported columns. Never the visitor IP (not stored) nor the visitor hash (pseudonymous). */
export const exportedClickColumns = {
  eventId: clicks.eventId,
  linkId: clicks.linkId,
  occurredAt: clicks.occurredAt,
  traffic: clicks.traffic,
  reason: clicks.reason,
  country: clicks.country,
  device: clicks.device,
  browser: clicks.browser,
  os: clicks.os,
  referrerHost: clicks.referrerHost,
};

export type ExportedClick = {
  eventId: string;
  linkId: string;
  occurredAt: Date;
  traffic: string;
  reason: string | null;
  country: string | null;
  device: string | null;
  browser: string | null;
  os: string | null;
  referrerHost: string | null;
};

/** Where the previous page ended: its last row's (occurred_at, event_id). */
interface Position {
  occurredAt: Date;
  eventId: string;
}

const matching = (filter: ClickExportFilter, after?: Position) =>
  and(
    eq(clicks.workspaceId, filter.workspaceId),
    filter.linkId ? eq(clicks.linkId, filter.linkId) : undefined,
    // The plain bound lets the index seek to the page; the row comparison breaks timestamp ties.
    gte(clicks.occurredAt, after?.occurredAt ?? filter.from),
    lt(clicks.occurredAt, filter.to),
    after
      ? sql`(${clicks.occurredAt}, ${clicks.eventId}) > (${after.occurredAt.toISOString()}::timestamptz, ${after.eventId}::uuid)`
      : undefined,
  );

/**
 * Raw clicks page by page in (occurred_at, event_id) order — keyset pagination, the portable
 * cursor: neon-http has neither cursors nor interactive transactions, and a page query holds no
 * connection between pages. Ties on occurred_at are broken by event_id, so no row is skipped or
 * repeated across a page boundary. Each page is one index range scan (`clicks_link_occurred_idx`
 * with a link, `clicks_workspace_occurred_idx` without) that starts where the last one ended.
 *
 * Rows inserted behind the cursor while an export runs (late queue deliveries) are not in it.
 *
 * @example
 * for await (const page of clickPages(db.replica, filter, 2_000)) write(page);
 */
export async function* clickPages(
  db: Db,
  filter: ClickExportFilter,
  pageSize: number,
): AsyncGenerator<ExportedClick[]> {
  let after: Position | undefined;
  for (;;) {
    const page = await db
      .select(exportedClickColumns)
      .from(clicks)
      .where(matching(filter, after))
      .orderBy(asc(clicks.occurredAt), asc(clicks.eventId))
      .limit(pageSize);
    if (page.length > 0) yield page;
    if (page.length < pageSize) return;
    const last = page.at(-1)!;
    after = { occurredAt: last.occurredAt, eventId: last.eventId };
  }
}

/** How many clicks an export will hold (for a progress bar's ETA). */
export async function countClicks(db: Db, filter: ClickExportFilter): Promise<number> {
  const [row] = await db.select({ n: count() }).from(clicks).where(matching(filter));
  return Number(row?.n ?? 0);
}
