/**
 * A request body that yields the text pieces of `pieces` one at a time, pulled by the reader, so a
 * test can send a large body without holding it.
 */
export function streamedBody(pieces: Iterable<string> | AsyncIterable<string>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator =
    Symbol.asyncIterator in pieces
      ? (pieces as AsyncIterable<string>)[Symbol.asyncIterator]()
      : (pieces as Iterable<string>)[Symbol.iterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
  });
}

/** A body the test writes into by hand, line by line, and closes when it wants. */
export function handFedBody() {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  return {
    body,
    write: (text: string) => controller.enqueue(encoder.encode(text)),
    close: () => controller.close(),
  };
}

/** Reads an NDJSON response line by line as it arrives. */
export async function* ndjsonLines<T = Record<string, unknown>>(res: Response): AsyncGenerator<T> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let carry = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const parts = (carry + value).split("\n");
    carry = parts.pop()!;
    for (const part of parts) if (part) yield JSON.parse(part) as T;
  }
  if (carry) yield JSON.parse(carry) as T;
}

/** POSTs a streamed body to the bulk import as `key`. */
export function postBulk(
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
  key: string,
  body: BodyInit,
  contentType = "application/x-ndjson",
  headers: Record<string, string> = {},
): Promise<Response> {
  return Promise.resolve(
    app.request("/api/v1/links/bulk", {
      method: "POST",
      headers: { Authorization: `Bearer ${key}`, "Content-Type": contentType, ...headers },
      body,
      duplex: "half",
    } as RequestInit),
  );
}
