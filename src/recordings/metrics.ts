// The recordings stage's Prometheus metrics. No label carries a path, a URL or a credential.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type RecordingsMetrics = ReturnType<typeof recordingsMetrics>;

export function recordingsMetrics(registry: Registry) {
  const registers = [registry];
  return {
    stored: new Counter({
      name: 'cdr_recordings_stored_total',
      help: 'Recordings fetched from the carrier and stored',
      registers,
    }),
    reused: new Counter({
      name: 'cdr_recordings_reused_total',
      help: 'Recordings found already stored (a run before a restart) and referenced without a download',
      registers,
    }),
    bytes: new Counter({
      name: 'cdr_recordings_bytes_total',
      help: 'Bytes of recordings stored',
      registers,
    }),
    failures: new Counter({
      name: 'cdr_recordings_failures_total',
      help: 'Tries that failed, by error code (each is retried or dead-lettered)',
      labelNames: ['code'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'cdr_recordings_dead_lettered_total',
      help: 'Recordings dead-lettered, by error code',
      labelNames: ['code'],
      registers,
    }),
    referencesCommitted: new Counter({
      name: 'cdr_recordings_references_total',
      help: 'Reference records committed to cdr.recordings',
      registers,
    }),
    recordsIn: new Counter({
      name: 'cdr_recordings_records_in_total',
      help: 'CDRs read from cdr.raw (with or without a recording)',
      registers,
    }),
    refused: new Gauge({
      name: 'cdr_recordings_refused',
      help: 'Whether the carrier refuses: reason="address" (403, not the whitelisted egress) is 0 or 1; reason="login" counts the accounts answered 401',
      labelNames: ['reason'],
      registers,
    }),
    transaction: new Histogram({
      name: 'cdr_recordings_transaction_seconds',
      help: 'Time from a slice read to its references committed (downloads included)',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    partitionsMoved: new Counter({
      name: 'cdr_recordings_partitions_moved_total',
      help: 'Partitions dropped after a failed transaction (the group gives them out again)',
      registers,
    }),
    consumerRestarts: new Counter({
      name: 'cdr_recordings_consumer_restarts_total',
      help: 'Times the consumer was started again after no broker answered',
      registers,
    }),
    skippedCommitted: new Counter({
      name: 'cdr_recordings_records_skipped_committed_total',
      help: 'Records fetched below the offset the previous owner of the partition committed',
      registers,
    }),
    hangingTransactions: new Gauge({
      name: 'cdr_recordings_hanging_transactions',
      help: 'Partitions whose last stable offset has stayed behind the high watermark for longer than a transaction may stay open',
      labelNames: ['topic'],
      registers,
    }),
  };
}
