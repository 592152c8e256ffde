import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type EdgelinkProcess,
  freePort,
  killAllEdgelink,
  requestOnce,
  startEdgelink,
} from "../support/node-process";
import { connectionOwner } from "../support/node-process-sockets";

/**
 * The self-hosted entry as operators run it: `node dist/node/server.js`, a real process on a real
 * port, observed only from outside (HTTP, JSON log lines, exit codes, signals).
 */

const testDatabaseUrl = inject("testDatabaseUrl");
const shutdownTimeoutMs = 1_500;
const caseTimeout = { timeout: 30_000 };
let pgliteDir = "";

beforeAll(async () => {
  await promisify(execFile)("npm", ["run", "build:node", "--silent"]);
  pgliteDir = await mkdtemp(join(tmpdir(), "edgelink-node-cluster-"));
});
afterEach(() => killAllEdgelink());
afterAll(async () => {
  await killAllEdgelink();
  if (pgliteDir) await rm(pgliteDir, { recursive: true, force: true });
});

/** One GET on its own connection, failing on a transport error or after `timeoutMs`. */
const get = (port: number, path: string, timeoutMs = 2_000) => requestOnce(port, path, { timeoutMs });

/** A raw TCP connection, to send a request in pieces and to see when the server hangs up. */
interface RawConnection {
  socket: Socket;
  clientPort: number;
  /** Resolves with the time the connection closed. */
  closed: Promise<number>;
  received(): string;
  /** Resolves with the first complete response (status and body); rejects if the server hangs up first. */
  response(): Promise<{ status: number; body: string }>;
}

async function openConnection(port: number): Promise<RawConnection> {
  const socket = connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  let data = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    data += chunk;
  });
  socket.on("error", () => {});
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now())));
  const parse = () => {
    const end = data.indexOf("\r\n\r\n");
    if (end === -1) return undefined;
    const head = data.slice(0, end);
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? Number.NaN);
    const body = data.slice(end + 4);
    if (Number.isNaN(length) || Buffer.byteLength(body) < length) return undefined;
    return { status: Number(head.split(" ")[1]), body: body.slice(0, length) };
  };
  const response = () =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const check = () => {
        const parsed = parse();
        if (parsed) resolve(parsed);
      };
      socket.on("data", check);
      void closed.then(() =>
        reject(new Error(`connection closed before a full response: ${JSON.stringify(data)}`)),
      );
      check();
    });
  return { socket, clientPort: socket.localPort ?? 0, closed, received: () => data, response };
}

/** Whether a new connection to `port` is accepted or refused. */
function connectOutcome(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve("accepted");
    });
    socket.once("error", (error: NodeJS.ErrnoException) =>
      resolve(error.code === "ECONNREFUSED" ? "refused" : String(error.code)),
    );
  });
}

/** Waits until one of `pids` holds the server end of `connection`, i.e. the request reached a server. */
async function servedBy(port: number, connection: RawConnection, pids: number[]): Promise<number> {
  for (let tries = 0; tries < 100; tries += 1) {
    const owner = await connectionOwner(port, connection.clientPort, pids);
    if (owner !== undefined) return owner;
    await sleep(20);
  }
  throw new Error(`no server process holds the connection from port ${connection.clientPort}`);
}

function resolvesWithin<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([
    promise,
    sleep(ms).then(() => Promise.reject(new Error(`${what} took over ${ms} ms`))),
  ]);
}

function sumCounter(metricsText: string, name: string): number {
  return metricsText
    .split("\n")
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
}

interface Mode {
  name: string;
  skip: boolean;
  workers: number;
  settings(port: number): Record<string, string>;
}

const embedded: Mode = {
  name: "embedded PGlite, single process",
  skip: false,
  workers: 1,
  settings: (port) => ({
    PORT: String(port),
    PGLITE_DATA_DIR: pgliteDir,
    SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
  }),
};

const clusterOfTwo: Mode = {
  name: "cluster of 2 workers on Postgres",
  skip: !testDatabaseUrl,
  workers: 2,
  settings: (port) => ({
    PORT: String(port),
    DATABASE_URL: testDatabaseUrl ?? "",
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    WEB_CONCURRENCY: "2",
    SHUTDOWN_TIMEOUT_MS: String(shutdownTimeoutMs),
  }),
};

