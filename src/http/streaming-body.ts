/** The body went past its byte limit; what came before the limit has been yielded. */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
  constructor(readonly maxBytes: number) {
    super(`The body is larger than ${maxBytes} bytes.`);
  }
}

/**
 * Reads a byte stream as UTF-8 text chunks, holding one chunk at a time, so memory stays flat
 * whatever the size of the body. Past `maxBytes` it yields the text up to the limit and then throws
 * {@link BodyTooLargeError}; the rest of the body is cancelled, never read. A leading BOM is
 * dropped; bytes that are not UTF-8 become U+FFFD, so one bad line cannot abort the whole body.
 *
 * @example
 * for await (const text of decodeText(request.body, { maxBytes: 1 << 20 })) process(text);
 */
export async function* decodeText(
  body: ReadableStream<Uint8Array> | null,
  options: { maxBytes?: number } = {},
): AsyncGenerator<string> {
  if (!body) return;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  const reader = body.getReader();
  const decoder = new TextDecoder("utf-8");
  let received = 0;
  let finished = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.byteLength;
      if (received > maxBytes) {
        const allowed = value.subarray(0, value.byteLength - (received - maxBytes));
        const text = decoder.decode(allowed, { stream: true });
        if (text) yield text;
        throw new BodyTooLargeError(maxBytes);
      }
      const text = decoder.decode(value, { stream: true });
      if (text) yield text;
    }
    finished = true;
    const tail = decoder.decode();
    if (tail) yield tail;
  } finally {
    // Stopped early (limit, error, or the consumer went away): tell the sender we are done.
    if (!finished) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}
