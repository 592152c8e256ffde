/**
 * One bounded load run against 127.0.0.1, by wrk when installed (lighter) or autocannon, each in
 * its own process on the generator's core. Both print the same BENCH_JSON line.
 */
import { randomBytes } from "node:crypto";
import { resolve } from "node:path";
import {
  type Cores,
  captureOutput,
  cpuBetween,
  nodeBinary,
  placement,
  processTree,
  sampleCpu,
  sleep,
  spawnOn,
  wrkPath,
} from "./proc";

export type Generator = "wrk" | "autocannon";

/**
 * What to send. `fixed`: one URL; `cycle`: GET /<prefix><1..distinct>; `create`: POST unique bodies;
 * `zipf`: GET /<prefix><rank>, rank in 1..distinct drawn with probability ∝ 1/rank^s, each request
 * with a User-Agent drawn from `agents` and a Referer from `referrers` ("" = none), uniformly (a
 * value listed twice is drawn twice as often).
 */
export type LoadShape =
  | { mode: "fixed"; path: string }
  | { mode: "cycle"; distinct: number; prefix?: string }
  | { mode: "create"; path: string; auth: string; prefix?: string }
  | { mode: "zipf"; distinct: number; s: number; prefix: string; agents: string[]; referrers: string[] };

export interface LoadSpec {
  port: number;
  shape: LoadShape;
  connections: number;
  durationSec: number;
  generator: Generator;
  /** Processes whose CPU is reported, by group name (trees are expanded at the start). */
  cpuGroups?: () => Record<string, number[]>;
}

export interface LoadResult {
  generator: Generator;
  requests: number;
  durationSec: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** Socket errors and timeouts (never averaged in: a run with any is flagged). */
  errors: number;
  errorDetail: Record<string, number>;
  /** Responses outside 200-399. */
  non2xx3xx: number;
  /** Per status code, where the generator counted them (wrk: dynamic modes only). */
  codes: Record<string, number>;
  /** Cores used during the run, per group, plus `generator` and `other`. */
  cpu: Record<string, number>;
  /** The unique part of this run's slugs or bodies. */
  prefix: string;
}

export function defaultGenerator(): Generator {
  return wrkPath ? "wrk" : "autocannon";
}

interface RawResult {
  requests: number;
  durationUs: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  codes: Record<string, number>;
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  if (spec.durationSec > 15) throw new Error("a measurement is bounded to 15 s");
  const prefix = ("prefix" in spec.shape && spec.shape.prefix) || `b${randomBytes(4).toString("hex")}`;
  const base = `http://127.0.0.1:${spec.port}`;
  const cores: Cores = placement.generator;
  let command: string;
  let args: string[];
  let env: NodeJS.ProcessEnv = process.env;
  if (spec.generator === "wrk") {
    if (!wrkPath) throw new Error("wrk is not installed (use --generator autocannon)");
    const shape = spec.shape;
    env = {
      ...process.env,
      BENCH_MODE: shape.mode,
      BENCH_PREFIX: prefix,
      BENCH_DISTINCT: shape.mode === "cycle" || shape.mode === "zipf" ? String(shape.distinct) : "1",
      BENCH_PATH: shape.mode === "cycle" || shape.mode === "zipf" ? "/" : shape.path,
      BENCH_AUTH: shape.mode === "create" ? shape.auth : "",
      ...(shape.mode === "zipf"
        ? {
            BENCH_ZIPF_S: String(shape.s),
            BENCH_SEED: String(randomBytes(4).readUInt32LE()),
            // One value per line; "-" stands for "no Referer" (wrk's Lua splits on non-empty lines).
            BENCH_AGENTS: shape.agents.join("\n"),
            BENCH_REFERRERS: shape.referrers.map((r) => r || "-").join("\n"),
          }
        : {}),
    };
    command = wrkPath;
    args = [
      "-t1",
      `-c${spec.connections}`,
      `-d${spec.durationSec}s`,
      "--timeout",
      "5s",
      "-s",
      resolve("bench/lib/wrk.lua"),
      `${base}${shape.mode === "fixed" ? shape.path : "/"}`,
    ];
  } else {
    const shape = spec.shape;
    command = nodeBinary;
    args = [
      resolve("bench/lib/autocannon-child.mjs"),
      JSON.stringify({
        url: `${base}${shape.mode === "fixed" ? shape.path : "/"}`,
        connections: spec.connections,
        durationSec: spec.durationSec,
        mode: shape.mode,
        prefix,
        distinct: shape.mode === "cycle" || shape.mode === "zipf" ? shape.distinct : 1,
        path: shape.mode === "create" ? shape.path : undefined,
        auth: shape.mode === "create" ? shape.auth : undefined,
        ...(shape.mode === "zipf" ? { s: shape.s, agents: shape.agents, referrers: shape.referrers } : {}),
      }),
    ];
  }
  const child = spawnOn(cores, command, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let raw: RawResult | undefined;
  const output = captureOutput(child, (line) => {
    if (line.startsWith("BENCH_JSON ")) raw = JSON.parse(line.slice("BENCH_JSON ".length)) as RawResult;
  });
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));

  // CPU is sampled over the body of the run (the generator must still be alive at the 2nd sample).
  await sleep(300);
  const groups = { ...(spec.cpuGroups?.() ?? {}), generator: child.pid ? processTree(child.pid) : [] };
  const first = sampleCpu(groups);
  await sleep(Math.max(500, spec.durationSec * 1000 - 800));
  const second = sampleCpu(groups);
  const code = await exited;
  // readline may deliver the last line after 'exit'
  for (let i = 0; i < 20 && !raw; i += 1) await sleep(25);
  if (code !== 0 || !raw) {
    throw new Error(`${spec.generator} failed (exit ${code}):\n${output.join("\n")}`);
  }
  const result: RawResult = raw;
  const durationSec = result.durationUs / 1e6;
  const { connect, read, write, timeout, status } = result.errors;
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    generator: spec.generator,
    requests: result.requests,
    durationSec,
    rps: Math.round(result.requests / durationSec),
    p50Ms: ms(result.latencyUs.p50),
    p90Ms: ms(result.latencyUs.p90),
    p99Ms: ms(result.latencyUs.p99),
    p999Ms: ms(result.latencyUs.p999),
    maxMs: ms(result.latencyUs.max),
    errors: connect + read + write + timeout,
    errorDetail: { connect, read, write, timeout },
    non2xx3xx: status,
    codes: result.codes,
    cpu: cpuBetween(first, second),
    prefix,
  };
}
