import type { ErrorCode, FieldError } from "../http/errors";
import { parseCsv } from "../http/streaming-csv";
import { splitLines } from "../http/streaming-lines";

export type ImportFormat = "ndjson" | "csv";

/** Why one input line was not created, as POST /links would have answered it. */
export interface ImportLineError {
  code: ErrorCode;
  detail: string;
  errors?: FieldError[];
}

/** One input record: the line it starts on and either the link fields it names or why it cannot. */
export type ImportRecord = { line: number; input: unknown } | { line: number; error: ImportLineError };

/** A CSV header edgelink cannot map onto link fields; nothing was imported. */
export class ImportHeaderError extends Error {
  override name = "ImportHeaderError";
}

const textColumns = [
  "url",
  "slug",
  "domain",
  "title",
  "expiresAt",
  "expiredUrl",
  "cacheControl",
  "password",
] as const;
const numberColumns = ["maxClicks", "redirectStatus"] as const;
const utmColumns = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"] as const;
/**
 * The CSV columns: the fields of POST /links, `tags` separated by `;`, `utm` spread over its five
 * `utm_*` columns, `rules` as a JSON array. An empty cell leaves the field out.
 */
export const csvColumns: readonly string[] = [
  ...textColumns,
  ...numberColumns,
  ...utmColumns,
  "tags",
  "rules",
];

const invalid = (detail: string): ImportLineError => ({ code: "VALIDATION_FAILED", detail });
/** The decoder turns bytes that are not UTF-8 into U+FFFD; a line holding one is refused alone. */
const notUtf8 = (text: string) => text.includes("\uFFFD");

async function* ndjsonRecords(text: AsyncIterable<string>): AsyncGenerator<ImportRecord> {
  for await (const { line, text: json } of splitLines(text)) {
    if (json.trim() === "") continue;
    if (notUtf8(json)) {
      yield { line, error: invalid("The line is not valid UTF-8.") };
      continue;
    }
    try {
      yield { line, input: JSON.parse(json) };
    } catch (error) {
      yield { line, error: invalid(`The line is not valid JSON: ${(error as Error).message}`) };
    }
  }
}

function headerOf(fields: string[]): string[] {
  const header = fields.map((name) => name.trim());
  const unknown = header.filter((name) => !csvColumns.includes(name));
  if (unknown.length > 0) {
    throw new ImportHeaderError(
      `CSV header: unknown column ${unknown.map((name) => JSON.stringify(name)).join(", ")}; the columns are ${csvColumns.join(", ")}.`,
    );
  }
  const repeated = header.find((name, at) => header.indexOf(name) !== at);
  if (repeated) throw new ImportHeaderError(`CSV header: column "${repeated}" appears twice.`);
  if (!header.includes("url")) throw new ImportHeaderError('CSV header: the "url" column is required.');
  return header;
}

/** The link fields one CSV record names; a value of the wrong type is left for the schema to name. */
function csvInput(header: string[], cells: string[]): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  const utm: Record<string, string> = {};
  header.forEach((name, at) => {
    const cell = cells[at]!;
    if (cell === "") return;
    if (name === "tags") {
      input.tags = cell
        .split(";")
        .map((tag) => tag.trim())
        .filter(Boolean);
    } else if (name === "rules") {
      try {
        input.rules = JSON.parse(cell);
      } catch {
        input.rules = cell;
      }
    } else if ((utmColumns as readonly string[]).includes(name)) {
      utm[name] = cell;
    } else if ((numberColumns as readonly string[]).includes(name)) {
      input[name] = /^-?\d+$/.test(cell.trim()) ? Number(cell) : cell;
    } else {
      input[name] = cell;
    }
  });
  if (Object.keys(utm).length > 0) input.utm = utm;
  return input;
}

async function* csvRecords(text: AsyncIterable<string>): AsyncGenerator<ImportRecord> {
  let header: string[] | undefined;
  for await (const record of parseCsv(text)) {
    if (!header) {
      if (record.error) throw new ImportHeaderError(`CSV header: ${record.error}.`);
      header = headerOf(record.fields);
      continue;
    }
    const { line, fields, error } = record;
    if (error) yield { line, error: invalid(`The CSV record is malformed: ${error}.`) };
    else if (fields.some(notUtf8)) yield { line, error: invalid("The record is not valid UTF-8.") };
    else if (fields.length !== header.length) {
      yield {
        line,
        error: invalid(`The CSV record has ${fields.length} fields; the header names ${header.length}.`),
      };
    } else yield { line, input: csvInput(header, fields) };
  }
}

/**
 * The records of an import body as they arrive: one per NDJSON line (blank lines skipped) or per
 * CSV record after the header row. A record that cannot even be read as link fields carries its
 * error, and the ones after it go on. A CSV header that names no known columns throws
 * {@link ImportHeaderError} before any record.
 */
export function importRecords(
  text: AsyncIterable<string>,
  format: ImportFormat,
): AsyncGenerator<ImportRecord> {
  return format === "csv" ? csvRecords(text) : ndjsonRecords(text);
}
