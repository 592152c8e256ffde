import cluster, { type Worker } from "node:cluster";
import type { Logger } from "../platform/log/logger";
import type { MetricsSnapshot } from "../platform/metrics/metrics-registry";

type ClusterMessage =
  | { type: "metrics:request"; id: number }
  | { type: "metrics:collect"; id: number }
  | { type: "metrics:snapshot"; id: number; snapshot: MetricsSnapshot }
  | { type: "metrics:result"; id: number; snapshots: MetricsSnapshot[] };

/** A worker that dies within this long of starting counts towards the crash-loop backoff. */
const stableAfterMs = 10_000;
const maxBackoffMs = 30_000;
const collectTimeoutMs = 1_000;

/**
 * How long the primary waits before replacing a dead worker, given how many workers in a row died
 * within {@link stableAfterMs} of starting: at once after a worker that had been stable, then
 * 100 ms doubling with every further quick death, capped at 30 s, so a crash loop does not spin.
 *
 * @example
 * restartDelayMs(0); // 0
 * restartDelayMs(3); // 400
 */
export function restartDelayMs(quickDeaths: number): number {
  return quickDeaths === 0 ? 0 : Math.min(maxBackoffMs, 100 * 2 ** (quickDeaths - 1));
}

const semiSpaceFlag = /^--max[-_]semi[-_]space[-_]size(=|$)/;

/**
 * The Node flags a worker starts with: the primary's own (what `cluster.fork` passes anyway), plus
 * `--max-semi-space-size` when `semiSpaceMb` > 0 and the operator has not set it already — in the
 * command line or in NODE_OPTIONS, which V8 reads before the command line and so would lose to it.
 *
 * @example
 * workerExecArgv(["--enable-source-maps"], undefined, 16);
 * // ["--enable-source-maps", "--max-semi-space-size=16"]
 */
export function workerExecArgv(
  execArgv: readonly string[],
  nodeOptions: string | undefined,
  semiSpaceMb: number,
): string[] {
  const operatorSet = [...execArgv, ...(nodeOptions ?? "").split(/\s+/)].some((arg) =>
    semiSpaceFlag.test(arg),
  );
  if (semiSpaceMb === 0 || operatorSet) return [...execArgv];
  return [...execArgv, `--max-semi-space-size=${semiSpaceMb}`];
}

/** What a forked process is for; the primary hands it over in the environment. */
export type ProcessRole = "server" | "server+maintenance" | "consumer";

/** The environment variable that carries a forked process's {@link ProcessRole}. */
export const processRoleVariable = "EDGELINK_PROCESS_ROLE";

/**
 * The processes of a cluster: `servers` web workers, the first of them also running housekeeping,
 * and with `withConsumer`, the click consumer in a process of its own.
 *
 * @example
 * clusterRoles(2, true); // ["server+maintenance", "server", "consumer"]
 */
export function clusterRoles(servers: number, withConsumer: boolean): ProcessRole[] {
  const roles: ProcessRole[] = Array.from({ length: servers }, (_, i) =>
    i === 0 ? "server+maintenance" : "server",
  );
  if (withConsumer) roles.push("consumer");
  return roles;
}

/**
 * The primary: forks one process per entry of `processes` (with `execArgv`, by default the
 * primary's own flags; the role in {@link processRoleVariable}), replaces any that dies with one
 * of the same role (with exponential backoff while they keep dying young, so a crash loop does not
 * spin), relays metrics requests, and on SIGTERM/SIGINT asks every worker to drain and exits 0
 * once they are gone.
 */
