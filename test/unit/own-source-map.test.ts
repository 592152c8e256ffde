import { SourceMap, type SourceMapPayload } from "node:module";
import { decode, encode, type SourceMapSegment } from "@jridgewell/sourcemap-codec";
import { describe, expect, it } from "vitest";
import { ownSourceMap, type SourceMapV3 } from "../../dev/own-source-map";

const own = "../../src/links/redirect.ts";
const dependency = "../../node_modules/hono/dist/hono-base.js";

// Generated lines (0-based) as a bundle lays them out: edgelink's code and a dependency's
// interleaved on one line, then whole lines of the dependency, then edgelink's code again.
const segments: SourceMapSegment[][] = [
  [
    [0, 0, 10, 0],
    [10, 1, 5, 2],
    [20, 0, 11, 4],
  ],
  [
    [0, 1, 6, 0],
    [5, 1, 6, 8, 0],
  ],
  [[0, 1, 7, 0]],
  [[4, 0, 30, 2]],
];
const map: SourceMapV3 = {
  version: 3,
  sources: [own, dependency],
  sourcesContent: ["export const redirect = 1;", "export class Hono {}"],
  names: ["Hono"],
  mappings: encode(segments),
};

/** Where Node's --enable-source-maps puts a frame at this 1-based line and column of the bundle. */
const origin = (m: SourceMapV3, line: number, column: number) =>
  new SourceMap(m as unknown as SourceMapPayload).findOrigin(line, column);

describe("ownSourceMap", () => {
  const trimmed = ownSourceMap(map);

  it("maps every position in edgelink's code exactly as the full map does", () => {
    for (const [line, column] of [
      [1, 1],
      [1, 5],
      [1, 21],
      [1, 40],
      [4, 5],
      [4, 60],
    ] as const) {
      const full = origin(map, line, column);
      expect(full).toMatchObject({ fileName: own });
      expect(origin(trimmed, line, column)).toEqual(full);
    }
  });

  it("leaves a dependency's positions unmapped, never attributed to edgelink's code before them", () => {
    for (const [line, column] of [
      [1, 11],
      [1, 19],
      [2, 1],
      [2, 9],
      [3, 1],
      [3, 80],
      [4, 1],
    ] as const)
      expect(origin(trimmed, line, column)).toEqual({});
    // The full map does attribute them (to the dependency), which is what costs the memory.
    expect(origin(map, 2, 9)).toMatchObject({ fileName: dependency });
  });

  it("drops the dependency's content and segments, and changes nothing when applied again", () => {
    expect(trimmed.sources).toEqual(map.sources);
    expect(trimmed.sourcesContent).toEqual(["export const redirect = 1;", null]);
    // One unmapped marker where the dependency's run starts; none for the lines it continues on.
    expect(decode(trimmed.mappings)).toEqual([
      [[0, 0, 10, 0], [10], [20, 0, 11, 4]],
      [[0]],
      [],
      [[4, 0, 30, 2]],
    ]);
    expect(ownSourceMap(trimmed)).toEqual(trimmed);
  });
});
