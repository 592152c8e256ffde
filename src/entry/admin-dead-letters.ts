import type { Config } from "../config";
import { errorMessage } from "../platform/log/error-message";
import {
  type DeadLetter,
  fetchDeadLetters,
  lastDeadLetterId,
  parsePayload,
  requeueDeadLetters,
  scanDeadLetters,
} from "../platform/node/redis-dead-letters";
import { type ClickStreamNames, clickStreamNames } from "../platform/node/redis-stream-click-queue";
import {
  type RedisCall,
  restStreamConnection,
  type StreamConnection,
  tcpStreamConnection,
} from "../platform/node/redis-stream-commands";

/** Where a command writes: result lines (stdout) and progress and summary (stderr), one line each. */
export interface DeadLetterIo {
  out(line: string): void;
  err(line: string): void;
  now?: () => number;
}

export interface DeadLetterTarget {
  call: RedisCall;
  names: ClickStreamNames;
}

const progressEvery = 1_000;
const count = (n: number) => n.toLocaleString("en");

/** Printable and bounded: control characters escaped, at most `max` characters. */
function clip(value: unknown, max = 64): string {
  const text = JSON.stringify(String(value ?? "")).slice(1, -1);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** What the payload says, when it is JSON: ids and traffic class (clipped), never the whole of it. */
function summarise(letter: DeadLetter) {
  const json = parsePayload(letter.payload);
  const object = json !== null && typeof json === "object" ? (json as Record<string, unknown>) : {};
  const pick = (key: string) => (typeof object[key] === "string" ? clip(object[key], 40) : null);
  return {
    eventId: pick("eventId"),
    linkId: pick("linkId"),
    traffic: pick("traffic"),
    valid: typeof letter.event !== "string",
    ...(json === undefined ? { excerpt: clip(letter.payload, 60) } : {}),
  };
}

function row(letter: DeadLetter) {
  return {
    id: letter.id,
    originalId: clip(letter.originalId, 40),
    reason: clip(letter.reason, 40),
    deliveries: letter.deliveries,
    consumer: clip(letter.consumer),
    parkedAt: Number.isNaN(letter.parkedAt.getTime()) ? null : letter.parkedAt.toISOString(),
    payload: summarise(letter),
  };
}

function line(r: ReturnType<typeof row>): string {
  const p = r.payload;
  const what = p.eventId
    ? `event ${p.eventId} link ${p.linkId ?? "?"} ${p.traffic ?? "?"}${p.valid ? "" : " (not a valid click event)"}`
    : `payload ${p.excerpt !== undefined ? `not JSON: "${p.excerpt}"` : "not a click event"}`;
  const parked = `${r.id}  ${r.parkedAt ?? "?"}  ${r.reason}  deliveries ${r.deliveries}`;
  return `${parked}  from ${r.originalId} by ${r.consumer}  ${what}`;
}

/** Most frequent first, then by name: the same counts always read the same. */
const byReasonText = (counts: Record<string, number>) =>
  Object.entries(counts)
    .sort(([a, m], [b, n]) => n - m || a.localeCompare(b))
    .map(([reason, n]) => `${clip(reason, 40)} ${count(n)}`)
    .join(", ") || "none";

/**
 * `dead-letters list`: one line per parked entry (oldest first, `--reason` only, at most `--limit`)
 * on stdout, then the parked count per reason — over the whole stream — on stderr.
 *
 * @example
 * await listDeadLetters(target, { json: false }, { out: console.log, err: console.error });
 */
export async function listDeadLetters(
  { call, names }: DeadLetterTarget,
  options: { reason?: string; limit?: number; json: boolean },
  io: DeadLetterIo,
) {
  const counts: Record<string, number> = {};
  let total = 0;
  let shown = 0;
  for await (const page of scanDeadLetters(call, names.deadLetter)) {
    for (const letter of page) {
      total += 1;
      counts[letter.reason] = (counts[letter.reason] ?? 0) + 1;
      if (options.reason !== undefined && letter.reason !== options.reason) continue;
      if (options.limit !== undefined && shown >= options.limit) continue;
      shown += 1;
      io.out(options.json ? JSON.stringify(row(letter)) : line(row(letter)));
    }
  }
  const summary = { deadLetter: names.deadLetter, total, shown, byReason: counts };
  io.err(
    options.json
      ? JSON.stringify(summary)
      : `${count(total)} parked in ${names.deadLetter} (${byReasonText(counts)}); ${count(shown)} shown.`,
  );
  return { failed: false, ...summary };
}

/**
 * `dead-letters replay`: the selected parked events (`--reason`, `--ids`) back onto the click
 * stream, each removed from the dead-letter stream only after its XADD succeeded (see
 * requeueDeadLetters: at worst an event is replayed twice, which the idempotent ingest absorbs).
 * Payloads that are not a valid click event stay parked: they would only be parked again. One line
 * per selected entry on stdout; progress every 1,000 entries and the summary on stderr. `failed`
 * when any selected entry was not replayed (skipped, not found, or a Redis error).
 */
export async function replayDeadLetters(
  { call, names }: DeadLetterTarget,
  options: { reason?: string; ids?: string[]; dryRun: boolean; maxLen: number; json: boolean },
  io: DeadLetterIo,
) {
  const now = io.now ?? (() => performance.now());
  const started = now();
  const skipped: Record<string, number> = {};
  let scanned = 0;
  let examined = 0;
  let replayed = 0;
  let error: string | undefined;
  const report = (id: string, status: string, why?: string) =>
    io.out(
      options.json
        ? JSON.stringify({ id, status, ...(why ? { why } : {}) })
        : `${id} ${status}${why ? ` (${why})` : ""}`,
    );

  async function handle(page: DeadLetter[]): Promise<void> {
    const chosen = page.filter((letter) => options.reason === undefined || letter.reason === options.reason);
    const ready: DeadLetter[] = [];
    for (const letter of chosen) {
      if (typeof letter.event !== "string") ready.push(letter);
      else {
        skipped[letter.event] = (skipped[letter.event] ?? 0) + 1;
        report(letter.id, "skipped", `${letter.event}: left in place`);
      }
    }
    if (options.dryRun) {
      for (const letter of ready) report(letter.id, "would-replay");
      replayed += ready.length;
    } else if (ready.length > 0) {
      const { moved, error: failure } = await requeueDeadLetters(call, names, options.maxLen, ready);
      const done = new Set(moved);
      for (const letter of ready) if (done.has(letter.id)) report(letter.id, "replayed");
      replayed += moved.length;
      if (failure) throw failure;
    }
    examined += chosen.length;
    const before = scanned;
    scanned += page.length;
    if (Math.floor(scanned / progressEvery) > Math.floor(before / progressEvery)) {
      const rate = Math.round(scanned / Math.max((now() - started) / 1000, 1e-3));
      io.err(
        `dead-letters replay: ${count(scanned)} scanned, ${count(replayed)} replayed (${count(rate)} entries/s)`,
      );
    }
  }

  let notFound = 0;
  try {
    if (options.ids) {
      const found = await fetchDeadLetters(call, names.deadLetter, options.ids);
      const present = new Set(found.map((letter) => letter.id));
      for (const id of options.ids.filter((id) => !present.has(id))) report(id, "not-found");
      notFound = options.ids.length - present.size;
      for (let i = 0; i < found.length; i += 100) await handle(found.slice(i, i + 100));
    } else {
      // Only what was parked when the run began: an event a running consumer parks again meanwhile
      // is appended after it, and is left for the next run instead of looping through this one.
      const end = await lastDeadLetterId(call, names.deadLetter);
      if (end) for await (const page of scanDeadLetters(call, names.deadLetter, { end })) await handle(page);
    }
  } catch (failure) {
    error = (failure instanceof Error ? failure.message : String(failure)).split("\n")[0];
  }
  const left = Number(await call(["XLEN", names.deadLetter]).catch(() => Number.NaN));
  const skips = Object.values(skipped).reduce((a, b) => a + b, 0);
  const summary = {
    dryRun: options.dryRun,
    examined,
    replayed,
    skipped,
    notFound,
    left: Number.isNaN(left) ? null : left,
    ...(error ? { error } : {}),
  };
  const verb = options.dryRun ? "Dry run, nothing changed: would replay" : "Replayed";
  const text = [
    `${verb} ${count(replayed)} of ${count(examined)} selected parked events onto ${names.stream}`,
    `skipped ${count(skips)} (${byReasonText(skipped)})`,
    ...(notFound ? [`${count(notFound)} ids not found`] : []),
    `${summary.left === null ? "?" : count(summary.left)} left in ${names.deadLetter}`,
  ].join("; ");
  io.err(options.json ? JSON.stringify(summary) : `${text}.${error ? ` Stopped: ${error}` : ""}`);
  return { failed: Boolean(error) || skips > 0 || notFound > 0, ...summary };
}

/** The stream connection the consumer would use (Upstash REST first, then REDIS_URL), or none. */
export function deadLetterConnection(config: Config): StreamConnection | undefined {
  if (config.UPSTASH_REDIS_REST_URL && config.UPSTASH_REDIS_REST_TOKEN)
    return restStreamConnection(config.UPSTASH_REDIS_REST_URL, config.UPSTASH_REDIS_REST_TOKEN);
  return config.REDIS_URL ? tcpStreamConnection(config.REDIS_URL) : undefined;
}

export const noRedisMessage =
  "dead-letters needs Redis (REDIS_URL, or UPSTASH_REDIS_REST_URL and _TOKEN): the embedded in-process click queue has no dead-letter stream";

export type DeadLetterCommand =
  | { command: "list"; reason?: string; limit?: number; json: boolean }
  | { command: "replay"; reason?: string; ids?: string[]; dryRun: boolean; json: boolean };

/**
 * Runs a dead-letters command against the click stream of `config` and answers its exit status:
 * 0 done, 1 failed, 2 without Redis (bad usage of this build: nothing to list).
 */
export async function runDeadLetterCommand(
  config: Config,
  command: DeadLetterCommand,
  io: DeadLetterIo,
): Promise<number> {
  const connection = deadLetterConnection(config);
  if (!connection) {
    io.err(`edgelink admin: ${noRedisMessage}`);
    return 2;
  }
  const target = { call: connection.call, names: clickStreamNames(config.CLICK_STREAM_KEY) };
  try {
    // Unreachable Redis is one clear failure up front, not a replay that stops at its first page.
    await connection.call(["PING"]).catch((error: unknown) => {
      throw new Error(`could not reach Redis: ${errorMessage(error)}`);
    });
    const result =
      command.command === "list"
        ? await listDeadLetters(target, command, io)
        : await replayDeadLetters(target, { ...command, maxLen: config.CLICK_STREAM_MAXLEN }, io);
    return result.failed ? 1 : 0;
  } finally {
    await connection.close();
  }
}