export function superviseWorkers(options: {
  processes: ProcessRole[];
  shutdownTimeoutMs: number;
  logger: Logger;
  execArgv?: string[];
}): void {
  const { logger } = options;
  if (options.execArgv) cluster.setupPrimary({ execArgv: options.execArgv });
  let stopping = false;
  let quickDeaths = 0;
  const started = new Map<number, { at: number; role: ProcessRole }>();

  const fork = (role: ProcessRole) => {
    const worker = cluster.fork({ [processRoleVariable]: role });
    started.set(worker.id, { at: Date.now(), role });
    worker.on("message", (message: ClusterMessage) => relayMetrics(worker, message));
  };

  cluster.on("exit", (worker, code, signal) => {
    const record = started.get(worker.id);
    started.delete(worker.id);
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        logger.info("all workers stopped; exiting");
        process.exit(0);
      }
      return;
    }
    const lived = Date.now() - (record?.at ?? 0);
    quickDeaths = lived < stableAfterMs ? quickDeaths + 1 : 0;
    const delay = restartDelayMs(quickDeaths);
    const role = record?.role ?? "server";
    logger.warn("worker died; replacing", {
      pid: worker.process.pid,
      role,
      code,
      signal,
      livedMs: lived,
      restartInMs: delay,
    });
    setTimeout(() => !stopping && fork(role), delay);
  });

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info("draining workers", { signal, deadlineMs: options.shutdownTimeoutMs });
    // A signal, not a message: a worker still loading has no message listener yet and would miss
    // it, while a signal ends it at once (it has nothing to drain) or reaches its drain handler.
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGTERM");
    // Workers enforce the drain deadline themselves; this only catches one that hangs past it.
    setTimeout(() => {
      logger.error("workers did not stop in time; killing them");
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill("SIGKILL");
      process.exit(1);
    }, options.shutdownTimeoutMs + 5_000).unref();
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);

  for (const role of options.processes) fork(role);
}

const pending = new Map<
  number,
  { snapshots: MetricsSnapshot[]; expected: number; reply: (all: MetricsSnapshot[]) => void }
>();
let nextCollection = 0;

/** In the primary: gathers one snapshot from every live worker and hands the set to the asker. */
function relayMetrics(asker: Worker, message: ClusterMessage): void {
  if (message.type === "metrics:snapshot") {
    const collection = pending.get(message.id);
    collection?.snapshots.push(message.snapshot);
    if (collection && collection.snapshots.length >= collection.expected)
      collection.reply(collection.snapshots);
    return;
  }
  if (message.type !== "metrics:request") return;
  const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => Boolean(w?.isConnected()));
  const id = ++nextCollection;
  const finish = (snapshots: MetricsSnapshot[]) => {
    if (!pending.delete(id)) return;
    clearTimeout(timer);
    if (asker.isConnected()) asker.send({ type: "metrics:result", id: message.id, snapshots });
  };
  // A worker that is busy or dying must not hold the scrape: answer with what arrived in time.
  const timer = setTimeout(() => finish(pending.get(id)?.snapshots ?? []), collectTimeoutMs);
  pending.set(id, { snapshots: [], expected: workers.length, reply: finish });
  for (const worker of workers) worker.send({ type: "metrics:collect", id });
}

/**
 * In a worker: answers the primary's collection requests with `snapshot()`, and returns the
 * `collectMetrics` function that asks for every worker's snapshot.
 */
export function joinClusterMetrics(snapshot: () => MetricsSnapshot): () => Promise<MetricsSnapshot[]> {
  const waiting = new Map<number, (snapshots: MetricsSnapshot[]) => void>();
  let nextRequest = 0;
  process.on("message", (message: ClusterMessage) => {
    if (message.type === "metrics:collect")
      process.send?.({ type: "metrics:snapshot", id: message.id, snapshot: snapshot() });
    if (message.type === "metrics:result") {
      waiting.get(message.id)?.(message.snapshots);
      waiting.delete(message.id);
    }
  });
  return () =>
    new Promise((resolve) => {
      const id = ++nextRequest;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve([snapshot()]);
      }, collectTimeoutMs * 2);
      waiting.set(id, (snapshots) => {
        clearTimeout(timer);
        resolve(snapshots.length > 0 ? snapshots : [snapshot()]);
      });
      process.send?.({ type: "metrics:request", id });
    });
}
