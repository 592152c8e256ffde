/** Options for {@link openTextStream}. */
export interface TextStreamOptions {
  /** Text sent before the first item (a CSV header), even when there are no items. */
  prefix?: string;
  /**
   * What to send when the source fails after the response has started: a last piece of text (an
   * NDJSON error line) to end the body cleanly, or `undefined` to abort it, so the client sees a
   * truncated transfer rather than a body that looks complete.
   */
  onError?: (error: unknown) => string | undefined;
}

/**
 * Turns an async source into a response body, pull-driven: the next item is produced only when
 * the client has taken the last one, so a slow reader slows the source down instead of making the
 * server buffer — memory stays at about one item whatever the size of the whole.
 *
 * The first item is awaited before this resolves, so a failure that happens before anything was
 * sent (a database that cannot be reached, a bad CSV header) still becomes a proper error response.
 * When the client goes away, the source is closed (`return()`), which releases what it holds.
 *
 * @example
 * const body = await openTextStream(pages(), (rows) => rows.map(toLine).join(""));
 * return c.body(body, 200, { "Content-Type": "application/x-ndjson" });
 */
export async function openTextStream<T>(
  source: AsyncGenerator<T>,
  encode: (item: T) => string,
  options: TextStreamOptions = {},
): Promise<ReadableStream<Uint8Array>> {
  const encoder = new TextEncoder();
  let pending: IteratorResult<T> | undefined = await source.next();
  let prefix = options.prefix ?? "";
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let text = prefix;
        prefix = "";
        try {
          const next = pending ?? (await source.next());
          pending = undefined;
          if (next.done) {
            if (text) controller.enqueue(encoder.encode(text));
            controller.close();
            return;
          }
          text += encode(next.value);
        } catch (error) {
          const last = options.onError?.(error);
          if (last === undefined) return controller.error(error);
          controller.enqueue(encoder.encode(text + last));
          controller.close();
          return;
        }
        if (text) controller.enqueue(encoder.encode(text));
      },
      async cancel() {
        await source.return(undefined);
      },
    },
    // Nothing is produced ahead of the client: one item in flight at most.
    { highWaterMark: 0 },
  );
}
