/** One line of a text stream, numbered from 1, without its `\n` or `\r\n`. */
export interface TextLine {
  line: number;
  text: string;
}

/** A line (or CSV record) grew past the bound that keeps a streamed parse's memory flat. */
export class RecordTooLongError extends Error {
  override name = "RecordTooLongError";
  constructor(
    readonly line: number,
    readonly maxChars: number,
  ) {
    super(`Line ${line} is longer than ${maxChars} characters.`);
  }
}

/** Longest line or record a streamed parse holds by default (1 Mi characters). */
export const defaultMaxRecordChars = 1 << 20;

/**
 * Splits text chunks into lines as they arrive, holding at most one partial line between chunks.
 * A last line without a final newline is yielded too; an empty input yields nothing. A line longer
 * than `maxChars` throws {@link RecordTooLongError}, so a body without newlines cannot fill memory.
 *
 * @example
 * for await (const { line, text } of splitLines(decodeText(body))) console.log(line, text);
 */
export async function* splitLines(
  chunks: AsyncIterable<string>,
  options: { maxChars?: number } = {},
): AsyncGenerator<TextLine> {
  const maxChars = options.maxChars ?? defaultMaxRecordChars;
  let carry = "";
  let line = 0;
  const strip = (text: string) => (text.endsWith("\r") ? text.slice(0, -1) : text);
  for await (const chunk of chunks) {
    const text = carry + chunk;
    let start = 0;
    for (let end = text.indexOf("\n"); end !== -1; end = text.indexOf("\n", start)) {
      line += 1;
      if (end - start > maxChars) throw new RecordTooLongError(line, maxChars);
      yield { line, text: strip(text.slice(start, end)) };
      start = end + 1;
    }
    carry = text.slice(start);
    if (carry.length > maxChars) throw new RecordTooLongError(line + 1, maxChars);
  }
  if (carry.length > 0) yield { line: line + 1, text: strip(carry) };
}
