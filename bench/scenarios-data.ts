/**
 * The data scenarios of issue 4 — `import-stream`, `export-stream`, `stats`, `click-ingest` — each a job scenario
 * (lib/job.ts): a piece of work of known size, timed whole, with the peak RSS of the process doing
 * it, against a bare-`pg` script doing the same work in the same rounds.
 */
import type { JobScenario } from "./lib/job";
import { clickIngest } from "./scenario-click-ingest";
import { exportStream } from "./scenario-export-stream";
import { importStream } from "./scenario-import-stream";
import { stats } from "./scenario-stats";

export const dataScenarios: JobScenario[] = [importStream, exportStream, stats, clickIngest];
