import type { Context } from "hono";

/**
 * The runtime's way to keep work alive after the response: workerd's `waitUntil`; undefined on
 * Node, where the process outlives the request anyway and started work simply runs on.
 */
export function waitUntilOf(c: Context): ((work: Promise<unknown>) => void) | undefined {
  try {
    const ctx = c.executionCtx;
    return (work) => ctx.waitUntil(work);
  } catch {
    return undefined;
  }
}

/**
 * Runs `work` after the response without delaying it. Failures are reported through `onError`,
 * never to the client.
 */
export function afterResponse(c: Context, work: Promise<unknown>, onError: (error: unknown) => void): void {
  waitUntilOf(c)?.(work.catch(onError));
}
