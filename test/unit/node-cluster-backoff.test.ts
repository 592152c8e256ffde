import { describe, expect, it } from "vitest";
import { restartDelayMs } from "../../src/entry/node-cluster";

describe("restartDelayMs: how long a dead worker waits for its replacement", () => {
  it("replaces a worker that had been stable at once", () => {
    expect(restartDelayMs(0)).toBe(0);
  });

  it("doubles from 100 ms with every worker in a row that dies young", () => {
    expect([1, 2, 3, 4, 5].map(restartDelayMs)).toEqual([100, 200, 400, 800, 1600]);
  });

  it("never waits more than 30 s, however long the crash loop", () => {
    expect(restartDelayMs(9)).toBe(25_600);
    expect(restartDelayMs(10)).toBe(30_000);
    for (const deaths of [11, 50, 2_000]) expect(restartDelayMs(deaths)).toBe(30_000);
  });
});
