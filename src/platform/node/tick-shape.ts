import { createHook } from "node:async_hooks";
import { nextTick } from "node:process";

let kept: object | undefined;

/**
 * Keeps one of `process.nextTick`'s task objects alive for the rest of the process, so that the
 * hidden class all of them share is never collected. Call once, at start; idempotent.
 *
 * Node builds each tick's task as an object literal with computed (symbol) keys, whose hidden class
 * V8 holds only weakly. A task lives for one turn, so a full GC while none is queued — the memory
 * reducer's, in an idle spell, or PGlite's while it initialises a fresh data directory — collects
 * that class; every later tick then defines its properties on V8's runtime slow path, several
 * times the cost of a tick, and optimized code never returns to the fast one. Node's HTTP server
 * runs several ticks per request: measured, 3–6 µs of CPU per redirect, for good, after the first
 * idle minutes (bench/README, "nextTick after an idle spell"). One task object that stays alive
 * keeps the class, and ticks stay on the fast path. It is taken from the one tick made while an
 * async hook is enabled, and the hook is disabled again at once.
 *
 * @returns the task object held, or undefined if Node no longer reports its ticks as `TickObject`.
 */
export function keepTickShape(): object | undefined {
  if (kept) return kept;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === "TickObject") kept ??= resource;
    },
  });
  hook.enable();
  nextTick(() => {});
  hook.disable();
  return kept;
}
