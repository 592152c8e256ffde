import { csvRow } from "../http/streaming-csv";
import type { ExportedClick } from "./export-repository";

export type ExportFormat = "ndjson" | "csv";

const columns = [
  "eventId",
  "linkId",
  "occurredAt",
  "traffic",
  "reason",
  "country",
  "device",
  "browser",
  "os",
  "referrerHost",
] as const satisfies readonly (keyof ExportedClick)[];

const cells = (click: ExportedClick) =>
  columns.map((column) => (column === "occurredAt" ? click.occurredAt.toISOString() : click[column]));

/** How an export is written: its media type, file extension, header text and one page's text. */
export interface ExportEncoding {
  contentType: string;
  extension: string;
  header: string;
  page(clicks: ExportedClick[]): string;
}

/**
 * NDJSON (one JSON object per line) or CSV (RFC 4180: a header row, CRLF, quoting where needed,
 * and a leading `'` on text a spreadsheet would run as a formula — see `csvCell`).
 */
export const exportEncodings: Record<ExportFormat, ExportEncoding> = {
  ndjson: {
    contentType: "application/x-ndjson; charset=utf-8",
    extension: "ndjson",
    header: "",
    page: (clicks) => clicks.map((click) => `${JSON.stringify(click)}\n`).join(""),
  },
  csv: {
    contentType: "text/csv; charset=utf-8; header=present",
    extension: "csv",
    header: csvRow(columns),
    page: (clicks) => clicks.map((click) => csvRow(cells(click))).join(""),
  },
};

/** `clicks-<from>-<to>.<ext>` with colons left out of the instants, so every OS takes the name. */
export function exportFileName(from: Date, to: Date, format: ExportFormat): string {
  const compact = (date: Date) =>
    date
      .toISOString()
      .replace(/\.000Z$/, "Z")
      .replaceAll(":", "");
  return `clicks-${compact(from)}-${compact(to)}.${exportEncodings[format].extension}`;
}
