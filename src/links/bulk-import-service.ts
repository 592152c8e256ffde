import type { ErrorCode } from "../http/errors";
import { BodyTooLargeError, decodeText } from "../http/streaming-body";
import { RecordTooLongError } from "../http/streaming-lines";
import { type BatchDeps, type ImportLineResult, type StoredBatch, storeBatch } from "./bulk-import-batch";
import {
  type ImportFormat,
  ImportHeaderError,
  type ImportRecord,
  importRecords,
} from "./bulk-import-records";

export type { ImportLineResult } from "./bulk-import-batch";

/** Options of {@link importLinks}. */
export interface ImportOptions {
  format: ImportFormat;
  /** Links per INSERT. */
  batchSize: number;
  /** Bytes read at most (IMPORT_MAX_BYTES over HTTP; unbounded for the CLI). */
  maxBytes?: number;
  /** Batches stored at once (each one INSERT on its own connection). Default 3. */
  concurrency?: number;
  /** A batch that is not full is stored this long after its first line arrived. Default 50 ms. */
  flushAfterMs?: number;
}

/**
 * The import stopped before the end of the body (too large, an unreadable record, the database
 * gone). Every line before `line` has its result; nothing from `line` on was read or created.
 */
export class ImportAbort extends Error {
  override name = "ImportAbort";
  constructor(
    readonly code: ErrorCode,
    detail: string,
    readonly line: number,
  ) {
    super(detail);
  }
}

function abortFor(error: unknown, line: number, maxBytes: number | undefined): ImportAbort {
  if (error instanceof BodyTooLargeError) {
    const detail = `The body is larger than IMPORT_MAX_BYTES (${maxBytes} bytes); nothing from line ${line} on was read.`;
    return new ImportAbort("PAYLOAD_TOO_LARGE", detail, line);
  }
  if (error instanceof RecordTooLongError) {
    return new ImportAbort("VALIDATION_FAILED", `${error.message} The import stopped there.`, error.line);
  }
  if (error instanceof ImportHeaderError) return new ImportAbort("VALIDATION_FAILED", error.message, 1);
  throw error;
}

const flush = Symbol("flush");
const drained = Symbol("drained");

/**
 * Imports links from a streamed NDJSON or CSV body, yielding each batch's results, in body order,
 * as soon as that batch is stored. Every line is validated by the schema of POST /links and
 * created under the same rules (`linkService.createMany`); a bad line or a taken slug fails alone.
 *
 * Reading, validating and storing overlap: up to `concurrency` batches are in the database while
 * the next one is read, and that one waits, full, for the first INSERT to answer. A batch whose
 * INSERT answered no longer counts against `concurrency` while its cache invalidation runs (its
 * results still wait for it), but at most `concurrency + 1` batches are in flight — so memory
 * holds at most `concurrency + 2` batches whatever the size of the body. A batch that is not
 * full is stored `flushAfterMs` after its first line, so a slow sender sees results as it goes.
 *
 * Ends by throwing {@link ImportAbort} when it must stop early, after yielding every result before.
 *
 * @example
 * for await (const results of importLinks(deps, body, { format: "csv", batchSize: 500 }))
 *   for (const result of results) console.log(JSON.stringify(result));
 */
export async function* importLinks(
  deps: BatchDeps,
  body: ReadableStream<Uint8Array> | null,
  options: ImportOptions,
): AsyncGenerator<ImportLineResult[]> {
  const records = importRecords(decodeText(body, { maxBytes: options.maxBytes }), options.format);
  const concurrency = options.concurrency ?? 3;
  const flushAfterMs = options.flushAfterMs ?? 50;
  const inFlight: StoredBatch[] = [];
  let batch: ImportRecord[] = [];
  // Marked handled at once: a read that fails while nobody awaits it is reported, not unhandled.
  const read = () => {
    const next = records.next();
    next.catch(() => {});
    return next;
  };
  let pending: Promise<IteratorResult<ImportRecord>> | undefined = read();
  let due: Promise<typeof flush> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let flushed = false;
  let lastRead = 0;
  let lastAnswered = 0;
  let failure: unknown;
  let databaseFailed: ErrorCode | null = null;
  // One watcher per front batch, not one `.then` per line read.
  let watched: StoredBatch | undefined;
  let frontAnswered: Promise<typeof drained> | undefined;

  const inserting = () => inFlight.filter((stored) => stored.inserting);
  const startBatch = () => {
    clearTimeout(timer);
    due = undefined;
    flushed = false;
    if (batch.length > 0) inFlight.push(storeBatch(deps, batch, inFlight));
    batch = [];
  };

  try {
    while (pending || batch.length > 0 || inFlight.length > 0) {
      while (inFlight[0]?.settled) {
        const { results, failed } = await inFlight.shift()!.outcome;
        lastAnswered = results.at(-1)?.line ?? lastAnswered;
        yield results;
        if (failed && !databaseFailed) {
          // Stop reading; the batches already in flight still answer their lines.
          databaseFailed = failed;
          pending = undefined;
          batch = [];
        }
      }
      const ready = batch.length >= options.batchSize || (batch.length > 0 && (flushed || !pending));
      const busy = inserting();
      if (ready && busy.length < concurrency) {
        startBatch();
        continue;
      }
      // The next batch is read while the database holds `concurrency` inserts, so it starts the
      // moment one answers; batches waiting only for their cache invalidation are bounded too.
      if (!pending || ready || inFlight.length > concurrency) {
        const front = inFlight[0];
        if (front) await Promise.race([front.outcome, ...(busy[0] ? [busy[0].inserted] : [])]);
        continue;
      }
      let next: IteratorResult<ImportRecord> | typeof flush | typeof drained;
      try {
        const front = inFlight[0];
        if (front !== watched) {
          watched = front;
          frontAnswered = front?.outcome.then((): typeof drained => drained);
        }
        next = await Promise.race([
          pending,
          ...(due ? [due] : []),
          ...(frontAnswered ? [frontAnswered] : []),
        ]);
      } catch (error) {
        failure = error;
        pending = undefined;
        continue;
      }
      if (next === drained) continue;
      if (next === flush) {
        due = undefined;
        flushed = true;
        continue;
      }
      if (next.done) {
        pending = undefined;
        continue;
      }
      batch.push(next.value);
      lastRead = next.value.line;
      pending = read();
      if (batch.length < options.batchSize)
        due ??= new Promise((resolve) => {
          timer = setTimeout(() => resolve(flush), flushAfterMs);
        });
    }
    if (databaseFailed) {
      const line = lastAnswered + 1;
      const detail = `The database failed; nothing from line ${line} on was created.`;
      throw new ImportAbort(databaseFailed, detail, line);
    }
    if (failure !== undefined) throw abortFor(failure, lastRead + 1, options.maxBytes);
  } finally {
    clearTimeout(timer);
    // Stopped early: let go of the body (queued behind a read in flight, if any).
    records.return(undefined).catch(() => {});
  }
}
