import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { ingestClicks } from "../../src/analytics/click-ingest";
import { displayPrefix, generateApiKey, hashApiKey } from "../../src/auth/api-key-format";
import { createNeonHttpDatabase } from "../../src/platform/db/neon-http-database";
import { edgeServices, fetchWorker, standinSql, withoutServices } from "./worker-client";

interface Result {
  line: number;
  status: string;
  id?: string;
  error?: { code: string };
}

/**
 * The streaming routes inside workerd on neon-http (no interactive transactions, no cursors): the
 * bulk import reads a streamed body and streams its results, stats come from rollups, the export
 * pages with its keyset — all on Web APIs only.
 */
describe.skipIf(withoutServices)("bulk import, stats and export through the Worker entry", () => {
  const run = randomUUID().slice(0, 8);
  let key: string;
  let workspaceId: string;
  const api = (path: string, init: RequestInit = {}) =>
    fetchWorker(`/api/v1${path}`, { ...init, headers: { Authorization: `Bearer ${key}`, ...init.headers } });

  beforeAll(async () => {
    const sql = standinSql();
    key = generateApiKey();
    const [workspace] =
      await sql`insert into workspaces (name) values (${`workers transfer ${run}`}) returning id`;
    workspaceId = workspace!.id;
    await sql`insert into api_keys (workspace_id, name, prefix, secret_hash, scopes)
              values (${workspaceId}, 'workers', ${displayPrefix(key)}, ${await hashApiKey(key)},
                      ${["links:read", "links:write", "analytics:read"]})`;
  });

  let linkId: string;

  it("imports a streamed NDJSON body and streams a result line per input line", async () => {
    const encoder = new TextEncoder();
    const lines = [
      JSON.stringify({ url: "https://example.com/w1", slug: `w1-${run}` }),
      "{broken",
      JSON.stringify({ url: "https://example.com/w3", slug: `w1-${run}` }),
      JSON.stringify({ url: "https://example.com/w4" }),
    ];
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const line of lines) controller.enqueue(encoder.encode(`${line}\n`));
        controller.close();
      },
    });
    const res = await api("/links/bulk", {
      method: "POST",
      headers: { "Content-Type": "application/x-ndjson" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(200);
    const results = new TextDecoder()
      .decode(await res.arrayBuffer())
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as Result);
    expect(results.map((r) => [r.line, r.status, r.error?.code])).toEqual([
      [1, "created", undefined],
      [2, "error", "VALIDATION_FAILED"],
      [3, "error", "SLUG_TAKEN"],
      [4, "created", undefined],
    ]);
    linkId = results[0]!.id!;
    expect((await fetchWorker(`/w1-${run}`)).headers.get("location")).toBe("https://example.com/w1");
  });

  it("answers stats from rollups and exports the raw clicks as CSV", async () => {
    const db = createNeonHttpDatabase({
      url: edgeServices!.DATABASE_URL,
      fetchEndpoint: edgeServices!.NEON_FETCH_ENDPOINT,
    });
    const at = Date.UTC(2026, 10, 20, 10);
    await ingestClicks(
      db.primary,
      Array.from({ length: 5 }, (_, i) => ({
        eventId: randomUUID(),
        linkId,
        workspaceId,
        occurredAt: at + i * 1_000,
        traffic: i === 4 ? ("bot" as const) : ("human" as const),
        reason: i === 4 ? "googlebot" : "browser",
        country: "DE",
        device: "mobile",
        browser: "Safari",
        os: "iOS",
        referrerHost: null,
        visitorHash: `v${i}`,
      })),
    );
    const stats = await (
      await api(`/links/${linkId}/stats?from=2026-11-20&to=2026-11-21&groupBy=country`)
    ).json();
    expect(stats).toMatchObject({
      clicks: 4,
      bots: 1,
      breakdowns: { country: { top: [{ value: "DE", clicks: 4 }] } },
    });

    const csv = await api("/clicks/export?from=2026-11-20&to=2026-11-21&format=csv");
    expect(csv.headers.get("content-disposition")).toContain(
      "clicks-2026-11-20T000000Z-2026-11-21T000000Z.csv",
    );
    const rows = (await csv.text()).trimEnd().split("\r\n");
    expect(rows).toHaveLength(6);
    expect(rows[0]).toBe("eventId,linkId,occurredAt,traffic,reason,country,device,browser,os,referrerHost");
  });
});
