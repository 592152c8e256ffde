/**
 * `npm run build:node`: the Node bundles `dist/node/server.js` and `dist/node/consumer.js`, with
 * their dependencies inside (all but PGlite, whose WASM and data files load from its own
 * directory, and the optional pg-native) and source maps of edgelink's own code (see
 * ownSourceMap). Each file is written to a temporary name and renamed into place, so a process
 * starting from dist/node — or a second build running at the same time — never reads half a file.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { build } from "esbuild";
import { ownSourceMap, type SourceMapV3 } from "./own-source-map";

const result = await build({
  entryPoints: { server: "src/entry/node.ts", consumer: "src/entry/consumer.ts" },
  bundle: true,
  platform: "node",
  target: "node24",
  format: "esm",
  external: ["@electric-sql/pglite", "pg-native"],
  // The CommonJS packages in the bundle call require; an ES module has none of its own.
  banner: {
    js: "import { createRequire as edgelinkCreateRequire } from 'node:module'; const require = edgelinkCreateRequire(import.meta.url);",
  },
  sourcemap: true,
  outdir: "dist/node",
  logLevel: "warning",
  write: false,
});

const isMap = (path: string) => path.endsWith(".map");
// Maps first: a process that starts between two renames finds its map already in place.
for (const file of result.outputFiles.sort((a, b) => Number(isMap(b.path)) - Number(isMap(a.path)))) {
  const contents = isMap(file.path)
    ? JSON.stringify(ownSourceMap(JSON.parse(file.text) as SourceMapV3))
    : file.contents;
  mkdirSync(dirname(file.path), { recursive: true });
  const partial = `${file.path}.${process.pid}.partial`;
  writeFileSync(partial, contents);
  renameSync(partial, file.path);
}
