import { nextTick } from "node:process";

let warmed: Promise<void> | undefined;

/**
 * Runs `process.nextTick` hot until V8 has optimized it; call before PGlite opens a database.
 *
 * Node schedules several ticks per HTTP request. When PGlite links an extension's WASM side module
 * (pg_trgm, which the migrations need) while nextTick is still cold, V8 builds every later tick's
 * task object on its runtime slow path: ~4x the cost of a tick for the rest of the process, 3-8 µs
 * of CPU on every request the embedded server answers. Optimized first, it stays on the fast
 * path (bench/README, "The embedded process's nextTick"). Once per process, ~10 ms.
 */
export function warmNextTick(): Promise<void> {
  warmed ??= (async () => {
    const noop = () => {};
    for (let round = 0; round < 5_000; round += 1) {
      await new Promise<void>((resolve) => {
        nextTick(noop);
        nextTick(resolve);
      });
    }
  })();
  return warmed;
}
