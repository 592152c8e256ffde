/**
 * Summarises `--cpu-prof` profiles: self time per function, mapped back through the bundle's
 * source map to src/ and node_modules/, so the top frames name edgelink's own code.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Source maps of the bundles seen in the profile (any `--bundle`, not only dist/node/server.js). */
const sourceMaps = new Map<string, SourceMap | undefined>();
function sourceMapOf(file: string): SourceMap | undefined {
  if (!sourceMaps.has(file)) {
    const map = `${file}.map`;
    sourceMaps.set(file, existsSync(map) ? new SourceMap(JSON.parse(readFileSync(map, "utf8"))) : undefined);
  }
  return sourceMaps.get(file);
}
function mapped(frame: CpuProfileNode["callFrame"]): string {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return name;
  let where = frame.url.replace(/^file:\/\//, "");
  let line = frame.lineNumber + 1;
  const sourceMap = where.endsWith(".js") ? sourceMapOf(where) : undefined;
  if (sourceMap) {
    const entry = sourceMap.findEntry(frame.lineNumber, frame.columnNumber) as {
      originalSource?: string;
      originalLine?: number;
    };
    if (entry.originalSource) {
      where = resolve(join(dirname(where), entry.originalSource.replace(/^file:\/\//, "")));
      line = (entry.originalLine ?? 0) + 1;
    }
  }
  if (where.startsWith("/")) where = relative(process.cwd(), where);
  where = where.replace(/^.*node_modules\//, "node_modules/");
  // A bundle built from a copy of the tree (e.g. a commit's src/ unpacked elsewhere) maps to that copy.
  if (!where.startsWith("node_modules/")) where = where.replace(/^.*?\/(src\/)/, "$1");
  return `${name} ${where}:${line}`;
}

/** Where a frame's code lives: edgelink src, a package, or Node itself. */
function owner(label: string): string {
  const at = label.lastIndexOf(" ");
  const where = at === -1 ? "" : label.slice(at + 1);
  if (where.startsWith("src/")) return "edgelink src/";
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (pkg) return pkg[1]!;
  if (where.startsWith("node:")) return "node internals";
  return label.startsWith("(") ? label.split(" ")[0]! : "other";
}

export function summarizeProfile(file: string, top = 30): string {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  const owners = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const delta = profile.timeDeltas[i] ?? 0;
    if (!node) return;
    const label = mapped(node.callFrame);
    self.set(label, (self.get(label) ?? 0) + delta);
    owners.set(owner(label), (owners.get(owner(label)) ?? 0) + delta);
    total += delta;
  });
  const idle = self.get("(idle)") ?? 0;
  const busy = total - idle;
  const pct = (us: number) => `${((us / busy) * 100).toFixed(1).padStart(5)}%`;
  const lines = [
    `${file}: ${(busy / 1e6).toFixed(1)} s busy of ${(total / 1e6).toFixed(1)} s (shares of busy time)`,
  ];
  lines.push("  by owner:");
  for (const [name, us] of [...owners]
    .filter(([n]) => n !== "(idle)")
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)) {
    lines.push(`    ${pct(us)}  ${name}`);
  }
  lines.push(`  top ${top} frames by self time:`);
  for (const [label, us] of [...self]
    .filter(([l]) => !l.startsWith("(idle)"))
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)) {
    lines.push(`    ${pct(us)}  ${label}`);
  }
  return lines.join("\n");
}

export function profilesIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((name) => name.endsWith(".cpuprofile"))
      .map((name) => join(dir, name));
  } catch {
    return [];
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const file of process.argv.slice(2)) console.log(summarizeProfile(file));
}
