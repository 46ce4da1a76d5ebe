// Topics read back with kcat (librdkafka), the reader that is not ours: the exactly-once checks of
// the tests and of the fault campaign read with it, at read_committed, so that a bug shared by
// kafkajs and this project's own readers (both patched the same way) cannot hide a duplicate or a
// loss. Records come out binary-safe: a header line per record with the key and value lengths,
// then the key and value bytes. KCAT_BIN (scripts/ensure-kcat.sh) names the binary.
import { spawn } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';

export interface KcatRecord {
  topic: string;
  partition: number;
  offset: bigint;
  key: Buffer | null;
  value: Buffer | null;
}

export interface KcatOptions {
  isolation?: 'read_committed' | 'read_uncommitted';
  /** Fails the read when kcat has not reached the end of every partition by then. */
  timeoutMs?: number;
}

export function kcatBin(): string {
  return process.env.KCAT_BIN ?? 'kcat';
}

/**
 * Where a read_committed read of `topic` ends now: each partition's last stable offset (what Kafka's
 * ListOffsets answers at read_committed: below it, every record is committed or aborted).
 */
export async function committedEnds(brokers: string, topic: string): Promise<Map<number, bigint>> {
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
}

/** Every record of `topic` up to where a read_committed read of it ends now (see kcatRead). */
export async function kcatReadCommitted(
  brokers: string,
  topic: string,
  timeoutMs?: number,
): Promise<KcatRecord[]> {
  const ends = await committedEnds(brokers, topic);
  return kcatRead(brokers, topic, { ends, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
}

/**
 * Every record of `topic` below `ends` (partition -> offset; from kcat's view of the partitions'
 * ends when not given), at the isolation level asked for. kcat's own `-e` does not end a read of a
 * partition that transactions keep writing (the end moves on with every commit), so the read stops
 * a partition once kcat hands over an offset at or past its end, or reports reaching the end past
 * it, and ends when every partition has stopped.
 */
export function kcatRead(
  brokers: string,
  topic: string,
  options: KcatOptions & { ends?: ReadonlyMap<number, bigint> } = {},
): Promise<KcatRecord[]> {
  const args = [
    '-C',
    '-b',
    brokers,
    '-t',
    topic,
    '-o',
    'beginning',
    '-e',
    '-X',
    `isolation.level=${options.isolation ?? 'read_committed'}`,
    '-f',
    '%p\t%o\t%K\t%S\n%k%s',
  ];
  const ends = options.ends;
  return new Promise((resolve, reject) => {
    const child = spawn(kcatBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const parser = new RecordParser(topic);
    const records: KcatRecord[] = [];
    /** Partitions still being read (only tracked when the ends are known). */
    const open = new Set(ends ? [...ends].filter(([, end]) => end > 0n).map(([p]) => p) : []);
    let stderr = '';
    let finished = ends !== undefined && open.size === 0;
    const stopIfDone = () => {
      if (!finished && ends !== undefined && open.size === 0) {
        finished = true;
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', (d: Buffer) => {
      for (const r of parser.push(d)) {
        const end = ends?.get(r.partition);
        if (ends === undefined || (end !== undefined && r.offset < end)) records.push(r);
        else open.delete(r.partition);
      }
      stopIfDone();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const m of stderr.matchAll(/Reached end of topic \S+ \[(\d+)\] at offset (\d+)/g)) {
        const p = Number(m[1]);
        if (BigInt(m[2] as string) >= (ends?.get(p) ?? 0n)) open.delete(p);
      }
      stderr = stderr.slice(-2000);
      stopIfDone();
    });
    if (finished) child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (finished || (code === 0 && open.size === 0)) return resolve(records);
      reject(
        new Error(
          `kcat reading ${topic} ${signal ? `was stopped (${signal}) before the end of partitions ${[...open].join(', ')}` : `exited with ${code}`}: ${stderr.trim().slice(-500)}`,
        ),
      );
    });
  });
}

/** kcat's output, record by record, as it arrives (a record may span chunks). */
class RecordParser {
  private readonly topic: string;
  private pending: Buffer = Buffer.alloc(0);

  constructor(topic: string) {
    this.topic = topic;
  }

  push(chunk: Buffer): KcatRecord[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: KcatRecord[] = [];
    let at = 0;
    for (;;) {
      const eol = this.pending.indexOf(0x0a, at);
      if (eol < 0) break;
      const [p, o, k, s] = this.pending.toString('utf8', at, eol).split('\t');
      const keyLength = Number(k);
      const valueLength = Number(s);
      if (
        p === undefined ||
        o === undefined ||
        !Number.isInteger(keyLength) ||
        !Number.isInteger(valueLength)
      )
        throw new Error(`kcat output for ${this.topic}: not a record header`);
      const bodyAt = eol + 1;
      const next = bodyAt + Math.max(keyLength, 0) + Math.max(valueLength, 0);
      if (next > this.pending.length) break;
      const key = keyLength < 0 ? null : Buffer.from(this.pending.subarray(bodyAt, bodyAt + keyLength));
      const valueAt = bodyAt + Math.max(keyLength, 0);
      const value =
        valueLength < 0 ? null : Buffer.from(this.pending.subarray(valueAt, valueAt + valueLength));
      out.push({ topic: this.topic, partition: Number(p), offset: BigInt(o), key, value });
      at = next;
    }
    this.pending = this.pending.subarray(at);
    return out;
  }
}
