import { open, readFile, rm } from "node:fs/promises";
import { join } from "node:path";

/** Another live process owns the embedded database; the message names it, in one line. */
export class DataDirLockedError extends Error {
  override name = "DataDirLockedError";
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
};

/**
 * Takes the embedded database's data directory for this process. PGlite takes no lock itself, and
 * two processes writing one directory corrupt it. A lock left by a process that died is taken
 * over. Answers the release function.
 */
export async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const file = join(dataDir, "edgelink.pid");
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number.parseInt(await readFile(file, "utf8").catch(() => ""), 10);
      if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) {
        throw new DataDirLockedError(
          `the embedded database ${dataDir} is in use by process ${owner} (a running server?); stop it or set DATABASE_URL`,
        );
      }
      await rm(file, { force: true });
    }
  }
  throw new DataDirLockedError(`could not take the lock on ${dataDir}`);
}
