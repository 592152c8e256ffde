import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable, type Writable } from "node:stream";
import { type ExportFormat, exportEncodings } from "../analytics/export-format";
import { type ClickExportFilter, clickPages, countClicks } from "../analytics/export-repository";
import type { ImportFormat } from "../links/bulk-import-records";
import { ImportAbort, importLinks } from "../links/bulk-import-service";
import type { Services } from "../services";
import { createProgress } from "./admin-progress";

/** Writes `text`, waiting for the stream to drain when it is full: memory follows the slowest side. */
async function write(out: Writable, text: string): Promise<void> {
  if (text && !out.write(text)) await once(out, "drain");
}

async function finish(out: Writable): Promise<void> {
  if (out === process.stdout) return;
  out.end();
  await once(out, "finish");
}

/**
 * `import FILE`: the bulk import of the API, straight against the database through the same
 * services, reading the file as a stream. One NDJSON result line per input line goes to `out`
 * (stdout), the progress bar to stderr; the ETA follows the share of the file read.
 */
export async function importFile(
  services: Services,
  options: { workspaceId: string; file: string; format: ImportFormat; out?: Writable },
) {
  const out = options.out ?? process.stdout;
  const { size } = await stat(options.file);
  let bytes = 0;
  const file = Readable.toWeb(createReadStream(options.file)) as unknown as ReadableStream<Uint8Array>;
  const counted = file.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
    }),
  );
  const progress = createProgress({ label: "import", total: size, out: process.stderr });
  const summary = { imported: 0, failed: 0, aborted: null as string | null };
  const deps = {
    linkService: services.linkService,
    logger: services.logger,
    workspaceId: options.workspaceId,
    localPort: services.config.PORT,
  };
  const results = importLinks(deps, counted, {
    format: options.format,
    batchSize: services.config.IMPORT_BATCH_SIZE,
  });
  try {
    for await (const batch of results) {
      for (const result of batch) summary[result.status === "created" ? "imported" : "failed"] += 1;
      await write(out, batch.map((result) => `${JSON.stringify(result)}\n`).join(""));
      progress.update({ rows: summary.imported + summary.failed, done: bytes });
    }
  } catch (error) {
    if (!(error instanceof ImportAbort)) throw error;
    const { code, message, line } = error;
    await write(out, `${JSON.stringify({ line, status: "error", error: { code, detail: message } })}\n`);
    summary.aborted = message;
  }
  progress.finish({ rows: summary.imported + summary.failed, done: bytes });
  await finish(out);
  return { import: summary, failed: summary.failed > 0 || summary.aborted !== null };
}

/**
 * `export`: the click export of the API to a file (or stdout), page by page with the same keyset
 * pagination; a count(*) first gives the progress bar its total and ETA.
 */
export async function exportFile(
  services: Services,
  options: ClickExportFilter & { format: ExportFormat; out?: string },
) {
  const { format, out: path, ...filter } = options;
  const db = services.db.replica;
  const total = await countClicks(db, filter);
  const encoding = exportEncodings[format];
  const out = path ? createWriteStream(path) : process.stdout;
  const progress = createProgress({ label: "export", total, out: process.stderr });
  let rows = 0;
  await write(out, encoding.header);
  for await (const page of clickPages(db, filter, services.config.EXPORT_PAGE_SIZE)) {
    await write(out, encoding.page(page));
    rows += page.length;
    progress.update({ rows, done: rows });
  }
  progress.finish({ rows, done: rows });
  await finish(out);
  return { export: { rows, format, file: path ?? null } };
}
