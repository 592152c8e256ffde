import { sql } from "drizzle-orm";
import { type Db, rowsOf } from "../platform/db/database";
import type { ClickEvent } from "./click-event";

/** The rollup dimensions; `total` carries the plain count under the empty value. */
export const rollupDimensions = ["total", "country", "device", "browser", "os", "referrer"] as const;
export type RollupDimension = (typeof rollupDimensions)[number];

export interface IngestedClick {
  eventId: string;
  linkId: string;
  traffic: ClickEvent["traffic"];
  occurredAt: Date;
  visitorHash: string | null;
}

/**
 * Stores a batch of click events and folds them into the rollups — in ONE statement, so raw clicks
 * and rollups can never disagree and the batch is atomic on every driver (neon-http has no
 * interactive transactions). Idempotent on `event_id`: only rows actually inserted are rolled up
 * and returned, so a redelivered batch changes nothing. Rollup rows are upserted in key order so
 * concurrent batches lock them in the same order and cannot deadlock each other.
 *
 * HEAD and prefetch events are not stored: they are served, never counted (metrics count them).
 * Bots and previews are rolled up as totals only: stats break down human clicks alone (bots and
 * previews by reason, from the raw rows), so their five dimensions would be written and never read
 * — two rollup facts for such a click instead of twelve.
 */
export async function ingestClicks(db: Db, events: ClickEvent[]): Promise<IngestedClick[]> {
  const rows = events
    .filter((event) => event.traffic !== "head" && event.traffic !== "prefetch")
    .map((event) => ({
      event_id: event.eventId,
      link_id: event.linkId,
      workspace_id: event.workspaceId,
      occurred_at: new Date(event.occurredAt).toISOString(),
      traffic: event.traffic,
      reason: event.reason,
      country: event.country,
      device: event.device,
      browser: event.browser,
      os: event.os,
      referrer_host: event.referrerHost,
      visitor_hash: event.visitorHash,
    }));
  if (rows.length === 0) return [];
  const result = await db.execute(sql`
    with incoming as (
      select * from rows from (jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as (
        event_id uuid, link_id uuid, workspace_id uuid, occurred_at timestamptz, traffic text, reason text,
        country text, device text, browser text, os text, referrer_host text, visitor_hash text)
      ) with ordinality as x(event_id, link_id, workspace_id, occurred_at, traffic, reason, country, device,
                             browser, os, referrer_host, visitor_hash, at)
    ),
    inserted as (
      insert into clicks (event_id, link_id, workspace_id, occurred_at, traffic, reason, country, device,
                          browser, os, referrer_host, visitor_hash)
      select distinct on (event_id) event_id, link_id, workspace_id, occurred_at, traffic, reason, country,
             device, browser, os, referrer_host, visitor_hash
      from incoming
      order by event_id, at
      on conflict (event_id) do nothing
      returning event_id, link_id, occurred_at, traffic, country, device, browser, os, referrer_host, visitor_hash
    ),
    facts as (
      select i.link_id, g.granularity,
             date_trunc(g.granularity, i.occurred_at at time zone 'UTC') at time zone 'UTC' as bucket_start,
             i.traffic, d.dimension, d.value
      from inserted i
      cross join (values ('hour'), ('day')) as g(granularity)
      cross join lateral (values
        ('total', ''),
        ('country', coalesce(i.country, 'unknown')),
        ('device', coalesce(i.device, 'unknown')),
        ('browser', coalesce(i.browser, 'unknown')),
        ('os', coalesce(i.os, 'unknown')),
        ('referrer', coalesce(i.referrer_host, 'direct'))
      ) as d(dimension, value)
      where i.traffic = 'human' or d.dimension = 'total'
    ),
    rolled as (
      insert into rollups (link_id, granularity, bucket_start, traffic, dimension, value, clicks)
      select link_id, granularity, bucket_start, traffic, dimension, value, count(*)
      from facts
      group by link_id, granularity, bucket_start, traffic, dimension, value
      order by link_id, granularity, dimension, bucket_start, traffic, value
      on conflict (link_id, granularity, bucket_start, traffic, dimension, value)
      do update set clicks = rollups.clicks + excluded.clicks
      returning 1
    )
    select event_id, (select count(*) from rolled) as rolled
    from inserted
  `);
  // Only the ids come back: the rest of each stored click is the batch's own first event of that id
  // (the one `distinct on … order by event_id, at` stored), so no row of timestamps is parsed twice.
  // Postgres answers a uuid in lower case; a producer may have written it in upper.
  const first = new Map<string, ClickEvent>();
  for (const event of events) {
    const id = event.eventId.toLowerCase();
    if (!first.has(id)) first.set(id, event);
  }
  return rowsOf(result).map((row) => {
    const eventId = String(row.event_id);
    const event = first.get(eventId)!;
    return {
      eventId,
      linkId: event.linkId.toLowerCase(),
      traffic: event.traffic,
      occurredAt: new Date(event.occurredAt),
      visitorHash: event.visitorHash,
    };
  });
}
