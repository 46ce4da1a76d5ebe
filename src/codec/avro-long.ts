// An Avro long as the binary encoding writes it: zig-zag, then 7 bits a byte, low bits first.
// Shared by the hand-written writers of Avro bodies (cdr-raw-writer.ts, the enricher's splice).

/**
 * Writes `n` (an integer of at most 2^53 in magnitude; the caller checks) into `buf` at `pos`;
 * returns the position after it (at most 10 bytes later).
 */
export function writeAvroLong(buf: Uint8Array, pos: number, n: number): number {
  let at = pos;
  if (n >= -0x40000000 && n < 0x40000000) {
    // Fits 31 bits zig-zagged: integer operations.
    let m = n >= 0 ? n << 1 : (~n << 1) | 1;
    while (m > 0x7f) {
      buf[at++] = (m & 0x7f) | 0x80;
      m >>>= 7;
    }
    buf[at++] = m;
    return at;
  }
  let f = n >= 0 ? n * 2 : -n * 2 - 1;
  while (f >= 128) {
    buf[at++] = (f % 128) | 0x80;
    f = Math.floor(f / 128);
  }
  buf[at++] = f;
  return at;
}
