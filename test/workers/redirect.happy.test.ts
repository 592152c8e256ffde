import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { fetchWorker, standinSql, withoutServices } from "./worker-client";

describe.skipIf(withoutServices)("redirects from links in Postgres (through the Neon stand-in)", () => {
  const run = randomUUID().slice(0, 8);
  const plain = `launch-${run}`;
  const permanent = `docs-${run}`;

  beforeAll(async () => {
    const sql = standinSql();
    const [workspace] = await sql`insert into workspaces (name) values (${`workers ${run}`}) returning id`;
    await sql`insert into links (workspace_id, domain, slug, url)
              values (${workspace!.id}, 'edgelink.test', ${plain}, 'https://example.com/launch?utm=edge')`;
    await sql`insert into links (workspace_id, domain, slug, url, redirect_status, cache_control)
              values (${workspace!.id}, 'edgelink.test', ${permanent}, 'https://example.com/docs', 301, 'public, max-age=300')`;
  });

  it("answers 302 to the link's URL with its Cache-Control by default", async () => {
    const response = await fetchWorker(`/${plain}`);

    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("https://example.com/launch?utm=edge");
    expect(response.headers.get("cache-control")).toBe("private, max-age=0");
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  it("answers with the link's own redirect status and Cache-Control", async () => {
    const response = await fetchWorker(`/${permanent}`);

    expect(response.status).toBe(301);
    expect(response.headers.get("location")).toBe("https://example.com/docs");
    expect(response.headers.get("cache-control")).toBe("public, max-age=300");
  });

  it("fills Upstash from the isolate that read Postgres, so a fresh isolate redirects with Postgres unreachable", async () => {
    const slug = `filled-${run}`;
    const sql = standinSql();
    await sql`insert into links (workspace_id, domain, slug, url)
              select workspace_id, domain, ${slug}, 'https://example.com/filled' from links where slug = ${plain}`;
    // Each call with bindings builds fresh services (an empty local tier) and awaits its waitUntil work.
    expect((await fetchWorker(`/${slug}`, {}, {})).status).toBe(302);
    const response = await fetchWorker(`/${slug}`, {}, { NEON_FETCH_ENDPOINT: "http://127.0.0.1:1/sql" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("https://example.com/filled");
  });

  it("treats slugs as case-sensitive", async () => {
    const response = await fetchWorker(`/${plain.toUpperCase()}`);

    expect(response.status).toBe(404);
  });
});
