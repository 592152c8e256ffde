import { inflateSync } from "node:zlib";
import jsQR from "jsqr";
import { describe, expect, it } from "vitest";
import { layoutQr, type QrLayout, renderQr } from "../../src/links/qr-code";
import { crc32 } from "../../src/platform/crc32";

const url = "https://edgelink.test/Ab3dE9x";

interface Chunk {
  type: string;
  data: Uint8Array;
  crcValid: boolean;
}

function readChunks(png: Uint8Array): Chunk[] {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const chunks: Chunk[] = [];
  for (let at = 8; at < png.length; ) {
    const length = view.getUint32(at);
    const typeAndData = png.subarray(at + 4, at + 8 + length);
    chunks.push({
      type: new TextDecoder().decode(typeAndData.subarray(0, 4)),
      data: typeAndData.subarray(4),
      crcValid: crc32(typeAndData) === view.getUint32(at + 8 + length),
    });
    at += 12 + length;
  }
  return chunks;
}

/** Decodes our 1-bit grayscale PNG into rows of booleans (true = dark), checking filter bytes. */
function decodePng(png: Uint8Array): { width: number; height: number; dark: boolean[][] } {
  const chunks = readChunks(png);
  const header = new DataView(chunks[0]!.data.buffer, chunks[0]!.data.byteOffset);
  const width = header.getUint32(0);
  const height = header.getUint32(4);
  const raw = inflateSync(Buffer.concat(chunks.filter((c) => c.type === "IDAT").map((c) => c.data)));
  const stride = Math.ceil(width / 8);
  expect(raw.length).toBe(height * (stride + 1));
  const dark: boolean[][] = [];
  for (let y = 0; y < height; y++) {
    const row = raw.subarray(y * (stride + 1), (y + 1) * (stride + 1));
    expect(row[0]).toBe(0);
    dark.push(Array.from({ length: width }, (_, x) => ((row[1 + (x >> 3)]! >> (7 - (x & 7))) & 1) === 0));
  }
  return { width, height, dark };
}

const darkModules = (layout: QrLayout) => layout.modules.flat().filter(Boolean).length;

describe("crc32", () => {
  it("matches the standard check value and continues across pieces", () => {
    const bytes = new TextEncoder().encode("123456789");
    expect(crc32(bytes)).toBe(0xcbf43926);
    expect(crc32(bytes.subarray(4), crc32(bytes.subarray(0, 4)))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array())).toBe(0);
  });
});

describe("layoutQr sizing rule", () => {
  it("keeps the requested size, integer pixels per module, the remainder centred", () => {
    const layout = layoutQr(url, 300);
    expect((layout.count - 2 * 4 - 17) % 4).toBe(0); // 17 + 4·version modules plus the margin
    expect(layout.side).toBe(300);
    expect(layout.scale).toBe(Math.floor(300 / layout.count));
    expect(layout.offset).toBe(Math.floor((300 - layout.count * layout.scale) / 2));
  });

  it("grows to one pixel per module only when the code has more modules than pixels", () => {
    const layout = layoutQr(`https://edgelink.test/${"x".repeat(600)}`, 64, 4);
    expect(layout.count).toBeGreaterThan(64);
    expect(layout).toMatchObject({ scale: 1, offset: 0, side: layout.count });
  });

  it("refuses sizes and margins out of range", () => {
    for (const size of [63, 2049, 100.5]) expect(() => layoutQr(url, size)).toThrow(RangeError);
    for (const margin of [-1, 17, 1.5]) expect(() => layoutQr(url, 256, margin)).toThrow(RangeError);
  });
});

describe("renderQr as SVG", () => {
  it("is one crisp path whose runs cover exactly the dark modules", async () => {
    const { body, contentType } = await renderQr(url, { format: "svg", size: 256, margin: 2 });
    const layout = layoutQr(url, 256, 2);
    expect(contentType).toBe("image/svg+xml");
    expect(typeof body).toBe("string");
    const svg = body as string;
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" [^>]*>.*<\/svg>$/);
    expect(svg).toContain('viewBox="0 0 256 256"');
    expect(svg).toContain('width="256" height="256"');
    expect(svg).toContain('shape-rendering="crispEdges"');
    expect(svg.match(/<path /g)).toHaveLength(1);
    const runs = [...svg.matchAll(/M(\d+) (\d+)h(\d+)v(\d+)h-(\d+)z/g)];
    const covered = runs.reduce((sum, run) => sum + Number(run[3]) / layout.scale, 0);
    expect(covered).toBe(darkModules(layout));
    expect(darkModules(layout)).toBeGreaterThan(0);
    for (const [, x, y] of runs) {
      const column = (Number(x) - layout.offset) / layout.scale;
      const row = (Number(y) - layout.offset) / layout.scale;
      expect(layout.modules[row]?.[column]).toBe(true);
    }
  });
});

describe("renderQr as PNG", () => {
  for (const size of [64, 257, 512, 2048]) {
    it(`is a valid 1-bit grayscale PNG of exactly ${size}px whose module centres match the matrix`, async () => {
      const { body, contentType } = await renderQr(url, { format: "png", size });
      expect(contentType).toBe("image/png");
      const png = body as Uint8Array;
      expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      const chunks = readChunks(png);
      expect(chunks.map((c) => c.type)).toEqual(["IHDR", "IDAT", "IEND"]);
      expect(chunks.every((c) => c.crcValid)).toBe(true);
      expect([...chunks[0]!.data.subarray(8)]).toEqual([1, 0, 0, 0, 0]);

      const image = decodePng(png);
      expect(image).toMatchObject({ width: size, height: size });
      const layout = layoutQr(url, size);
      const centre = (i: number) => layout.offset + i * layout.scale + Math.floor(layout.scale / 2);
      const sampled = layout.modules.map((row, y) => row.map((_, x) => image.dark[centre(y)]![centre(x)]));
      expect(sampled).toEqual(layout.modules);
      // Everything outside the modules is quiet zone.
      expect(image.dark[0]!.some(Boolean)).toBe(false);
      expect(image.dark[size - 1]!.some(Boolean)).toBe(false);
      expect(image.dark.flat().filter(Boolean).length).toBe(darkModules(layout) * layout.scale ** 2);
    });
  }

  it("decodes back to the text with an independent reader (jsQR)", async () => {
    for (const text of [url, "https://edgelink.test/ünïcødé?q=1&r=ü"]) {
      const { body } = await renderQr(text, { format: "png", size: 333 });
      const image = decodePng(body as Uint8Array);
      const rgba = new Uint8ClampedArray(image.width * image.height * 4);
      image.dark.flat().forEach((dark, i) => {
        rgba.fill(dark ? 0 : 255, i * 4, i * 4 + 3);
        rgba[i * 4 + 3] = 255;
      });
      expect(jsQR(rgba, image.width, image.height)?.data).toBe(text);
    }
  });
});
