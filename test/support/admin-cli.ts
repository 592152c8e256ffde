import { spawn } from "node:child_process";
import { configSchema } from "../../src/config";

/** How one run of the admin CLI ended and what it wrote. */
export interface AdminRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * `npx tsx src/entry/admin.ts …` with exactly the edgelink settings given: every setting of the
 * test process's own environment is removed first, so a run sees only what its test decided.
 */
export function runAdmin(args: string[], settings: Record<string, string>): Promise<AdminRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(configSchema.shape)) delete env[key];
  Object.assign(env, settings);
  const child = spawn("npx", ["tsx", "src/entry/admin.ts", ...args], { env });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => (stdout += chunk));
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise((done) => child.on("close", (code) => done({ code, stdout, stderr })));
}