/** Starts `mode` and waits until every serving process logged "listening"; answers their pids. */
async function startServing(
  mode: Mode,
): Promise<{ edgelink: EdgelinkProcess; pids: number[]; startupMs: number }> {
  const edgelink = startEdgelink(mode.settings(await freePort()));
  const listening = await edgelink.waitForLogs((line) => line.msg === "listening", mode.workers, 20_000);
  const startupMs = Math.max(...listening.map((line) => line.receivedAt)) - edgelink.spawnedAt;
  return { edgelink, pids: listening.map((line) => line.pid), startupMs };
}

describe("node dist/node/server.js", () => {
  it(
    "exits 1 at once with one stderr line naming the variable when config is invalid",
    caseTimeout,
    async () => {
      const edgelink = startEdgelink({ PORT: "abc" });
      const exit = await resolvesWithin(edgelink.exited, 5_000, "exit on bad config");

      expect(exit.code).toBe(1);
      expect(edgelink.stderr.filter((line) => line.trim() !== "")).toEqual([
        expect.stringMatching(/^edgelink: invalid configuration: PORT\b/),
      ]);
      expect(edgelink.stdout).toEqual([]);
    },
  );

  it("serves from one process on embedded PGlite and exits 0 on SIGTERM", caseTimeout, async () => {
    const port = await freePort();
    const edgelink = startEdgelink(embedded.settings(port));
    let health = await get(port, "/healthz", 500).catch(() => undefined);
    while (health?.status !== 200) {
      await sleep(20);
      expect(Date.now() - edgelink.spawnedAt, "start-up").toBeLessThan(25_000);
      health = await get(port, "/healthz", 500).catch(() => undefined);
    }
    const startupMs = Date.now() - edgelink.spawnedAt;
    const [listening] = await edgelink.waitForLogs((line) => line.msg === "listening");
    console.log(
      `[node-cluster] embedded single process, fresh data directory: spawn → first /healthz 200 in ${startupMs} ms (server-reported PGlite open + migrate + listen: ${listening?.startupMs} ms)`,
    );

    const [single] = await edgelink.waitForLogs((line) =>
      line.msg.startsWith("embedded PGlite owns its data directory"),
    );
    expect(single).toMatchObject({
      msg: "embedded PGlite owns its data directory: serving from a single process",
      pid: edgelink.pid,
    });
    expect(listening?.pid, "the spawned process serves itself, no workers").toBe(edgelink.pid);
    const ready = await get(port, "/readyz");
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({
      status: "ready",
      checks: { postgres: { status: "up" }, redis: { status: "up" } },
    });

    edgelink.signal("SIGTERM");
    const exit = await resolvesWithin(edgelink.exited, 5_000, "exit after SIGTERM");
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(edgelink.logs.map((line) => line.msg)).toContain("stopped");
  });
});

