// Prometheus metrics of the producer. Labels are account logins, pool slots and error kinds: never
// a URL or a password. Per account: the numbers an operator alerts on (one series per account, or a
// few per error kind); histograms are per process or per slot, so a thousand accounts do not make
// tens of thousands of bucket series.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type ProducerMetrics = ReturnType<typeof producerMetrics>;

export function producerMetrics(registry: Registry) {
  const registers = [registry];
  return { ...feedMetrics(registers), ...commitMetrics(registers) };
}

/** What the feed gave, per account: rows, errors, pointers, polls. */
function feedMetrics(registers: Registry[]) {
  return {
    rowsFetched: new Counter({
      name: 'cdr_feed_rows_fetched_total',
      help: 'Rows read from the feed (header excluded), including those dropped as already published',
      labelNames: ['account'],
      registers,
    }),
    rowsPublished: new Counter({
      name: 'cdr_rows_published_total',
      help: 'CDRs committed to the raw topic',
      labelNames: ['account'],
      registers,
    }),
    rowsDeadLettered: new Counter({
      name: 'cdr_rows_dead_lettered_total',
      help: 'Invalid rows committed to the dead-letter topic',
      labelNames: ['account'],
      registers,
    }),
    rowsSkipped: new Counter({
      name: 'cdr_rows_skipped_total',
      help: 'Rows not published because their id is not above the cursor (repeat or id going backwards)',
      labelNames: ['account', 'reason'],
      registers,
    }),
    feedErrors: new Counter({
      name: 'cdr_feed_errors_total',
      help: 'Failed polls by kind (error code)',
      labelNames: ['account', 'kind'],
      registers,
    }),
    pointerRows: new Counter({
      name: 'cdr_feed_pointer_rows_total',
      help: 'Pointer rows (not CDRs) in windowed responses, by whether they were followed',
      labelNames: ['followed'],
      registers,
    }),
    pollDuration: new Histogram({
      name: 'cdr_poll_duration_seconds',
      help: 'Duration of one poll (any account): request, streaming and committing every batch of the response',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    }),
    lastPollSuccess: new Gauge({
      name: 'cdr_last_successful_poll_timestamp_seconds',
      help: 'When the last poll of the account ended without error',
      labelNames: ['account'],
      registers,
    }),
  };
}

/** What was committed: transactions, the cursor, the newest CDR, hanging transactions. */
function commitMetrics(registers: Registry[]) {
  return {
    transactionsAborted: new Counter({
      name: 'cdr_transactions_failed_total',
      help: 'Transactions that failed to commit (aborted or lost with their producer)',
      labelNames: ['account'],
      registers,
    }),
    commitDuration: new Histogram({
      name: 'cdr_commit_duration_seconds',
      help: 'Duration of one transaction (send and commit of a batch), by pool slot (transactional id)',
      labelNames: ['slot'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    cursorCommitted: new Gauge({
      name: 'cdr_cursor_committed_timestamp_seconds',
      help: 'When the account last committed (time() minus it: the cursor age)',
      labelNames: ['account'],
      registers,
    }),
    newestCdrStart: new Gauge({
      name: 'cdr_newest_cdr_start_timestamp_seconds',
      help: 'Call start of the newest CDR published for the account (time() minus it: how far behind)',
      labelNames: ['account'],
      registers,
    }),
    cursorId: new Gauge({
      name: 'cdr_cursor_id',
      help: 'Last feed id committed for the account',
      labelNames: ['account'],
      registers,
    }),
    hangingTransactions: new Gauge({
      name: 'cdr_hanging_transactions',
      help: 'Partitions of the topic whose last stable offset has stayed behind the high watermark for longer than a transaction may stay open (a hanging transaction: read_committed readers see nothing past it)',
      labelNames: ['topic'],
      registers,
    }),
  };
}
