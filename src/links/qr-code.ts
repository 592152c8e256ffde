import { encode } from "uqr";
import { encodeGrayscalePng, rowBytes } from "./png-encoder";

export type QrFormat = "svg" | "png";

export interface QrOptions {
  format: QrFormat;
  /** Requested width and height in pixels, an integer in {@link qrSizeRange}. */
  size: number;
  /** Quiet zone in modules around the code; the QR spec asks for 4. */
  margin?: number;
}

export interface RenderedQr {
  body: Uint8Array | string;
  contentType: "image/svg+xml" | "image/png";
}

export const qrSizeRange = { min: 64, max: 2048 } as const;
export const qrMarginRange = { min: 0, max: 16, default: 4 } as const;

/** Where every module lands in the image: one geometry for SVG and PNG alike. */
export interface QrLayout {
  /** Dark (`true`) or light modules, quiet zone included: `count` rows of `count`. */
  modules: boolean[][];
  count: number;
  /** Pixels per module: an integer, so every module edge falls on a pixel edge. */
  scale: number;
  /** Extra light pixels before the first module on each axis (centring the remainder). */
  offset: number;
  /** Width and height of the image in pixels. */
  side: number;
}

/**
 * Lays a QR code (error correction M) out on a pixel grid. The sizing rule: modules are
 * `floor(size / count)` pixels wide, and the pixels left over widen the quiet zone, centred, so
 * the image is exactly `size` pixels square. Only a code with more modules than `size` (a long text
 * at a small size) comes out larger: one pixel per module, `count` pixels square.
 *
 * @throws RangeError for a size or margin out of range, or a text too long for any QR version.
 */
export function layoutQr(text: string, size: number, margin: number = qrMarginRange.default): QrLayout {
  if (!Number.isInteger(size) || size < qrSizeRange.min || size > qrSizeRange.max) {
    throw new RangeError(`QR size must be an integer from ${qrSizeRange.min} to ${qrSizeRange.max}`);
  }
  if (!Number.isInteger(margin) || margin < qrMarginRange.min || margin > qrMarginRange.max) {
    throw new RangeError(`QR margin must be an integer from ${qrMarginRange.min} to ${qrMarginRange.max}`);
  }
  const { data: modules, size: count } = encode(text, { ecc: "M", border: margin });
  const scale = Math.max(1, Math.floor(size / count));
  const side = Math.max(size, count);
  return { modules, count, scale, offset: Math.floor((side - count * scale) / 2), side };
}

/**
 * Renders `text` (a short link's URL) as a QR code image, with Web APIs only so it runs on Node
 * and in workerd. SVG is one crisp-edged `<path>` in pixel units; PNG is 1-bit grayscale.
 *
 * @example
 * const { body, contentType } = await renderQr("https://edgel.ink/abc", { format: "png", size: 512 });
 * return c.body(body, 200, { "Content-Type": contentType });
 */
export async function renderQr(text: string, options: QrOptions): Promise<RenderedQr> {
  const layout = layoutQr(text, options.size, options.margin);
  if (options.format === "svg") return { body: qrSvg(layout), contentType: "image/svg+xml" };
  return { body: await qrPng(layout), contentType: "image/png" };
}

function qrSvg({ modules, scale, offset, side }: QrLayout): string {
  // One subpath per horizontal run of dark modules keeps the path short.
  let d = "";
  modules.forEach((row, y) => {
    for (let x = 0; x < row.length; x++) {
      if (!row[x]) continue;
      const start = x;
      while (row[x + 1]) x++;
      const width = (x - start + 1) * scale;
      d += `M${offset + start * scale} ${offset + y * scale}h${width}v${scale}h-${width}z`;
    }
  });
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}" ` +
    `viewBox="0 0 ${side} ${side}" shape-rendering="crispEdges">` +
    `<rect width="${side}" height="${side}" fill="#fff"/><path fill="#000" d="${d}"/></svg>`
  );
}

function qrPng(layout: QrLayout): Promise<Uint8Array> {
  const { modules, scale, offset, side } = layout;
  const stride = rowBytes(side, 1);
  const light = new Uint8Array(stride).fill(0xff); // 1 = white at bit depth 1
  const moduleRows = modules.map((row) => {
    const packed = light.slice();
    row.forEach((dark, x) => {
      if (!dark) return;
      for (let px = offset + x * scale; px < offset + (x + 1) * scale; px++) {
        packed[px >> 3]! &= ~(0x80 >> (px & 7));
      }
    });
    return packed;
  });
  function* rows(): Generator<Uint8Array> {
    for (let y = 0; y < offset; y++) yield light;
    for (const row of moduleRows) for (let i = 0; i < scale; i++) yield row;
    for (let y = offset + modules.length * scale; y < side; y++) yield light;
  }
  return encodeGrayscalePng({ width: side, height: side, bitDepth: 1, rows: rows() });
}
