import { describe, expect, it } from "vitest";
import { csvCell, csvRow, parseCsv } from "../../src/http/streaming-csv";
import { RecordTooLongError } from "../../src/http/streaming-lines";

async function* chunked(text: string, size: number): AsyncGenerator<string> {
  for (let at = 0; at < text.length; at += size) yield text.slice(at, at + size);
}

const parse = async (text: string, size = text.length || 1, maxChars?: number) => {
  const records = [];
  for await (const record of parseCsv(chunked(text, size), maxChars ? { maxChars } : {}))
    records.push(record);
  return records;
};

/** Every way of cutting `text` into chunks gives the same records as one chunk. */
async function parseEveryWay(text: string) {
  const whole = await parse(text);
  for (let size = 1; size <= Math.min(text.length, 12); size += 1) {
    expect(await parse(text, size), `chunks of ${size}`).toEqual(whole);
  }
  return whole;
}

describe("CSV parser", () => {
  it("reads plain records with LF and CRLF endings, skipping blank lines", async () => {
    expect(await parseEveryWay("a,b,c\r\n1,2,3\n\n\r\nx,,z")).toEqual([
      { line: 1, fields: ["a", "b", "c"] },
      { line: 2, fields: ["1", "2", "3"] },
      { line: 5, fields: ["x", "", "z"] },
    ]);
  });

  it("reads quoted fields with commas, doubled quotes and line breaks, numbering records by their first line", async () => {
    const text = 'url,title\n"https://e.com/a,b","He said ""hi""\r\nand left"\nhttps://e.com/c,"",\n';
    expect(await parseEveryWay(text)).toEqual([
      { line: 1, fields: ["url", "title"] },
      { line: 2, fields: ["https://e.com/a,b", 'He said "hi"\r\nand left'] },
      { line: 4, fields: ["https://e.com/c", "", ""] },
    ]);
  });

  it("flags malformed records and carries on with the next one", async () => {
    const records = await parseEveryWay('"a"b,c\nok,1\n"open,2\nnever closed');
    expect(records[0]).toMatchObject({
      line: 1,
      fields: ["ab", "c"],
      error: expect.stringMatching(/closing quote/),
    });
    expect(records[1]).toEqual({ line: 2, fields: ["ok", "1"] });
    expect(records[2]).toMatchObject({ line: 3, error: expect.stringMatching(/not closed/) });
  });

  it("keeps a quote inside an unquoted field as text, and a lone trailing newline adds no record", async () => {
    expect(await parseEveryWay('a"b,c\n')).toEqual([{ line: 1, fields: ['a"b', "c"] }]);
  });

  it("refuses a record longer than the bound instead of buffering it", async () => {
    await expect(parse(`"${"x".repeat(100)}`, 7, 50)).rejects.toBeInstanceOf(RecordTooLongError);
  });

  it("round-trips what csvRow writes, whatever the cell holds", async () => {
    const rows = [
      ["plain", "with,comma", 'with "quote"', "line\nbreak", "cr\rlf\r\n", "", "ünïcødé"],
      ["=1+1", "+x", "-2", "@SUM(A1)", "\tTab", 42, -3],
    ];
    const text = rows.map((cells) => csvRow(cells)).join("");
    const parsed = await parseEveryWay(text);
    expect(parsed.map((r) => r.fields)).toEqual([
      rows[0],
      ["'=1+1", "'+x", "'-2", "'@SUM(A1)", "'\tTab", "42", "-3"],
    ]);
  });
});

describe("CSV cells", () => {
  it("quotes only what needs it and doubles quotes (RFC 4180)", () => {
    expect(csvCell("abc")).toBe("abc");
    expect(csvCell("a,b")).toBe('"a,b"');
    expect(csvCell('say "x"')).toBe('"say ""x"""');
    expect(csvCell("a\nb")).toBe('"a\nb"');
    expect(csvCell(null)).toBe("");
    expect(csvRow(["a", 1, null])).toBe("a,1,\r\n");
  });

  it("defuses cells a spreadsheet would run as formulas, but not numbers", () => {
    expect(csvCell('=HYPERLINK("http://x")')).toBe('"\'=HYPERLINK(""http://x"")"');
    expect(csvCell("@cmd")).toBe("'@cmd");
    expect(csvCell(-5)).toBe("-5");
  });
});
