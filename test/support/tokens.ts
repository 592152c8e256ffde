import type { TestApp } from "./app";

/** A JWT_SECRET for test apps (32+ characters); any two apps given it accept each other's tokens. */
export const testJwtSecret = "edgelink-test-jwt-secret-0123456789abcdef";

/** `POST /api/v1/auth/token` as `credential`, with `body` as JSON when given. */
export async function exchange(
  t: TestApp,
  credential: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await t.app.request("/api/v1/auth/token", {
    method: "POST",
    headers: {
      Authorization: `Bearer ${credential}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) }),
  });
}

/** A token for `key` that must be granted; answers the token itself. */
export async function tokenFor(t: TestApp, key: string, body?: unknown): Promise<string> {
  const res = await exchange(t, key, body);
  if (res.status !== 200) throw new Error(`token exchange answered ${res.status}: ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}
