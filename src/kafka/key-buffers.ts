// Record keys as Buffers, made once per distinct key. A feed has few billing groups and millions
// of rows; kafkajs would otherwise convert the same key string for every message (and again in
// its partitioner).
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
      buf = Buffer.from(key, 'utf8');
      this.cache.set(key, buf);
    }
    return buf;
  }
}
