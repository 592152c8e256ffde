import { describe, expect, it } from "vitest";
import { workerExecArgv } from "../../src/entry/node-cluster";

describe("workerExecArgv: the young-generation cap the cluster workers start with", () => {
  it("adds --max-semi-space-size after the primary's own flags", () => {
    expect(workerExecArgv(["--enable-source-maps"], undefined, 16)).toEqual([
      "--enable-source-maps",
      "--max-semi-space-size=16",
    ]);
  });

  it("leaves V8's own sizing when the setting is 0", () => {
    expect(workerExecArgv(["--enable-source-maps"], "", 0)).toEqual(["--enable-source-maps"]);
  });

  it("never overrides an operator's choice, on the command line or in NODE_OPTIONS", () => {
    expect(workerExecArgv(["--max-semi-space-size=64"], undefined, 16)).toEqual(["--max-semi-space-size=64"]);
    expect(workerExecArgv(["--max_semi_space_size", "32"], undefined, 16)).toEqual([
      "--max_semi_space_size",
      "32",
    ]);
    expect(workerExecArgv([], "--enable-source-maps --max-semi-space-size=8", 16)).toEqual([]);
  });
});
