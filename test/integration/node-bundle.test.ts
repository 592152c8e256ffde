import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { SourceMap, type SourceMapPayload } from "node:module";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { isDependencySource, type SourceMapV3 } from "../../dev/own-source-map";
import { serverEntry } from "../support/node-process";

/**
 * The Node bundle as `npm start` runs it: its dependencies inside, its source map of edgelink's
 * code only — so `--enable-source-maps` maps our frames back to src/ without decoding the map of
 * every package into each process (~110 MB of RSS per worker once any stack is formatted).
 */
describe("the Node bundle's source map", () => {
  let code: string[] = [];
  let map: SourceMapV3;
  beforeAll(async () => {
    await promisify(execFile)("npm", ["run", "build:node", "--silent"]);
    code = readFileSync(serverEntry, "utf8").split("\n");
    map = JSON.parse(readFileSync(`${serverEntry}.map`, "utf8")) as SourceMapV3;
  }, 60_000);

  /** Where Node puts a frame at the start of the first bundle line containing `text`. */
  const originOf = (text: string) => {
    const index = code.findIndex((line) => line.includes(text));
    expect(index, text).toBeGreaterThanOrEqual(0);
    const column = code[index]!.indexOf(text) + 1;
    return new SourceMap(map as unknown as SourceMapPayload).findOrigin(index + 1, column);
  };

  it("maps edgelink's own code back to its TypeScript source", () => {
    expect(originOf("function createRedirectFastPath(")).toMatchObject({
      fileName: expect.stringMatching(/src\/links\/redirect-fast-path\.ts$/),
    });
    expect(originOf("function* decodeText(")).toMatchObject({
      fileName: expect.stringMatching(/src\/http\/streaming-body\.ts$/),
    });
  });

  it("leaves the bundled dependencies at their bundle lines, and carries none of their sources", () => {
    // Hono's class, bundled from node_modules: no original position, not one of ours either.
    expect(originOf("var Hono = class")).toEqual({});
    const dependencies = map.sources.filter((source) => isDependencySource(source));
    expect(dependencies.length).toBeGreaterThan(100);
    map.sources.forEach((source, i) => {
      if (isDependencySource(source)) expect(map.sourcesContent?.[i], source).toBeNull();
      else expect(map.sourcesContent?.[i], source).toEqual(expect.any(String));
    });
    // esbuild's full map of this bundle is ~4.8 MB; ours alone is well under 1.5 MB.
    expect(JSON.stringify(map).length).toBeLessThan(1.5 * 1024 * 1024);
  });
});
