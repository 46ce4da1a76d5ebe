// What a row taken from the feed becomes: its cdr.raw record (Avro, Confluent framing, keyed by
// billing group), or its dead letter (JSON, raw text clipped). No I/O: the poller commits them.
import type avro from 'avsc';
import type { Message } from 'kafkajs';
import { smallUnscaled, twosComplementToBigint } from '../cdr/decimal.ts';
import type { RawCdr, RowReader } from '../cdr/row.ts';
import { CdrRawWriter } from '../codec/cdr-raw-writer.ts';
import { encodeInto, HEADER_BYTES, writeHeader } from '../codec/wire.ts';
import { ErrorCodes, isCdrError } from '../errors.ts';
import { KeyPartitions } from '../kafka/key-partitions.ts';
import type { CdrTally } from '../topics/control.ts';
import { dlqMessage } from '../topics/dlq.ts';
import type { FeedRow } from './csv-rows.ts';

/** cdr.raw as the producer found it at start. */
export interface RawTopic {
  topic: string;
  /** The registry id of the cdr-raw schema under its subject. */
  schemaId: number;
  /** Each record's partition is chosen here (murmur2 of the key, as Java's). */
  partitions: number;
}

export interface RecordBuilderOptions {
  account: string;
  avroType: avro.Type;
  raw: RawTopic;
  /** Largest record (key + value) cdr.raw takes. */
  maxMessageBytes: number;
  feedHost: string;
  /** Key of a CDR with an empty billing group: this prefix and the account. */
  noGroupKeyPrefix: string;
  deadLetterRawMaxChars: number;
}

export type TakenRow = Exclude<FeedRow, { kind: 'header' | 'tail' }>;

/**
 * The cdr.raw records of a batch, packed to cross a thread without a copy or an object per record:
 * keys and framed Avro values back to back in `data`, and per record its place, its partition and
 * what its control record counts (columns; the texts of a batch once each in `texts`). Plain data:
 * a structured clone of it is a PackedRecords again for the static readers below.
 */
export class PackedRecords {
  count = 0;
  data: Uint8Array;
  /** Bytes of `data` in use. */
  used = 0;
  /** Per record: start of its key in `data`, key length, value length, partition. */
  index: Int32Array;
  ids: Float64Array;
  seconds: Float64Array;
  /** Unscaled cost (scale 6), or NaN when it is a bigint (then in `bigCosts`). */
  costs: Float64Array;
  /** Per record: indexes in `texts` of its billing period, billing group, type and sub type. */
  refs: Int32Array;
  texts: string[] = [];
  bigCosts: Map<number, bigint> | undefined;
  private textIndex: Map<string, number> | undefined = new Map();

  /**
   * Room for `records` records of `bytes` bytes in all, made bigger (doubled) as they come. The first
   * batch of a response starts small (most responses of a caught-up account bring a handful of
   * rows, or none); the next ones are sized like the batch before (see ResponseParser).
   */
  constructor(records: number, bytes = records * 256) {
    const n = Math.max(1, records);
    this.data = Buffer.allocUnsafeSlow(Math.max(256, bytes));
    this.index = new Int32Array(n * 4);
    this.ids = new Float64Array(n);
    this.seconds = new Float64Array(n);
    this.costs = new Float64Array(n);
    this.refs = new Int32Array(n * 4);
  }

  /** The buffers a worker hands over with the batch (transferred, not copied). */
  transferables(): ArrayBuffer[] {
    return [this.data, this.index, this.ids, this.seconds, this.costs, this.refs].map(
      (a) => a.buffer as ArrayBuffer,
    );
  }

  /** No more records: drops what only writing needed. */
  seal(): void {
    this.textIndex = undefined;
  }

  /** Room for `bytes` more bytes of data (and one more record): grown by doubling. */
  reserve(bytes: number): Buffer {
    if (this.used + bytes > this.data.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(this.data.length * 2, this.used + bytes));
      next.set(this.data.subarray(0, this.used));
      this.data = next;
    }
    if (this.count === this.ids.length) {
      const grow = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
        const b = make(a.length * 2);
        b.set(a);
        return b;
      };
      this.index = grow(this.index, (n) => new Int32Array(n));
      this.refs = grow(this.refs, (n) => new Int32Array(n));
      this.ids = grow(this.ids, (n) => new Float64Array(n));
      this.seconds = grow(this.seconds, (n) => new Float64Array(n));
      this.costs = grow(this.costs, (n) => new Float64Array(n));
    }
    return this.data as Buffer;
  }

  /** Adds the record written at `used` (key then value) and its tally. */
  add(keyBytes: number, valueBytes: number, partition: number, t: CdrTally): void {
    const i = this.count++;
    const at = i * 4;
    this.index[at] = this.used;
    this.index[at + 1] = keyBytes;
    this.index[at + 2] = valueBytes;
    this.index[at + 3] = partition;
    this.used += keyBytes + valueBytes;
    this.ids[i] = t.id;
    this.seconds[i] = t.seconds;
    if (typeof t.cost === 'number') this.costs[i] = t.cost;
    else {
      this.costs[i] = Number.NaN;
      this.bigCosts ??= new Map();
      this.bigCosts.set(i, t.cost);
    }
    this.refs[at] = this.text(t.period);
    this.refs[at + 1] = this.text(t.group);
    this.refs[at + 2] = this.text(t.type);
    this.refs[at + 3] = this.text(t.subType);
  }

  private text(s: string): number {
    const index = this.textIndex as Map<string, number>;
    let i = index.get(s);
    if (i === undefined) {
      i = this.texts.length;
      this.texts.push(s);
      index.set(s, i);
    }
    return i;
  }

  /** The kafkajs messages of a (possibly cloned) PackedRecords: views into its data, no copy. */
  static messages(p: PackedRecords): Message[] {
    const data = Buffer.from(p.data.buffer, p.data.byteOffset, p.data.byteLength);
    const out = new Array<Message>(p.count);
    for (let i = 0; i < p.count; i++) {
      const at = i * 4;
      const start = p.index[at] as number;
      const keyEnd = start + (p.index[at + 1] as number);
      out[i] = {
        key: data.subarray(start, keyEnd),
        value: data.subarray(keyEnd, keyEnd + (p.index[at + 2] as number)),
        partition: p.index[at + 3] as number,
      };
    }
    return out;
  }
}

