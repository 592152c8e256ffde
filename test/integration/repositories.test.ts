import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLinkRepository, type LinkRepository } from "../../src/links/link-repository";
import type { Database } from "../../src/platform/db/database";
import {
  createWorkspaceRepository,
  type WorkspaceRepository,
} from "../../src/workspaces/workspace-repository";
import { driversUnderTest } from "../support/databases";

const slug = () => `s${randomUUID().slice(0, 12)}`;

for (const driver of driversUnderTest()) {
  describe.skipIf(driver.skip)(
    `repositories on ${driver.name}${driver.skip ? ` (skipped: ${driver.skip})` : ""}`,
    () => {
      let db: Database & { teardown?: () => Promise<void> };
      let links: LinkRepository;
      let workspaces: WorkspaceRepository;
      let workspaceId: string;
      let otherWorkspaceId: string;

      beforeAll(async () => {
        db = await driver.open();
        links = createLinkRepository(db);
        workspaces = createWorkspaceRepository(db);
        workspaceId = (await workspaces.create({ name: "acme" })).id;
        otherWorkspaceId = (await workspaces.create({ name: "globex" })).id;
      });
      afterAll(async () => {
        await db?.close();
        await db?.teardown?.();
      });

      it("reports its driver and answers a ping", async () => {
        expect(db.driver).toBe(driver.name);
        await expect(db.ping()).resolves.toBeUndefined();
      });

      it("creates a link with defaults and finds it by slug and by id", async () => {
        const s = slug();
        const created = await links.create({
          workspaceId,
          domain: "ex.test",
          slug: s,
          url: "https://example.com/a?b=1",
        });
        expect(created).toMatchObject({
          slug: s,
          redirectStatus: 302,
          cacheControl: "private, max-age=0",
          tags: [],
          clickCount: 0,
        });
        expect(created?.createdAt).toBeInstanceOf(Date);
        expect(await links.findBySlug("ex.test", s)).toEqual(created);
        expect(await links.findById(workspaceId, created!.id)).toEqual(created);
      });

      it("round-trips arrays, json, timestamps and nulls", async () => {
        const expiresAt = new Date("2030-01-02T03:04:05.678Z");
        const created = await links.create({
          workspaceId,
          domain: "ex.test",
          slug: slug(),
          url: 'https://example.com/ü?q="quoted"',
          title: "Ünïcode 'quotes' \"and\" emoji ✓",
          tags: ["launch", "q4,2026", 'with "quote"'],
          expiresAt,
          maxClicks: 5,
          redirectStatus: 308,
          utm: { utm_source: "newsletter", utm_medium: "email" },
          rules: [{ device: ["mobile"], url: "https://m.example.com" }],
        });
        const found = await links.findById(workspaceId, created!.id);
        expect(found).toMatchObject({
          title: "Ünïcode 'quotes' \"and\" emoji ✓",
          tags: ["launch", "q4,2026", 'with "quote"'],
          expiresAt,
          maxClicks: 5,
          redirectStatus: 308,
          utm: { utm_source: "newsletter", utm_medium: "email" },
          rules: [{ device: ["mobile"], url: "https://m.example.com" }],
          passwordHash: null,
          expiredUrl: null,
        });
      });

      it("refuses a taken (domain, slug) and allows the same slug on another domain", async () => {
        const s = slug();
        expect(
          await links.create({ workspaceId, domain: "ex.test", slug: s, url: "https://a.example" }),
        ).not.toBeNull();
        expect(
          await links.create({
            workspaceId: otherWorkspaceId,
            domain: "ex.test",
            slug: s,
            url: "https://b.example",
          }),
        ).toBeNull();
        expect(
          await links.create({ workspaceId, domain: "other.test", slug: s, url: "https://c.example" }),
        ).not.toBeNull();
      });

      it("slugs are case-sensitive", async () => {
        const s = slug();
        await links.create({
          workspaceId,
          domain: "ex.test",
          slug: s.toLowerCase(),
          url: "https://lower.example",
        });
        await links.create({
          workspaceId,
          domain: "ex.test",
          slug: s.toUpperCase(),
          url: "https://upper.example",
        });
        expect((await links.findBySlug("ex.test", s.toUpperCase()))?.url).toBe("https://upper.example");
        expect((await links.findBySlug("ex.test", s.toLowerCase()))?.url).toBe("https://lower.example");
      });

      it("never reads, changes or deletes another workspace's link", async () => {
        const created = await links.create({
          workspaceId,
          domain: "ex.test",
          slug: slug(),
          url: "https://mine.example",
        });
        expect(await links.findById(otherWorkspaceId, created!.id)).toBeNull();
        expect(await links.update(otherWorkspaceId, created!.id, { url: "https://evil.example" })).toBeNull();
        expect(await links.delete(otherWorkspaceId, created!.id)).toBeNull();
        expect((await links.findById(workspaceId, created!.id))?.url).toBe("https://mine.example");
      });

      it("updates and deletes within the workspace", async () => {
        const created = await links.create({
          workspaceId,
          domain: "ex.test",
          slug: slug(),
          url: "https://old.example",
        });
        const updated = await links.update(workspaceId, created!.id, {
          url: "https://new.example",
          tags: ["x"],
        });
        expect(updated).toMatchObject({ url: "https://new.example", tags: ["x"] });
        expect(updated!.updatedAt.getTime()).toBeGreaterThanOrEqual(created!.updatedAt.getTime());
        expect((await links.delete(workspaceId, created!.id))?.id).toBe(created!.id);
        expect(await links.findById(workspaceId, created!.id)).toBeNull();
      });

      it("pages newest first with a keyset cursor, without gaps or repeats, filtered by tag", async () => {
        const ws = (await workspaces.create({ name: "paging" })).id;
        const made = await links.createMany(
          Array.from({ length: 7 }, (_, i) => ({
            workspaceId: ws,
            domain: "ex.test",
            slug: slug(),
            url: `https://example.com/${i}`,
            tags: i % 2 === 0 ? ["even"] : ["odd"],
          })),
        );
        expect(made).toHaveLength(7);
        const seen: string[] = [];
        let cursor: Parameters<LinkRepository["list"]>[1]["cursor"];
        do {
          const page = await links.list(ws, { limit: 3, cursor });
          seen.push(...page.rows.map((row) => row.id));
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
        expect(seen).toHaveLength(7);
        expect(new Set(seen).size).toBe(7);
        const all = await links.list(ws, { limit: 100 });
        const order = all.rows.map((row) => [row.createdAt.getTime(), row.id] as const);
        const sorted = [...order].sort((a, b) => b[0] - a[0] || (a[1] < b[1] ? 1 : -1));
        expect(order).toEqual(sorted);
        expect(seen).toEqual(all.rows.map((row) => row.id));
        const even = await links.list(ws, { limit: 100, tag: "even" });
        expect(even.rows).toHaveLength(4);
        expect(even.nextCursor).toBeNull();
      });

      it("creates many all-or-nothing: one conflict rolls the whole batch back", async () => {
        const taken = slug();
        await links.create({ workspaceId, domain: "ex.test", slug: taken, url: "https://taken.example" });
        const fresh = slug();
        await expect(
          links.createMany([
            { workspaceId, domain: "ex.test", slug: fresh, url: "https://fresh.example" },
            { workspaceId, domain: "ex.test", slug: taken, url: "https://dup.example" },
          ]),
        ).rejects.toThrow();
        expect(await links.findBySlug("ex.test", fresh)).toBeNull();
      });
    },
  );
}
