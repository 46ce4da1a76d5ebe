// Record keys as Buffers, made once per distinct key. A feed has few billing groups and millions
// of rows; kafkajs would otherwise convert the same key string for every message (and again in
// its partitioner).
//
// What a cache keeps must hold nothing bigger alive: a key parsed from a response is a slice of the
// response's text (V8 keeps the whole text for it), and a small Buffer.from() is a view of a shared
// slab. With a thousand accounts, each keeping its last response and a slab, that was most of the
// process's memory.

/** A copy of `s` that keeps no larger string alive. */
export function detached(s: string): string {
  return Buffer.from(s, 'utf8').toString('utf8');
}

/** `s` as UTF-8 in a Buffer of its own (not a view of a shared slab). */
export function ownBuffer(s: string): Buffer {
  const buf = Buffer.allocUnsafeSlow(Buffer.byteLength(s, 'utf8'));
  buf.write(s, 'utf8');
  return buf;
}

export class KeyBuffers {
  private readonly cache = new Map<string, Buffer>();
  private readonly max: number;

  constructor(max = 10_000) {
    this.max = max;
  }

  get(key: string): Buffer {
    let buf = this.cache.get(key);
    if (buf === undefined) {
      if (this.cache.size >= this.max) this.cache.clear();
      buf = ownBuffer(key);
      this.cache.set(detached(key), buf);
    }
    return buf;
  }
}
