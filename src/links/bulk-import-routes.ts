import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../auth/auth-middleware";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import { validationHook } from "../http/problem-handlers";
import { openTextStream } from "../http/streaming-response";
import { csvColumns, type ImportFormat } from "./bulk-import-records";
import { ImportAbort, type ImportLineResult, importLinks } from "./bulk-import-service";

const mediaTypes: Record<string, ImportFormat> = {
  "application/x-ndjson": "ndjson",
  "application/ndjson": "ndjson",
  "text/csv": "csv",
};

const resultLine = z
  .object({
    line: z.number().int().describe("Line of the body the result is for (a CSV record: its first line)"),
    status: z.enum(["created", "error"]),
    id: z.uuid().optional(),
    slug: z.string().optional(),
    shortUrl: z.string().optional(),
    error: z
      .object({
        code: z.string(),
        detail: z.string(),
        errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
      })
      .optional(),
  })
  .openapi("BulkImportResult");

const bulkImport = createRoute({
  method: "post",
  path: "/links/bulk",
  tags: ["links"],
  summary: "Create links from a streamed NDJSON or CSV body",
  description: [
    "The body is read as it arrives and links are created in batches (IMPORT_BATCH_SIZE). Each line is",
    "validated by the schema of `POST /links` and created under the same rules; a bad line or a taken slug",
    "(including one repeated within the body) fails alone. The response streams one NDJSON line per input",
    "line as soon as its batch is stored: `created` with id, slug and shortUrl, or `error` with the code,",
    "detail and field errors `POST /links` would answer. Blank lines are skipped.",
    `CSV: a header row naming columns among ${csvColumns.join(", ")}; tags are separated by \`;\`,`,
    "rules are a JSON array; quoted fields may span lines (a record's line is its first one).",
    "A body over IMPORT_MAX_BYTES is refused with 413 when Content-Length says so; otherwise the stream ends",
    "with an error line (code PAYLOAD_TOO_LARGE) and nothing after it is read. Idempotency-Key is refused:",
    "a streamed import is not replayed; re-sending lines with custom slugs reports them as taken.",
  ].join(" "),
  middleware: [requireScope("links:write")] as const,
  request: {
    body: {
      required: true,
      content: {
        "application/x-ndjson": {
          schema: z.string().openapi({ example: '{"url":"https://example.com","slug":"launch"}\n' }),
        },
        "text/csv": {
          schema: z.string().openapi({ example: "url,slug,tags\nhttps://example.com,launch,a;b\n" }),
        },
      },
    },
  },
  responses: {
    200: {
      description: "One result line per input line, streamed",
      content: { "application/x-ndjson": { schema: resultLine } },
    },
    400: { description: "Bad CSV header, or an Idempotency-Key" },
    401: { description: "No valid API key" },
    403: { description: "Missing scope" },
    413: { description: "Body larger than IMPORT_MAX_BYTES (Content-Length)" },
    415: { description: "Not NDJSON or CSV" },
  },
});

const encodeResults = (results: ImportLineResult[]) => results.map((r) => `${JSON.stringify(r)}\n`).join("");

/** `POST /links/bulk` under `/api/v1` (auth and rate limits are mounted by the app). */
export function createBulkImportRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(bulkImport, async (c) => {
    const { config, linkService, logger } = c.var.services;
    if (c.req.header("Idempotency-Key") !== undefined) {
      const message = "is not supported on a streamed bulk import";
      throw new AppError("VALIDATION_FAILED", {
        detail: `header.idempotency-key: ${message}`,
        errors: [{ field: "header.idempotency-key", message }],
      });
    }
    const essence = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase() ?? "";
    const format = mediaTypes[essence];
    if (!format) {
      throw new AppError("UNSUPPORTED_MEDIA_TYPE", {
        detail: "Send the links as application/x-ndjson or text/csv.",
      });
    }
    const declared = Number(c.req.header("Content-Length") ?? 0);
    if (declared > config.IMPORT_MAX_BYTES) {
      throw new AppError("PAYLOAD_TOO_LARGE", {
        detail: `The body is larger than IMPORT_MAX_BYTES (${config.IMPORT_MAX_BYTES} bytes).`,
      });
    }
    const deps = { linkService, logger, workspaceId: c.var.auth.workspaceId, localPort: config.PORT };
    const results = importLinks(deps, c.req.raw.body, {
      format,
      batchSize: config.IMPORT_BATCH_SIZE,
      maxBytes: config.IMPORT_MAX_BYTES,
    });
    let body: ReadableStream<Uint8Array>;
    try {
      body = await openTextStream(results, encodeResults, {
        // Once lines have been answered, a stop is the last line; before that it is the response.
        onError: (error) => {
          if (!(error instanceof ImportAbort)) return undefined;
          const { code, message, line } = error;
          return encodeResults([{ line, status: "error", error: { code, detail: message } }]);
        },
      });
    } catch (error) {
      if (error instanceof ImportAbort) throw new AppError(error.code, { detail: error.message });
      throw error;
    }
    return c.body(body as never, 200, {
      "Content-Type": "application/x-ndjson; charset=utf-8",
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    });
  });

  return app;
}
