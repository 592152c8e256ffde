import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { requireScope } from "../auth/auth-middleware";
import type { AppEnv } from "../http/app-env";
import { AppError } from "../http/errors";
import { validationHook } from "../http/problem-handlers";
import { openTextStream } from "../http/streaming-response";
import { exportEncodings, exportFileName } from "./export-format";
import { clickPages } from "./export-repository";
import { instant } from "./stats-schemas";

const exportQuery = z.object({
  from: instant.openapi({ description: "First instant included" }),
  to: instant.openapi({ description: "End, exclusive" }),
  linkId: z.uuid().optional().openapi({ description: "Only this link's clicks" }),
  format: z.enum(["ndjson", "csv"]).default("ndjson"),
});

const exportClicks = createRoute({
  method: "get",
  path: "/clicks/export",
  tags: ["analytics"],
  summary: "Raw click events of the workspace, streamed as NDJSON or CSV",
  description: [
    "Streamed page by page with keyset pagination over (occurredAt, eventId), so the server holds one page",
    "whatever the size of the export. Oldest first. Only clicks still within CLICK_RETENTION_DAYS exist;",
    "bots and previews are included (see `traffic`), HEAD and prefetch requests are never stored.",
    "Neither the visitor IP (never stored) nor the visitor hash is exported.",
    "CSV follows RFC 4180 (header row, CRLF, fields with comma, quote, CR or LF quoted, quotes doubled);",
    "a text cell starting with = + - @, tab or CR gets a leading ' so that spreadsheets show it as text",
    "instead of running it as a formula. A failure after the first byte aborts the transfer (no clean end).",
  ].join(" "),
  middleware: [requireScope("analytics:read")] as const,
  request: { query: exportQuery },
  responses: {
    200: {
      description: "The clicks, as an attachment",
      content: { "application/x-ndjson": { schema: z.string() }, "text/csv": { schema: z.string() } },
    },
    400: { description: "Invalid range or parameter" },
    401: { description: "No valid API key" },
    403: { description: "Missing scope" },
    404: { description: "linkId names no link of this workspace" },
  },
});

/** `GET /clicks/export` under `/api/v1` (auth and rate limits are mounted by the app). */
export function createExportRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(exportClicks, async (c) => {
    const { from, to, linkId, format } = c.req.valid("query");
    const { services, auth } = c.var;
    if (from >= to) {
      throw new AppError("VALIDATION_FAILED", {
        detail: "query.to: must be after from",
        errors: [{ field: "query.to", message: "must be after from" }],
      });
    }
    if (linkId && !(await services.linkService.get(auth.workspaceId, linkId)).ok) {
      throw new AppError("NOT_FOUND", { detail: "No link with this id." });
    }
    const encoding = exportEncodings[format];
    const filter = { workspaceId: auth.workspaceId, from, to, ...(linkId ? { linkId } : {}) };
    const pages = clickPages(services.db.replica, filter, services.config.EXPORT_PAGE_SIZE);
    const body = await openTextStream(pages, encoding.page, {
      prefix: encoding.header,
      onError: (error) => {
        services.logger.error("click export failed mid-stream", {
          requestId: c.get("requestId"),
          error: error instanceof Error ? { name: error.name, message: error.message } : String(error),
        });
        return undefined;
      },
    });
    return c.body(body as never, 200, {
      "Content-Type": encoding.contentType,
      "Content-Disposition": `attachment; filename="${exportFileName(from, to, format)}"`,
      "Cache-Control": "no-store",
      "X-Content-Type-Options": "nosniff",
    });
  });

  return app;
}
