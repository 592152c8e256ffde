/** CRC-32 lookup table for the reflected IEEE 802.3 polynomial 0xEDB88320, built on first use. */
let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (table) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/**
 * CRC-32 (IEEE 802.3, as used by PNG, zlib's `crc32` and gzip) of `bytes`, as an unsigned 32-bit
 * integer. Pass the previous result as `previous` to continue a checksum over several pieces.
 *
 * A checksum against accidental corruption (typos, truncation), never a MAC: anyone can forge it.
 *
 * @example
 * crc32(new TextEncoder().encode("123456789")); // 0xcbf43926
 * crc32(tail, crc32(head)) === crc32(concat(head, tail)); // true
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  const lookup = crcTable();
  let crc = ~previous;
  for (const byte of bytes) crc = lookup[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
