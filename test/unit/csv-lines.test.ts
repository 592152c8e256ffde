import { describe, expect, it } from "vitest";
import { BodyTooLargeError, decodeText } from "../../src/http/streaming-body";
import { RecordTooLongError, splitLines } from "../../src/http/streaming-lines";

/** A byte stream handing out `bytes` in pieces of `size`. */
function byteStream(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> & { cancelled: boolean } {
  let at = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
    cancel() {
      stream.cancelled = true;
    },
  }) as ReadableStream<Uint8Array> & { cancelled: boolean };
  stream.cancelled = false;
  return stream;
}

const collect = async <T>(items: AsyncIterable<T>) => {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
};

describe("decodeText", () => {
  it("decodes UTF-8 split anywhere inside a character and drops a BOM", async () => {
    const bytes = new TextEncoder().encode("\uFEFFgrüße, 😀 ok");
    for (const size of [1, 2, 3, 5]) {
      expect((await collect(decodeText(byteStream(bytes, size)))).join("")).toBe("grüße, 😀 ok");
    }
  });

  it("yields up to the limit, then throws and cancels the rest of the body", async () => {
    const body = byteStream(new TextEncoder().encode("a".repeat(100)), 30);
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const text of decodeText(body, { maxBytes: 70 })) seen.push(text);
      })(),
    ).rejects.toBeInstanceOf(BodyTooLargeError);
    expect(seen.join("")).toBe("a".repeat(70));
    expect(body.cancelled).toBe(true);
  });

  it("turns bytes that are not UTF-8 into U+FFFD instead of failing", async () => {
    const text = (await collect(decodeText(byteStream(Uint8Array.of(0x61, 0xff, 0x62), 1)))).join("");
    expect(text).toBe("a\uFFFDb");
  });
});

describe("splitLines", () => {
  async function* chunks(...parts: string[]) {
    yield* parts;
  }

  it("numbers lines across chunk boundaries, strips CR, keeps a last line without newline", async () => {
    expect(await collect(splitLines(chunks("a\r", "\nb", "c\n\nd")))).toEqual([
      { line: 1, text: "a" },
      { line: 2, text: "bc" },
      { line: 3, text: "" },
      { line: 4, text: "d" },
    ]);
    expect(await collect(splitLines(chunks("")))).toEqual([]);
    expect(await collect(splitLines(chunks("x\n")))).toEqual([{ line: 1, text: "x" }]);
  });

  it("refuses a line longer than the bound, even one that never ends", async () => {
    await expect(collect(splitLines(chunks("ok\n", "y".repeat(40)), { maxChars: 30 }))).rejects.toEqual(
      new RecordTooLongError(2, 30),
    );
  });
});