/** Where a taken row goes: its CDR record packed, or its dead letter. */
export interface RecordSink {
  raw: PackedRecords;
  dlq: Message[];
}

export class RecordBuilder {
  private readonly options: RecordBuilderOptions;
  private readonly partitions: KeyPartitions;
  private readonly writer: CdrRawWriter;

  constructor(options: RecordBuilderOptions) {
    this.options = options;
    this.writer = new CdrRawWriter(options.avroType);
    this.partitions = new KeyPartitions(new Map([[options.raw.topic, options.raw.partitions]]));
  }

  /** Adds a taken row's record to the batch: its cdr.raw record, or a dead letter. Returns a CDR's call start. */
  take(
    ev: TakenRow,
    reader: RowReader,
    id: number | undefined,
    fetchedAt: string,
    into: RecordSink,
  ): number | undefined {
    if (ev.kind === 'broken') {
      const code = ev.code === 'too_large' ? ErrorCodes.ROW_TOO_LARGE : ErrorCodes.ROW_INVALID;
      into.dlq.push(this.deadLetter(id, ev.line, ev.raw, 'csv', ev.reason, fetchedAt, code));
      return undefined;
    }
    const result = reader.convert(ev.fields, {
      ingested_at: Date.now(),
      feed_host: this.options.feedHost,
      line: ev.line,
    });
    if (!result.ok) {
      const { field, reason } = result.problem;
      into.dlq.push(this.deadLetter(id, ev.line, ev.raw, field, reason, fetchedAt));
      return undefined;
    }
    const cdr = result.cdr;
    const key =
      cdr.billing_group === '' ? `${this.options.noGroupKeyPrefix}${cdr.account}` : cdr.billing_group;
    const raw = into.raw;
    let buf = raw.reserve(key.length * 3 + 512);
    const keyBytes = buf.write(key, raw.used, 'utf8');
    let end: number;
    try {
      end = this.encode(cdr, buf, raw.used + keyBytes);
      if (end < 0) {
        // Grown: only the records before this one are carried over, so the key is written again.
        buf = raw.reserve(buf.length - raw.used - end);
        buf.write(key, raw.used, 'utf8');
        end = this.encode(cdr, buf, raw.used + keyBytes);
      }
    } catch (err) {
      const reason = isCdrError(err) ? err.message : String(err);
      into.dlq.push(
        this.deadLetter(cdr.id, ev.line, ev.raw, 'avro', reason, fetchedAt, ErrorCodes.ENCODE_FAILED),
      );
      return undefined;
    }
    const valueBytes = end - raw.used - keyBytes;
    const size = keyBytes + valueBytes;
    if (size > this.options.maxMessageBytes) {
      const reason = `encoded record of ${size} bytes is over the ${this.options.maxMessageBytes} bytes ${this.options.raw.topic} takes`;
      into.dlq.push(
        this.deadLetter(cdr.id, ev.line, ev.raw, '(row)', reason, fetchedAt, ErrorCodes.ROW_TOO_LARGE),
      );
      return undefined;
    }
    raw.add(keyBytes, valueBytes, this.partitions.of(this.options.raw.topic, key) as number, {
      id: cdr.id,
      period: cdr.billing_period,
      group: cdr.billing_group,
      type: cdr.type,
      subType: cdr.sub_type,
      seconds: cdr.seconds,
      cost: smallUnscaled(cdr.cost) ?? twosComplementToBigint(cdr.cost),
    });
    return cdr.start_time;
  }

  /** The framed record of `cdr` at `at` (see encodeInto): by the hand-written writer when it takes the value, else avsc. */
  private encode(cdr: RawCdr, buf: Buffer, at: number): number {
    if (buf.length >= at + HEADER_BYTES) {
      const end = this.writer.write(cdr, buf, at + HEADER_BYTES);
      if (!Number.isNaN(end)) {
        if (end >= 0) writeHeader(buf, at, this.options.raw.schemaId);
        return end;
      }
    }
    return encodeInto(this.options.avroType, this.options.raw.schemaId, cdr, buf, at);
  }

  deadLetter(
    id: number | undefined,
    line: number,
    raw: string,
    field: string,
    reason: string,
    fetchedAt: string,
    errorCode: string = ErrorCodes.ROW_INVALID,
  ): Message {
    const max = this.options.deadLetterRawMaxChars;
    return dlqMessage({
      account: this.options.account,
      ...(id === undefined ? {} : { id: String(id) }),
      line,
      raw: raw.length > max ? raw.slice(0, max) : raw,
      ...(raw.length > max ? { rawClipped: true } : {}),
      errorCode,
      field,
      reason: `line ${line}${id === undefined ? '' : `, id ${id}`}: ${field} ${reason}`,
      feedHost: this.options.feedHost,
      fetchedAt,
    });
  }
}