describe.skipIf(clusterOfTwo.skip)("cluster of 2 workers (DATABASE_URL set)", () => {
  it("serves from two worker processes, and /metrics counts the requests of both", caseTimeout, async () => {
    const { edgelink, pids, startupMs } = await startServing(clusterOfTwo);
    const workerStartupMs = edgelink.logs
      .filter((line) => line.msg === "listening")
      .map((line) => line.startupMs);
    console.log(
      `[node-cluster] cluster of 2: spawn → both workers listening in ${startupMs} ms (server-reported per worker: ${workerStartupMs.join(", ")} ms)`,
    );
    expect(new Set(pids).size).toBe(2);
    expect(pids).not.toContain(edgelink.pid);

    // Which worker serves a connection is read from /proc: the worker holding its server socket.
    const owners = new Set<number>();
    for (let i = 0; i < 6; i += 1) {
      const connection = await openConnection(edgelink.port);
      connection.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      expect((await connection.response()).status).toBe(200);
      owners.add(await servedBy(edgelink.port, connection, pids));
      connection.socket.destroy();
    }
    expect([...owners].sort()).toEqual([...pids].sort());

    let made = 6;
    for (let i = 0; i < 20; i += 1, made += 1)
      expect((await get(edgelink.port, "/healthz")).status).toBe(200);
    const metrics = await get(edgelink.port, "/metrics");
    expect(metrics.status).toBe(200);
    // Each worker served some of them, so one worker's registry alone would count fewer than `made`.
    expect(sumCounter(metrics.body, "http_requests_total")).toBe(made);
  });

  it("replaces a SIGKILLed worker while a request loop keeps being answered", caseTimeout, async () => {
    const { edgelink, pids } = await startServing(clusterOfTwo);
    const [victim, survivor] = pids as [number, number];
    const attempts: { startedAt: number; status?: number; error?: string }[] = [];
    let looping = true;
    const loops = 4;
    const loop = async () => {
      while (looping) {
        const startedAt = Date.now();
        await get(edgelink.port, "/healthz").then(
          ({ status }) => attempts.push({ startedAt, status }),
          (error: NodeJS.ErrnoException) => attempts.push({ startedAt, error: error.code ?? error.message }),
        );
      }
    };
    const running = Array.from({ length: loops }, loop);
    await sleep(300);

    const killedAt = Date.now();
    process.kill(victim, "SIGKILL");
    const [death] = await edgelink.waitForLogs(
      (line) => line.msg === "worker died; replacing" && line.pid === victim,
    );
    const [replacement] = await edgelink.waitForLogs(
      (line) => line.msg === "listening" && !pids.includes(line.pid),
    );
    await sleep(300);
    looping = false;
    await Promise.all(running);

    expect(death).toMatchObject({ signal: "SIGKILL" });
    const replacementPid = replacement!.pid;
    expect(replacementPid).not.toBe(edgelink.pid);
    expect(attempts.filter((a) => a.status !== undefined && a.status !== 200)).toEqual([]);
    // The only requests allowed to fail are those in flight to (or being handed to) the victim when
    // it died: at most one per loop, all started before the primary noticed the death.
    const failures = attempts.filter((a) => a.error !== undefined);
    expect(failures.length).toBeLessThanOrEqual(loops);
    for (const failure of failures) expect(failure.startedAt).toBeLessThanOrEqual(death!.receivedAt);
    // The survivor alone kept answering until the replacement listened, and everything after succeeded.
    expect(
      attempts.filter(
        (a) => a.startedAt > killedAt && a.startedAt < replacement!.receivedAt && a.status === 200,
      ).length,
    ).toBeGreaterThan(0);
    expect(attempts.filter((a) => a.startedAt > replacement!.receivedAt).length).toBeGreaterThan(0);
    console.log(
      `[node-cluster] SIGKILL episode: ${attempts.length} requests, ${failures.length} failed (${failures.map((f) => f.error).join(", ") || "none"})`,
    );

    // The replacement takes its share of new connections alongside the survivor.
    const owners = new Set<number>();
    for (let i = 0; i < 4; i += 1) {
      const connection = await openConnection(edgelink.port);
      connection.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
      expect((await connection.response()).status).toBe(200);
      owners.add(await servedBy(edgelink.port, connection, [survivor, replacementPid]));
      connection.socket.destroy();
    }
    expect([...owners].sort()).toEqual([survivor, replacementPid].sort());
  });

  it("backs off 100, 200, 400 ms while replacement workers keep dying young", caseTimeout, async () => {
    const { edgelink, pids } = await startServing(clusterOfTwo);
    const seen = new Set(pids);
    let victim = pids[0]!;
    const delays: unknown[] = [];
    for (let round = 0; round < 3; round += 1) {
      process.kill(victim, "SIGKILL");
      const [death] = await edgelink.waitForLogs(
        (line) => line.msg === "worker died; replacing" && line.pid === victim,
      );
      delays.push(death?.restartInMs);
      const [next] = await edgelink.waitForLogs((line) => line.msg === "listening" && !seen.has(line.pid));
      expect(Date.parse(next!.time) - Date.parse(death!.time)).toBeGreaterThanOrEqual(
        Number(death?.restartInMs),
      );
      victim = next!.pid;
      seen.add(victim);
    }
    expect(delays).toEqual([100, 200, 400]);
  });

  it("exits 0 promptly when SIGTERM arrives while the workers are still starting", caseTimeout, async () => {
    const edgelink = startEdgelink(clusterOfTwo.settings(await freePort()));
    await edgelink.waitForLogs((line) => line.msg === "starting cluster");
    const signalledAt = edgelink.signal("SIGTERM");
    const exit = await resolvesWithin(edgelink.exited, 10_000, "exit after SIGTERM");

    // A lost shutdown would leave the workers serving until the primary's fallback (deadline + 5 s)
    // killed them and exited 1.
    expect(exit.code).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(shutdownTimeoutMs + 5_000);
    expect(edgelink.logs.map((line) => line.msg)).not.toContain("workers did not stop in time; killing them");
  });
});

