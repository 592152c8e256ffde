import { randomUUID } from "node:crypto";
import { expect } from "vitest";
import { scopes as allScopes, type Scope } from "../../src/auth/scopes";
import type { TestApp } from "./app";

/**
 * Limits high enough that suites which are not about rate limiting never meet one — with REDIS_URL
 * every app of a run shares the counters, and `app.request` has no socket, so all redirects of a run
 * share the one "unknown client" bucket.
 */
export const roomyLimits = {
  RATE_LIMIT_REDIRECT: "100000/60s",
  RATE_LIMIT_API_READ: "100000/60s",
  RATE_LIMIT_API_WRITE: "100000/60s",
  RATE_LIMIT_PASSWORD: "100000/60s",
} as const;

/** A workspace and one API key of it. */
export interface Tenant {
  workspaceId: string;
  key: string;
  keyId: string;
}

/** Creates a workspace and a key with `scopes` (all of them by default), through the services. */
export async function tenant(
  t: TestApp,
  name: string,
  scopes: readonly Scope[] = allScopes,
): Promise<Tenant> {
  const workspaceId = (await t.services.workspaces.create({ name })).id;
  return { workspaceId, ...(await keyFor(t, workspaceId, scopes)) };
}

/** Another key of an existing workspace. */
export async function keyFor(
  t: TestApp,
  workspaceId: string,
  scopes: readonly Scope[],
): Promise<{ key: string; keyId: string }> {
  const { key, record } = await t.services.apiKeys.create(workspaceId, { name: "test", scopes: [...scopes] });
  return { key, keyId: record.id };
}

/** A short custom slug unique to this run. */
export const uniqueSlug = (prefix = "s") => `${prefix}${randomUUID().replaceAll("-", "").slice(0, 12)}`;

/**
 * A client of the API as one key: JSON bodies (a string body is sent as is), `Authorization` set.
 *
 * @example
 * const api = apiAs(t, acme.key);
 * const res = await api.post("/links", { url: "https://example.com" });
 */
export function apiAs(t: TestApp, key: string | undefined) {
  const send = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> =>
    t.app.request(`/api/v1${path}`, {
      method,
      headers: {
        ...(key === undefined ? {} : { Authorization: `Bearer ${key}` }),
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
    });
  return {
    send,
    get: (path: string, headers?: Record<string, string>) => send("GET", path, undefined, headers),
    post: (path: string, body: unknown, headers?: Record<string, string>) =>
      send("POST", path, body, headers),
    patch: (path: string, body: unknown, headers?: Record<string, string>) =>
      send("PATCH", path, body, headers),
    delete: (path: string) => send("DELETE", path),
    /** POST /links that must succeed; answers the created link. */
    async create(body: Record<string, unknown>): Promise<ApiLink> {
      const res = await send("POST", "/links", body);
      if (res.status !== 201) throw new Error(`create answered ${res.status}: ${await res.text()}`);
      return (await res.json()) as ApiLink;
    },
  };
}

export type Api = ReturnType<typeof apiAs>;

/** A link as the API shows it. */
export interface ApiLink {
  id: string;
  shortUrl: string;
  domain: string;
  slug: string;
  url: string;
  title: string | null;
  tags: string[];
  expiresAt: string | null;
  expiredUrl: string | null;
  maxClicks: number | null;
  clickCount: number;
  redirectStatus: number;
  cacheControl: string;
  passwordProtected: boolean;
  utm: Record<string, string> | null;
  rules: unknown[] | null;
  createdAt: string;
  updatedAt: string;
}

/** RFC 9457 body of an error answer. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  requestId?: string;
  instance?: string;
  errors?: { field: string; message: string }[];
}

/**
 * Asserts `res` is a problem+json with `status` whose `errors` name `field` (when given), and
 * answers the body.
 */
export async function expectProblem(res: Response, status: number, field?: string): Promise<Problem> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const body = JSON.parse(text) as Problem;
  expect(body.status).toBe(status);
  expect(body.requestId).toBe(res.headers.get("x-request-id"));
  if (field !== undefined) {
    expect(body.errors?.map((e) => e.field) ?? [], text).toContain(field);
    expect(body.detail).toContain(field);
  }
  return body;
}
