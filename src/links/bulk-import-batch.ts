import type { ErrorCode } from "../http/errors";
import { fieldErrors } from "../http/problem-handlers";
import type { Logger } from "../platform/log/logger";
import { isUnavailableError } from "../platform/unavailable-error";
import type { ImportLineError, ImportRecord } from "./bulk-import-records";
import { createLinkSchema, shortUrl } from "./link-schemas";
import type { LinkInput, LinkService } from "./link-service";
import { toError } from "./links-routes";

/** The answer to one input line. */
export type ImportLineResult =
  | { line: number; status: "created"; id: string; slug: string; shortUrl: string }
  | { line: number; status: "error"; error: ImportLineError };

/** A batch on its way to the database; `outcome` never rejects. */
export interface StoredBatch {
  /** Custom slugs of the batch: a later batch naming one of them waits for this one. */
  slugs: Set<string>;
  /** `failed` is the code of a database failure, which stops the import. */
  outcome: Promise<{ results: ImportLineResult[]; failed: ErrorCode | null }>;
  settled: boolean;
  /**
   * Resolves once the batch is off the database (its INSERT answered, or it failed): its results
   * may still wait for the cache invalidation, but it no longer holds one of the import's inserts.
   */
  inserted: Promise<void>;
  inserting: boolean;
}

export interface BatchDeps {
  linkService: LinkService;
  logger: Logger;
  workspaceId: string;
  /** PORT, for the `shortUrl` of a link on localhost (see {@link shortUrl}). */
  localPort: number;
}

/**
 * Validates a batch at once (the schema of POST /links) and stores its valid lines with one
 * `linkService.createMany`, after every earlier batch still in flight that names one of its slugs —
 * so when two lines of a body claim a slug, the earlier line wins, whatever the concurrency.
 * A database failure answers every valid line of the batch with an error and sets `failed`.
 */
export function storeBatch(
  deps: BatchDeps,
  batch: ImportRecord[],
  inFlight: readonly StoredBatch[],
): StoredBatch {
  const results: ImportLineResult[] = new Array(batch.length);
  const valid: { at: number; input: LinkInput }[] = [];
  const slugs = new Set<string>();
  batch.forEach((record, at) => {
    const { line } = record;
    if ("error" in record) {
      results[at] = { line, status: "error", error: record.error };
      return;
    }
    const parsed = createLinkSchema.safeParse(record.input);
    if (parsed.success) {
      valid.push({ at, input: parsed.data });
      if (parsed.data.slug) slugs.add(parsed.data.slug);
      return;
    }
    const errors = fieldErrors("json", parsed.error);
    const detail = errors.map((e) => `${e.field}: ${e.message}`).join("; ");
    results[at] = { line, status: "error", error: { code: "VALIDATION_FAILED", detail, errors } };
  });
  const blockers = inFlight.filter((other) => [...slugs].some((slug) => other.slugs.has(slug)));

  let leaveDatabase!: () => void;
  const inserted = new Promise<void>((resolve) => {
    leaveDatabase = resolve;
  });
  const outcome = (async () => {
    await Promise.all(blockers.map((other) => other.outcome));
    try {
      const created = await deps.linkService.createMany(
        deps.workspaceId,
        valid.map(({ input }) => input),
        () => {
          stored.inserting = false;
          leaveDatabase();
        },
      );
      created.forEach((result, i) => {
        const { at } = valid[i]!;
        const { line } = batch[at]!;
        if (result.ok) {
          const { id, slug, domain } = result.value;
          results[at] = {
            line,
            status: "created",
            id,
            slug,
            shortUrl: shortUrl(domain, slug, deps.localPort),
          };
          return;
        }
        const { code, message, errors } = toError(result.failure);
        results[at] = {
          line,
          status: "error",
          error: { code, detail: message, ...(errors ? { errors } : {}) },
        };
      });
      return { results, failed: null };
    } catch (error) {
      const code: ErrorCode = isUnavailableError(error) ? "DEPENDENCY_UNAVAILABLE" : "INTERNAL";
      deps.logger.error("bulk import batch failed", {
        error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
      });
      const detail = "Not created: the batch holding this line could not be stored.";
      for (const { at } of valid)
        results[at] = { line: batch[at]!.line, status: "error", error: { code, detail } };
      return { results, failed: code };
    }
  })();
  const stored: StoredBatch = { slugs, outcome, settled: false, inserted, inserting: true };
  outcome.then(() => {
    stored.settled = true;
    stored.inserting = false;
    leaveDatabase();
  });
  return stored;
}
