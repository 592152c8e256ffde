import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { fetchWorker, leakPattern, problemOf, standinSql, withoutServices } from "./worker-client";

describe.skipIf(withoutServices)("redirect errors (links in Postgres through the Neon stand-in)", () => {
  const run = randomUUID().slice(0, 8);
  const expired = `expired-${run}`;
  const otherDomain = `elsewhere-${run}`;

  beforeAll(async () => {
    const sql = standinSql();
    const [workspace] = await sql`insert into workspaces (name) values (${`workers ${run}`}) returning id`;
    await sql`insert into links (workspace_id, domain, slug, url, expires_at)
              values (${workspace!.id}, 'edgelink.test', ${expired}, 'https://example.com/old', now() - interval '1 minute')`;
    await sql`insert into links (workspace_id, domain, slug, url)
              values (${workspace!.id}, 'other.example', ${otherDomain}, 'https://example.com/other')`;
  });

  it("answers an unknown slug with a 404 problem", async () => {
    const response = await fetchWorker(`/nothing-${run}`);
    const { body, text } = await problemOf(response);

    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(body).toMatchObject({
      code: "NOT_FOUND",
      detail: `No link /nothing-${run}.`,
      instance: `/nothing-${run}`,
    });
    expect(body.requestId).toBe(response.headers.get("x-request-id"));
    expect(response.headers.get("location")).toBeNull();
    expect(text).not.toMatch(leakPattern);
  });

  it("answers 410 for an expired link without an expiry URL", async () => {
    const response = await fetchWorker(`/${expired}`);
    const { body } = await problemOf(response);

    expect(response.status).toBe(410);
    expect(body.code).toBe("GONE");
  });

  it("does not resolve a link that belongs to another domain", async () => {
    const response = await fetchWorker(`/${otherDomain}`);

    expect(response.status).toBe(404);
  });
});