describe.each([embedded, clusterOfTwo])("graceful drain: $name", (mode) => {
  const drainCase = { ...caseTimeout, skip: mode.skip };

  it("answers a request already in flight, refuses new connections, then exits 0", drainCase, async () => {
    const { edgelink, pids } = await startServing(mode);
    const inFlight = await openConnection(edgelink.port);
    inFlight.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    await servedBy(edgelink.port, inFlight, pids);
    await sleep(100);

    edgelink.signal("SIGTERM");
    await edgelink.waitForLogs((line) => line.msg === "draining" && pids.includes(line.pid), pids.length);
    await sleep(100);
    expect(await connectOutcome(edgelink.port)).toBe("refused");

    inFlight.socket.write("Accept: application/json\r\n\r\n");
    const response = await resolvesWithin(inFlight.response(), 2_000, "the in-flight response");
    expect(response).toEqual({ status: 200, body: JSON.stringify({ status: "ok" }) });
    const exit = await resolvesWithin(edgelink.exited, 5_000, "exit after the drain");
    expect(exit).toMatchObject({ code: 0, signal: null });
  });

  it("does not wait for an idle keep-alive connection", drainCase, async () => {
    const { edgelink } = await startServing(mode);
    const idle = await openConnection(edgelink.port);
    idle.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    expect((await idle.response()).status).toBe(200);
    await sleep(200);
    expect(idle.socket.destroyed, "the server keeps the connection alive").toBe(false);

    const signalledAt = edgelink.signal("SIGTERM");
    const closedAt = await resolvesWithin(idle.closed, 1_000, "closing the idle connection");
    // Waiting on the idle connection would hold the drain to SHUTDOWN_TIMEOUT_MS (its 65 s
    // keep-alive is longer): the drain must finish well before that deadline, without cutting.
    const stopped = await edgelink.waitForLogs((line) => line.msg === "stopped", mode.workers, 1_000);
    const drainedAt = Math.max(...stopped.map((line) => line.receivedAt));
    expect(drainedAt - signalledAt).toBeLessThan(shutdownTimeoutMs / 2);
    // After "stopped" the process only exits; how long that takes is the runtime's teardown (on
    // the embedded database, V8 finishing its background compilation of PGlite's WebAssembly in
    // the first seconds after start), not the drain's.
    const exit = await resolvesWithin(edgelink.exited, 5_000, "exit after the drain");
    expect(exit.code).toBe(0);
    expect(edgelink.logs.map((line) => line.msg)).not.toContain(
      "drain deadline passed, closing remaining connections",
    );
    console.log(
      `[node-cluster] ${mode.name}: idle keep-alive closed after ${closedAt - signalledAt} ms, drained after ${drainedAt - signalledAt} ms, exit after ${exit.at - signalledAt} ms`,
    );
  });

  it("cuts a request that never completes at SHUTDOWN_TIMEOUT_MS and still exits 0", drainCase, async () => {
    const { edgelink, pids } = await startServing(mode);
    const stuck = await openConnection(edgelink.port);
    stuck.socket.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    await servedBy(edgelink.port, stuck, pids);
    await sleep(100);

    const signalledAt = edgelink.signal("SIGTERM");
    const closedAt = await resolvesWithin(
      stuck.closed,
      shutdownTimeoutMs + 2_000,
      "cutting the stuck connection",
    );
    const exit = await resolvesWithin(edgelink.exited, 3_000, "exit after the deadline");

    expect(stuck.received()).toBe("");
    expect(closedAt - signalledAt).toBeGreaterThanOrEqual(shutdownTimeoutMs - 100);
    expect(closedAt - signalledAt).toBeLessThan(shutdownTimeoutMs + 1_000);
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.at - signalledAt).toBeLessThan(shutdownTimeoutMs + 1_500);
    expect(edgelink.logs.map((line) => line.msg)).toContain(
      "drain deadline passed, closing remaining connections",
    );
  });
});
