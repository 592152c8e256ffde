import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { neon, neonConfig } from "@neondatabase/serverless";
import { inject } from "vitest";
import worker from "../../src/entry/worker";

/** The stand-ins' bindings when the run has Postgres and Redis, else undefined. */
export const edgeServices = inject("edgeServices");

/** For `describe.skipIf`: suites that need the real services skip on runs without them. */
export const withoutServices = edgeServices === undefined;

/** Every request addresses the first short domain, so links seeded for it resolve. */
export const origin = "http://edgelink.test";

/**
 * A request through the Worker's default export, with the project's bindings. `bindings` replaces
 * some of them for this request only: the entry rebuilds its services whenever the env object
 * differs, which is how a broken or missing dependency is simulated without a second Worker.
 */
export async function fetchWorker(
  path: string,
  init: RequestInit = {},
  bindings?: Record<string, string | undefined>,
): Promise<Response> {
  const request = new Request(`${origin}${path}`, { redirect: "manual", ...init });
  if (!bindings) return exports.default.fetch(request);
  const ctx = createExecutionContext();
  const response = await worker.fetch(request as never, { ...env, ...bindings }, ctx);
  await waitOnExecutionContext(ctx);
  return response as unknown as Response;
}

/** RFC 9457 body of an error response. */
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

/** Reads a problem+json response, asserting nothing; pair with `expectProblem` or your own checks. */
export async function problemOf(response: Response): Promise<{ body: Problem; text: string }> {
  const text = await response.text();
  return { body: JSON.parse(text) as Problem, text };
}

/** What must never reach a client: stack frames, source paths, SQL, driver or connection details. */
export const leakPattern =
  /\bat \S+ \(|\.[jt]s:\d+|node_modules|\bselect\b|\binsert\b|\bfrom "?links"?|ECONNREFUSED|neon-standin|127\.0\.0\.1|postgres(ql)?:\/\//i;

/**
 * SQL against the throw-away database through the Neon stand-in — the path the Worker itself takes.
 * The driver's endpoint is process-wide; the Worker sets the same value when it builds its services.
 */
export function standinSql() {
  if (!edgeServices) throw new Error("standinSql() needs the services (DATABASE_URL and REDIS_URL)");
  const endpoint = edgeServices.NEON_FETCH_ENDPOINT;
  neonConfig.fetchEndpoint = () => endpoint;
  return neon(edgeServices.DATABASE_URL);
}
