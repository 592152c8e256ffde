import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import type { FieldDef, QueryArrayResult } from "pg";
import { DatabaseError } from "pg";

/** One statement as `@neondatabase/serverless` sends it: params are already text (or null). */
export interface NeonQuery {
  query: string;
  params: unknown[];
}

/** A parsed request body: one statement, or a batch that must run in one transaction. */
export type NeonRequest = { kind: "single"; query: NeonQuery } | { kind: "batch"; queries: NeonQuery[] };

/** What the driver's `processQueryResult` reads; `rows` hold raw Postgres text, never parsed values. */
export interface NeonResult {
  command: string;
  rowCount: number | null;
  fields: FieldDef[];
  rows: (string | null)[][] | Record<string, string | null>[];
  rowAsArray: boolean;
}

/** Thrown for requests the stand-in rejects before touching Postgres; `status` is the HTTP status. */
export class NeonRequestError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "NeonRequestError";
  }
}

/** The fields the driver copies from a 400 body onto its `NeonDbError` (its `errorFields` list). */
const neonErrorFields = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

function parseQuery(value: unknown, where: string): NeonQuery {
  if (typeof value !== "object" || value === null) {
    throw new NeonRequestError(400, `${where} must be an object`);
  }
  const { query, params } = value as Record<string, unknown>;
  if (typeof query !== "string") throw new NeonRequestError(400, `${where}.query must be a string`);
  if (params !== undefined && !Array.isArray(params)) {
    throw new NeonRequestError(400, `${where}.params must be an array`);
  }
  return { query, params: params ?? [] };
}

// Validates a decoded JSON body: `{query, params}` or `{queries: [{query, params}, …]}`.
function parseNeonRequest(body: unknown): NeonRequest {
  if (typeof body === "object" && body !== null && "queries" in body) {
    const { queries } = body as { queries: unknown };
    if (!Array.isArray(queries)) throw new NeonRequestError(400, "queries must be an array");
    return { kind: "batch", queries: queries.map((q, i) => parseQuery(q, `queries[${i}]`)) };
  }
  return { kind: "single", query: parseQuery(body, "body") };
}

// Local queries never come close; the cap keeps a runaway client from exhausting memory.
const maxBodyBytes = 10 * 1024 * 1024;

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new NeonRequestError(413, `Request body exceeds ${maxBodyBytes} bytes`);
    if (Number(req.headers["content-length"] ?? 0) > maxBodyBytes) return reject(tooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      // Past the limit keep draining (not destroying) the request so the 413 can still be delivered.
      if (size <= maxBodyBytes) chunks.push(chunk);
      else if (size - chunk.length <= maxBodyBytes) {
        chunks.length = 0;
        reject(tooLarge());
      }
    });
    req.on("error", reject);
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

/** Reads and validates a request body (10 MB cap → 413, bad JSON or shape → 400). */
export async function readNeonRequest(req: IncomingMessage): Promise<NeonRequest> {
  const text = await readBody(req);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new NeonRequestError(400, "Request body is not valid JSON");
  }
  return parseNeonRequest(json);
}

/** Converts a pg result (fetched with `rowMode: "array"` and no-op parsers) to Neon's JSON shape. */
export function toNeonResult(result: QueryArrayResult<(string | null)[]>, arrayMode: boolean): NeonResult {
  const fields = result.fields.map(
    ({ name, tableID, columnID, dataTypeID, dataTypeSize, dataTypeModifier, format }) => ({
      name,
      tableID,
      columnID,
      dataTypeID,
      dataTypeSize,
      dataTypeModifier,
      format,
    }),
  );
  // Object rows lose duplicate column names (last one wins), exactly as the driver's own mapping does.
  const rows = arrayMode
    ? result.rows
    : result.rows.map((row) =>
        Object.fromEntries(row.map((value, i) => [fields[i]?.name ?? "?column?", value])),
      );
  return { command: result.command, rowCount: result.rowCount, fields, rows, rowAsArray: arrayMode };
}

/** Maps any failure to the HTTP status and JSON body the driver turns into a `NeonDbError`. */
export function toNeonError(error: unknown): { status: number; body: Record<string, unknown> } {
  if (error instanceof NeonRequestError) return { status: error.status, body: { message: error.message } };
  if (error instanceof DatabaseError) {
    const body: Record<string, unknown> = { message: error.message };
    for (const field of neonErrorFields) if (error[field] !== undefined) body[field] = error[field];
    return { status: 400, body };
  }
  // Connection failures etc. carry Node error codes (ECONNREFUSED), not SQLSTATEs: pass the message only.
  return { status: 400, body: { message: error instanceof Error ? error.message : String(error) } };
}

const isolationLevels: Record<string, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

/** Reads a header as one string (the first if repeated). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function booleanHeader(headers: IncomingHttpHeaders, name: string): boolean | undefined {
  const value = headerValue(headers, name);
  if (value === undefined) return undefined;
  if (value === "true" || value === "false") return value === "true";
  throw new NeonRequestError(400, `${name} must be "true" or "false"`);
}

/** `Neon-Array-Mode`; Neon defaults to object rows, although the 1.x driver always sends `true`. */
export function arrayModeFrom(headers: IncomingHttpHeaders): boolean {
  return booleanHeader(headers, "neon-array-mode") ?? false;
}

/** Builds the `BEGIN …` for a batch from the `Neon-Batch-*` headers; absent headers keep server defaults. */
export function beginStatementFrom(headers: IncomingHttpHeaders): string {
  const parts = ["BEGIN"];
  const level = headerValue(headers, "neon-batch-isolation-level");
  if (level !== undefined) {
    const sql = isolationLevels[level];
    if (sql === undefined) throw new NeonRequestError(400, `Unknown Neon-Batch-Isolation-Level: ${level}`);
    parts.push(`ISOLATION LEVEL ${sql}`);
  }
  const readOnly = booleanHeader(headers, "neon-batch-read-only");
  if (readOnly !== undefined) parts.push(readOnly ? "READ ONLY" : "READ WRITE");
  const deferrable = booleanHeader(headers, "neon-batch-deferrable");
  if (deferrable !== undefined) parts.push(deferrable ? "DEFERRABLE" : "NOT DEFERRABLE");
  return parts.join(" ");
}

/**
 * The backing Postgres URL for a request: user, password and database come from the
 * `Neon-Connection-String` header (so one stand-in serves several databases, e.g. per test run);
 * host, port and query options always come from the configured URL, since the header's host is
 * whatever the Worker was configured with and its options (sslmode, application_name) are Neon's.
 */
export function targetUrlFor(configuredUrl: string, connectionString: string | undefined): string {
  if (connectionString === undefined) return configuredUrl;
  let requested: URL;
  try {
    requested = new URL(connectionString);
  } catch {
    throw new NeonRequestError(400, "Neon-Connection-String is not a valid URL");
  }
  const target = new URL(configuredUrl);
  if (requested.username) {
    target.username = requested.username;
    target.password = requested.password;
  }
  if (requested.pathname.length > 1) target.pathname = requested.pathname;
  return target.toString();
}
