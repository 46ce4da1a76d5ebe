// What an account's poller is given: its options, and the shared parts the producer's wiring hands
// it (its pool slot, the position readers, the parse workers, the feed permits, the metrics).
import type avro from 'avsc';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type {
  BatchOptions,
  FeedAccount,
  FeedOptions,
  ProducerTopics,
  RowOptions,
} from '../config/producer.ts';
import type { ResponseParsers } from '../feed/parsers.ts';
import type { RawTopic } from '../feed/records.ts';
import type { Permits } from '../ops/permits.ts';
import type { ControlValue } from '../topics/control.ts';
import type { TotalsReader } from '../topics/control-read.ts';
import type { CursorReader, CursorValue } from '../topics/cursor.ts';
import type { ProducerMetrics } from './metrics.ts';
import type { ProducerSlot } from './pool.ts';

/** What a poller is configured with. */
export interface PollerOptions {
  feed: FeedOptions;
  rows: RowOptions;
  batch: BatchOptions;
  topics: ProducerTopics;
  /** A progress line per committed batch, at most one every few seconds. */
  logProgress: boolean;
}

/** What a poller is given by the producer's wiring. */
export interface PollerDeps {
  account: FeedAccount;
  options: PollerOptions;
  /** The pool member the account commits through (shared with other accounts). */
  slot: ProducerSlot;
  cursors: CursorReader;
  /** Reads the running control totals (cdr.control.totals) back after a Kafka failure. */
  totals: TotalsReader;
  /** This process, as named in the cursor records it writes. */
  instanceId: string;
  /** Where responses are parsed (worker threads, or this thread). */
  parsers: ResponseParsers;
  /** cdr.raw as found at start: its schema id and partitions. */
  raw: RawTopic;
  /** Largest record (key + value) cdr.raw takes: the topic's max.message.bytes less framing. */
  maxMessageBytes: number;
  /** The control records' schema and its registry ids (cdr.control's subject, cdr.control.totals'). */
  control: { type: avro.Type; schemaId: number; totalsSchemaId: number };
  /** Feed requests in flight for the whole process, given in turn. */
  polls: Permits;
  /** The forward proxy to the carrier (feed/egress.ts); undefined: direct. */
  egress: Dispatcher | undefined;
  metrics: ProducerMetrics;
  logger: Logger;
  signal: AbortSignal;
}

/** Where an account stands as read at start: its claim and running totals, at slot epoch `epoch`. */
export interface AccountStart {
  cursor: CursorValue | undefined;
  totals: Map<string, ControlValue> | undefined;
  epoch: number;
}
