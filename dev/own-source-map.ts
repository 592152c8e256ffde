import { decode, encode, type SourceMapSegment } from "@jridgewell/sourcemap-codec";

/** The fields of a version 3 source map this step reads or writes; the rest pass through. */
export interface SourceMapV3 {
  version: 3;
  sources: string[];
  sourcesContent?: (string | null)[];
  mappings: string;
  names?: string[];
  [field: string]: unknown;
}

/** A source the bundle took from an installed package rather than from this repository. */
export const isDependencySource = (source: string): boolean => /(^|[\\/])node_modules[\\/]/.test(source);

/**
 * The source map of a bundle reduced to the code of this repository. The Node bundle carries its
 * dependencies (faster start-up), so esbuild's map describes ~470 files, ~4.8 MB; with
 * `--enable-source-maps` Node decodes the whole of it the first time any stack trace is formatted
 * and keeps it for the life of the process: ~110 MB more RSS in a serving worker
 * (`import-stream`: 351 MB peak against 241 with the dependencies outside the bundle). Stack frames
 * in edgelink's own code still map to `src/…`; frames in a dependency stay at their line of the
 * bundle, which names the package in the comment above each module.
 *
 * A dependency's segments become unmapped ones (generated column only), one where each run of
 * them starts, so that a lookup there finds no original position instead of falling back to the
 * nearest mapped segment before it, which may be edgelink's. Sources stay listed (their indexes
 * are in the segments) without their content. Applying it twice changes nothing.
 *
 * @example
 * const trimmed = ownSourceMap(JSON.parse(readFileSync("dist/node/server.js.map", "utf8")));
 */
export function ownSourceMap(map: SourceMapV3): SourceMapV3 {
  const dependency = map.sources.map(isDependencySource);
  // Before the first segment nothing is mapped; a lookup finds the nearest segment before it,
  // across lines, so a run of dependency code needs one marker however many lines it spans.
  let unmapped = true;
  const lines = decode(map.mappings).map((segments) => {
    const kept: SourceMapSegment[] = [];
    for (const segment of segments) {
      const own = segment.length > 1 && !dependency[segment[1]!];
      if (own) {
        kept.push(segment);
        unmapped = false;
      } else if (!unmapped) {
        kept.push([segment[0]]);
        unmapped = true;
      }
    }
    return kept;
  });
  return {
    ...map,
    mappings: encode(lines),
    ...(map.sourcesContent && {
      sourcesContent: map.sourcesContent.map((content, i) => (dependency[i] ? null : content)),
    }),
  };
}
