import { defaultMaxRecordChars, RecordTooLongError } from "./streaming-lines";

/** One CSV record: the line it starts on (from 1), its fields, and what was wrong with it if anything. */
export interface CsvRecord {
  line: number;
  fields: string[];
  error?: string;
}

type State = "start" | "unquoted" | "quoted" | "quote" | "after";

/**
 * Parses RFC 4180 CSV from text chunks as they arrive, holding one record at a time. Quoted fields
 * may hold commas, doubled quotes and line breaks (kept as sent); records end with LF or CRLF; blank
 * lines are skipped. A malformed record (text after a closing quote, an unterminated quote) is
 * still yielded, with `error` set, so the caller can report it and go on. A record longer than
 * `maxChars` throws {@link RecordTooLongError}: past a runaway quote there is no way to resync.
 *
 * @example
 * for await (const record of parseCsv(decodeText(body))) console.log(record.line, record.fields);
 */
export async function* parseCsv(
  chunks: AsyncIterable<string>,
  options: { maxChars?: number } = {},
): AsyncGenerator<CsvRecord> {
  const maxChars = options.maxChars ?? defaultMaxRecordChars;
  let state: State = "start";
  let fields: string[] = [];
  let field = "";
  let size = 0;
  let line = 1;
  let recordLine = 1;
  let error: string | undefined;

  const append = (text: string) => {
    field += text;
    size += text.length;
    if (size > maxChars) throw new RecordTooLongError(recordLine, maxChars);
  };
  const endField = (atLineEnd = false) => {
    // The last unquoted field of a CRLF record carries the CR; it belongs to the line break.
    const crlf = atLineEnd && state === "unquoted" && field.endsWith("\r");
    fields.push(crlf ? field.slice(0, -1) : field);
    field = "";
  };
  const takeRecord = (): CsvRecord | undefined => {
    const blank = fields.length === 0 && (state === "start" || (state === "unquoted" && field === "\r"));
    if (!blank) endField(true);
    const record = blank ? undefined : { line: recordLine, fields, ...(error ? { error } : {}) };
    fields = [];
    field = "";
    size = 0;
    error = undefined;
    state = "start";
    return record;
  };
  const malformed = (message: string) => {
    error ??= message;
  };

  for await (const chunk of chunks) {
    let i = 0;
    while (i < chunk.length) {
      if (state === "quoted") {
        const close = chunk.indexOf('"', i);
        const end = close === -1 ? chunk.length : close;
        for (let nl = chunk.indexOf("\n", i); nl !== -1 && nl < end; nl = chunk.indexOf("\n", nl + 1))
          line += 1;
        append(chunk.slice(i, end));
        i = end + 1;
        if (close !== -1) state = "quote";
        continue;
      }
      if (state === "unquoted") {
        let end = i;
        while (end < chunk.length && chunk[end] !== "," && chunk[end] !== "\n") end += 1;
        append(chunk.slice(i, end));
        i = end;
        if (i === chunk.length) break;
      }
      // At a delimiter, or at the first character of a field, or just past a closing quote.
      const char = chunk[i]!;
      if (char === ",") {
        endField();
        state = "start";
        i += 1;
      } else if (char === "\n") {
        line += 1;
        const record = takeRecord();
        recordLine = line;
        i += 1;
        if (record) yield record;
      } else if (state === "start") {
        if (char === '"') i += 1;
        state = char === '"' ? "quoted" : "unquoted";
      } else if (state === "quote" && char === '"') {
        append('"');
        state = "quoted";
        i += 1;
      } else if (char === "\r") {
        state = "after";
        i += 1;
      } else {
        malformed("text after the closing quote of a field (a quote inside a quoted field is doubled)");
        state = "unquoted";
      }
    }
  }
  if (state === "quoted") malformed("a quoted field is not closed before the end of the body");
  const last = takeRecord();
  if (last) yield last;
}

/** Characters that make a spreadsheet read a cell as a formula (CSV injection, OWASP). */
const formulaStart = /^[=+\-@\t\r]/;
const needsQuotes = /[",\r\n]/;

/**
 * One CSV cell: quoted when it holds a comma, quote, CR or LF (quotes doubled, RFC 4180). A text
 * value a spreadsheet would run as a formula (starting with = + - @, tab or CR) gets a leading `'`
 * so it shows as text; numbers are written as they are. `null` is an empty cell.
 */
export function csvCell(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return String(value);
  const text = formulaStart.test(value) ? `'${value}` : value;
  return needsQuotes.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One CSV record ending in CRLF (RFC 4180). */
export function csvRow(cells: readonly (string | number | null | undefined)[]): string {
  return `${cells.map(csvCell).join(",")}\r\n`;
}
