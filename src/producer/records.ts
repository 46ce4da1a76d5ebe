// What a row taken from the feed becomes: its cdr.raw record (Avro, Confluent framing, keyed by
// billing group), or its dead letter (JSON, raw text clipped). No I/O: the poller commits them.
import type avro from 'avsc';
import type { Message } from 'kafkajs';
import { smallUnscaled, twosComplementToBigint } from '../cdr/decimal.ts';

import type { RawCdr, RowReader } from '../cdr/row.ts';
import { encodeValue } from '../codec/wire.ts';
import type { ProducerConfig } from '../config/producer.ts';
import type { CdrTally } from '../control/records.ts';
import { ErrorCodes } from '../errors.ts';
import type { FeedRow } from '../feed/csv-rows.ts';
import { KeyBuffers } from '../kafka/key-buffers.ts';
import { KeyPartitions } from '../kafka/key-partitions.ts';
import { messageBytes } from '../kafka/transactions.ts';
import type { Batch } from './batch.ts';
import { cursorMessage } from './cursor.ts';
import { dlqMessage } from './dlq.ts';

export interface RecordBuilderOptions {
  account: string;
  env: Pick<ProducerConfig['env'], 'NO_GROUP_KEY_PREFIX' | 'DLQ_RAW_MAX_CHARS' | 'TOPIC_RAW'>;
  avroType: avro.Type;
  schemaId: number;
  feedHost: string;
  /** Largest record (key + value) cdr.raw takes. */
  maxMessageBytes: number;
  /** Partitions of cdr.raw: each record's partition is chosen here (murmur2 of the key, as Java's). */
  rawPartitions: number;
}

export type TakenRow = Exclude<FeedRow, { kind: 'header' | 'tail' }>;

/** A taken row's record, and for a CDR its call start and what its control record counts. */
export interface Taken {
  dlq: boolean;
  message: Message;
  startTime?: number;
  tally?: CdrTally;
}

export class RecordBuilder {
  /** Lowered when Kafka refuses a record our limit let through (see `lowerLimit`). */
  maxMessageBytes: number;
  private readonly o: RecordBuilderOptions;
  private readonly keys = new KeyBuffers();
  private readonly partitions: KeyPartitions;

  constructor(options: RecordBuilderOptions) {
    this.o = options;
    this.maxMessageBytes = options.maxMessageBytes;
    this.partitions = new KeyPartitions(new Map([[options.env.TOPIC_RAW, options.rawPartitions]]));
  }

  /** Kafka refused a batch as too large although each record was under the limit: halve it. */
  lowerLimit(): { before: number; now: number } {
    const before = this.maxMessageBytes;
    this.maxMessageBytes = Math.max(1024, Math.floor(before / 2));
    return { before, now: this.maxMessageBytes };
  }

  /** The record a taken row becomes: its cdr.raw record, or a dead letter. */
  take(
    ev: Exclude<FeedRow, { kind: 'header' | 'tail' }>,
    reader: RowReader,
    id: number | undefined,
    fetchedAt: string,
  ): Taken {
    if (ev.kind === 'broken') {
      const code = ev.code === 'too_large' ? ErrorCodes.ROW_TOO_LARGE : ErrorCodes.ROW_INVALID;
      return { dlq: true, message: this.deadLetter(id, ev.line, ev.raw, 'csv', ev.reason, fetchedAt, code) };
    }
    const result = reader.convert(ev.fields, {
      ingested_at: Date.now(),
      feed_host: this.o.feedHost,
      line: ev.line,
    });
    if (result.ok) {
      const cdr = result.cdr;
      const encoded = this.encode(cdr, ev.line, ev.raw, fetchedAt);
      if (encoded.dlq) return encoded;
      const tally: CdrTally = {
        id: cdr.id,
        period: cdr.billing_period,
        group: cdr.billing_group,
        type: cdr.type,
        subType: cdr.sub_type,
        seconds: cdr.seconds,
        cost: smallUnscaled(cdr.cost) ?? twosComplementToBigint(cdr.cost),
      };
      return { ...encoded, startTime: cdr.start_time, tally };
    }
    const { field, reason } = result.problem;
    return { dlq: true, message: this.deadLetter(id, ev.line, ev.raw, field, reason, fetchedAt) };
  }

  /** The cdr.raw record of a valid CDR, or its dead letter when it does not encode or is too large. */
  encode(cdr: RawCdr, line: number, raw: string, fetchedAt: string): { dlq: boolean; message: Message } {
    const key =
      cdr.billing_group === '' ? `${this.o.env.NO_GROUP_KEY_PREFIX}${cdr.account}` : cdr.billing_group;
    let value: Buffer;
    try {
      value = encodeValue(this.o.avroType, this.o.schemaId, cdr);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      return {
        dlq: true,
        message: this.deadLetter(cdr.id, line, raw, 'avro', reason, fetchedAt, ErrorCodes.ENCODE_FAILED),
      };
    }
    const message = {
      key: this.keys.get(key),
      value,
      partition: this.partitions.of(this.o.env.TOPIC_RAW, key) as number,
    };
    const size = messageBytes(message);
    if (size > this.maxMessageBytes) {
      const reason = `encoded record of ${size} bytes is over the ${this.maxMessageBytes} bytes ${this.o.env.TOPIC_RAW} takes`;
      return {
        dlq: true,
        message: this.deadLetter(cdr.id, line, raw, '(row)', reason, fetchedAt, ErrorCodes.ROW_TOO_LARGE),
      };
    }
    return { dlq: false, message };
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
    const max = this.o.env.DLQ_RAW_MAX_CHARS;
    return dlqMessage({
      account: this.o.account,
      ...(id === undefined ? {} : { id: String(id) }),
      line,
      raw: raw.length > max ? raw.slice(0, max) : raw,
      ...(raw.length > max ? { rawClipped: true } : {}),
      errorCode,
      field,
      reason: `line ${line}${id === undefined ? '' : `, id ${id}`}: ${field} ${reason}`,
      feedHost: this.o.feedHost,
      fetchedAt,
    });
  }

  /** The cursor record of a batch: where the account stands once it commits, and who wrote it. */
  cursor(batch: Batch, owner: string, transactionalId: string, newestStart: number | undefined): Message {
    return cursorMessage({
      account: this.o.account,
      lastId: batch.lastId,
      deadLetteredAfter: batch.deadLetteredAfter,
      rows: batch.size,
      committedAt: new Date().toISOString(),
      owner,
      transactionalId,
      ...(newestStart === undefined ? {} : { newestStartTime: new Date(newestStart).toISOString() }),
    });
  }
}
