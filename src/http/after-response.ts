import type { Context } from "hono";

/**
 * The runtime's way to keep work alive after the response: workerd's `waitUntil`; undefined on
 * Node, where the process outlives the request anyway and started work simply runs on.
 */
export function waitUntilOf(c: Context): ((work: Promise<unknown>) => void) | undefined {
  // Hono's getter throws when there is no execution context, which is every request on Node. The
  // Error's stack trace is most of that cost (several µs on a redirect's async stack) and nobody
  // reads it: capture none while asking.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
}

/**
 * Runs `work` after the response without delaying it. Failures are reported through `onError`,
 * never to the client.
 */
export function afterResponse(c: Context, work: Promise<unknown>, onError: (error: unknown) => void): void {
  // Caught before asking for waitUntil: `waitUntilOf(c)?.(work.catch(…))` would skip the catch on
  // Node, where there is no waitUntil, and a failure would become an unhandled rejection.
  const settled = work.catch(onError);
  waitUntilOf(c)?.(settled);
}
