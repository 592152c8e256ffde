import { execFileSync } from "node:child_process";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { keepTickShape } from "../../src/platform/node/tick-shape";
import { nodeBinary } from "../support/node-process";

const probe = resolve("test/fixtures/tick-shape-probe.ts");

function runProbe(mode: "keep" | "none"): {
  kept: boolean;
  keptClassReused: boolean | null;
  earlierTickCollected: boolean;
} {
  const out = execFileSync(
    nodeBinary,
    ["--expose-gc", "--allow-natives-syntax", "--import", "tsx", probe, mode],
    {
      encoding: "utf8",
      timeout: 30_000,
    },
  );
  return JSON.parse(out);
}

describe("keepTickShape", () => {
  it("holds one of this Node's nextTick task objects, and the same one on every call", () => {
    const kept = keepTickShape();
    expect(kept).toBeDefined();
    // Node's task: the callback, its arguments, and its async ids under symbol keys.
    expect(Object.keys(kept!)).toEqual(["callback", "args"]);
    expect(Object.getOwnPropertySymbols(kept!).length).toBeGreaterThanOrEqual(2);
    expect(keepTickShape()).toBe(kept);
  });

  it("keeps the class that ticks made after full GCs get (V8's own map check, in a process of its own)", () => {
    const kept = runProbe("keep");
    expect(kept).toEqual({ kept: true, keptClassReused: true, earlierTickCollected: true });
  }, 40_000);
});
