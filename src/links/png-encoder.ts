import { crc32 } from "../platform/crc32";

/** A grayscale image given as packed scanlines (MSB first for bit depths below 8), without filter bytes. */
export interface GrayscaleImage {
  width: number;
  height: number;
  /** 1: two levels (0 = black, 1 = white), 8: 256 levels. */
  bitDepth: 1 | 8;
  /** Exactly `height` rows of `ceil(width * bitDepth / 8)` bytes; one array may be repeated. */
  rows: Iterable<Uint8Array>;
}

const signature = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);
const grayscale = 0;

/** Bytes of one packed row of `width` pixels at `bitDepth`. */
export function rowBytes(width: number, bitDepth: 1 | 8): number {
  return Math.ceil((width * bitDepth) / 8);
}

/**
 * Encodes a grayscale image as PNG (RFC 2083): signature, IHDR, one IDAT, IEND. Every scanline is
 * written with filter type 0 (None) — on two-level images of large flat areas deflate does better
 * work than the predictors would. Compression is the platform's `CompressionStream("deflate")`,
 * which emits the zlib wrapper (RFC 1950) IDAT requires, so this runs on Node and in workerd alike.
 *
 * @example
 * const white = Uint8Array.of(0xff);
 * const png = await encodeGrayscalePng({ width: 8, height: 8, bitDepth: 1, rows: Array(8).fill(white) });
 */
export async function encodeGrayscalePng(image: GrayscaleImage): Promise<Uint8Array> {
  const { width, height, bitDepth } = image;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`PNG dimensions must be positive integers, got ${width}×${height}`);
  }
  const stride = rowBytes(width, bitDepth);
  const raw = new Uint8Array(height * (stride + 1));
  let y = 0;
  for (const row of image.rows) {
    if (y === height) throw new RangeError(`more than ${height} rows`);
    if (row.length !== stride) throw new RangeError(`row ${y} has ${row.length} bytes, expected ${stride}`);
    // raw[offset] stays 0: filter type None.
    raw.set(row, y * (stride + 1) + 1);
    y++;
  }
  if (y !== height) throw new RangeError(`expected ${height} rows, got ${y}`);

  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([bitDepth, grayscale, 0, 0, 0], 8); // compression deflate, filter method 0, no interlace

  const compressed = await deflate(raw);
  return concat([
    signature,
    chunk("IHDR", header),
    chunk("IDAT", compressed),
    chunk("IEND", new Uint8Array()),
  ]);
}

async function deflate(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** length, type, data, CRC-32 of type + data. */
function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
