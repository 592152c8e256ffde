import { randomUUID } from "node:crypto";
import { type SQL, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClickEvent } from "../../src/analytics/click-event";
import { ingestClicks } from "../../src/analytics/click-ingest";
import { createLinkRepository } from "../../src/links/link-repository";
import type { Database } from "../../src/platform/db/database";
import { createWorkspaceRepository } from "../../src/workspaces/workspace-repository";
import { driversUnderTest } from "../support/databases";

/** A small seeded generator, so a failing property run can be replayed. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const rows = (result: unknown) => {
  const answer = result as { rows?: Record<string, unknown>[] } | Record<string, unknown>[];
  return Array.isArray(answer) ? answer : (answer.rows ?? []);
};

for (const driver of driversUnderTest()) {
  describe.skipIf(driver.skip)(
    `click ingest on ${driver.name}${driver.skip ? ` (skipped: ${driver.skip})` : ""}`,
    () => {
      let db: Database & { teardown?: () => Promise<void> };
      let workspaceId: string;
      const linkIds: string[] = [];

      beforeAll(async () => {
        db = await driver.open();
        workspaceId = (await createWorkspaceRepository(db).create({ name: "analytics" })).id;
        const links = createLinkRepository(db);
        for (let i = 0; i < 4; i += 1) {
          const link = await links.create({
            workspaceId,
            domain: "ex.test",
            slug: `c${randomUUID().slice(0, 10)}`,
            url: "https://example.com",
          });
          linkIds.push(link!.id);
        }
      });
      afterAll(async () => {
        await db?.close();
        await db?.teardown?.();
      });

      const event = (over: Partial<ClickEvent> = {}): ClickEvent => ({
        eventId: randomUUID(),
        linkId: linkIds[0]!,
        workspaceId,
        occurredAt: Date.UTC(2026, 10, 27, 13, 30),
        traffic: "human",
        reason: "browser",
        country: "DE",
        device: "mobile",
        browser: "Safari",
        os: "iOS",
        referrerHost: "news.example",
        visitorHash: "abc",
        ...over,
      });

      it("stores each event once, however often it is delivered, and rolls up only what it stored", async () => {
        const batch = [event(), event({ traffic: "bot", reason: "googlebot" }), event({ traffic: "head" })];
        const first = await ingestClicks(db.primary, batch);
        expect(first.map((c) => c.eventId).sort()).toEqual([batch[0]!.eventId, batch[1]!.eventId].sort());
        // Redelivery, and a batch that repeats an event inside itself.
        expect(await ingestClicks(db.primary, batch)).toEqual([]);
        expect(await ingestClicks(db.primary, [batch[0]!, batch[0]!])).toEqual([]);
        const total = rows(
          await db.primary.execute(
            sql`select traffic, clicks from rollups where link_id = ${linkIds[0]} and granularity = 'day' and dimension = 'total' order by traffic`,
          ),
        );
        expect(total.map((r) => [r.traffic, Number(r.clicks)])).toEqual([
          ["bot", 1],
          ["human", 1],
        ]);
        // The human click in every dimension, hour and day; the bot only in the totals stats read.
        const facts = rows(
          await db.primary.execute(
            sql`select traffic, count(*)::int as n from rollups where link_id = ${linkIds[0]} group by 1 order by 1`,
          ),
        );
        expect(facts.map((r) => [r.traffic, r.n])).toEqual([
          ["bot", 2],
          ["human", 12],
        ]);
      });

      it("answers the clicks as stored: ids in Postgres' form, and the first event of an id a batch repeats", async () => {
        const id = randomUUID();
        const shouted = event({ eventId: id.toUpperCase(), linkId: linkIds[3]!.toUpperCase() });
        const echo = event({ eventId: id, linkId: linkIds[3]!, traffic: "bot", reason: "googlebot" });
        const answered = await ingestClicks(db.primary, [shouted, echo]);
        expect(answered).toEqual([
          {
            eventId: id,
            linkId: linkIds[3],
            traffic: "human",
            occurredAt: new Date(shouted.occurredAt),
            visitorHash: shouted.visitorHash,
          },
        ]);
        const stored = rows(await db.primary.execute(sql`select traffic from clicks where event_id = ${id}`));
        expect(stored).toEqual([{ traffic: "human" }]);
      });

      it("rollups equal a GROUP BY over the raw clicks, for random batches (property)", async () => {
        const next = random(driver.name.length * 7919);
        const pick = <T>(values: readonly T[]) => values[Math.floor(next() * values.length)]!;
        const sent: ClickEvent[] = [];
        for (let round = 0; round < 6; round += 1) {
          const batch = Array.from({ length: 40 + Math.floor(next() * 60) }, () =>
            event({
              linkId: pick(linkIds.slice(1, 3)),
              occurredAt: Date.UTC(
                2026,
                10,
                20 + Math.floor(next() * 3),
                Math.floor(next() * 24),
                Math.floor(next() * 60),
              ),
              traffic: pick(["human", "human", "bot", "preview"] as const),
              country: pick(["DE", "US", null] as const),
              device: pick(["mobile", "desktop", null] as const),
              browser: pick(["Safari", "Chrome", null] as const),
              os: pick(["iOS", "Windows", null] as const),
              referrerHost: pick(["a.example", null] as const),
            }),
          );
          // Redeliver a random part of what was already sent.
          const redelivered = sent.filter(() => next() < 0.2);
          await ingestClicks(db.primary, [...batch, ...redelivered]);
          sent.push(...batch);
        }
        const targets = linkIds.slice(1, 3);
        const column = {
          country: "country",
          device: "device",
          browser: "browser",
          os: "os",
          referrer: "referrer_host",
        } as const;
        const breakdowns: [string, SQL, SQL][] = [
          // The totals of every traffic class; the breakdowns of human clicks, the only ones stats read.
          ["total", sql`''`, sql`true`],
          ...Object.entries(column).map(([dimension, name]): [string, SQL, SQL] => [
            dimension,
            sql`coalesce(${sql.identifier(name)}, ${dimension === "referrer" ? "direct" : "unknown"})`,
            sql`traffic = 'human'`,
          ]),
        ];
        for (const granularity of ["hour", "day"] as const) {
          for (const [dimension, value, counted] of breakdowns) {
            const expected = rows(
              await db.primary.execute(sql`
              select link_id::text, date_trunc(${granularity}, occurred_at at time zone 'UTC') at time zone 'UTC' as bucket,
                     traffic, ${value} as value, count(*)::int as clicks
              from clicks where ${counted} and link_id in (${sql.join(
                targets.map((id) => sql`${id}::uuid`),
                sql`, `,
              )})
              group by 1, 2, 3, 4 order by 1, 2, 3, 4`),
            );
            const actual = rows(
              await db.primary.execute(sql`
              select link_id::text, bucket_start as bucket, traffic, value, clicks::int as clicks
              from rollups where granularity = ${granularity} and dimension = ${dimension}
                and link_id in (${sql.join(
                  targets.map((id) => sql`${id}::uuid`),
                  sql`, `,
                )})
              order by 1, 2, 3, 4`),
            );
            const norm = (list: Record<string, unknown>[]) =>
              list.map(
                (r) =>
                  `${r.link_id}|${new Date(r.bucket as string).toISOString()}|${r.traffic}|${r.value}|${r.clicks}`,
              );
            expect(norm(actual), `${granularity}/${dimension}`).toEqual(norm(expected));
          }
        }
        const counted = rows(
          await db.primary.execute(
            sql`select count(*)::int as n from clicks where link_id in (${sql.join(
              targets.map((id) => sql`${id}::uuid`),
              sql`, `,
            )})`,
          ),
        );
        expect(Number(counted[0]!.n)).toBe(sent.length);
      });
    },
  );
}
