// The enricher's Prometheus metrics.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export type EnricherMetrics = ReturnType<typeof enricherMetrics>;

export function enricherMetrics(registry: Registry) {
  const registers = [registry];
  return {
    hangingTransactions: new Gauge({
      name: 'cdr_enrich_hanging_transactions',
      help: 'Partitions of the topic whose last stable offset has stayed behind the high watermark for longer than a transaction may stay open (a hanging transaction: read_committed readers see nothing past it)',
      labelNames: ['topic'],
      registers,
    }),
    recordsIn: new Counter({
      name: 'cdr_enrich_records_in_total',
      help: 'Records read from cdr.raw',
      registers,
    }),
    recordsOut: new Counter({
      name: 'cdr_enrich_records_out_total',
      help: 'Enriched records committed, by category',
      labelNames: ['category'],
      registers,
    }),
    deadLettered: new Counter({
      name: 'cdr_enrich_dead_lettered_total',
      help: 'Records that could not be decoded, committed to the DLQ',
      registers,
    }),
    lag: new Gauge({
      name: 'cdr_enrich_consumer_lag',
      help: 'Records behind the end of the input partition after the last batch',
      labelNames: ['partition'],
      registers,
    }),
    transaction: new Histogram({
      name: 'cdr_enrich_transaction_duration_seconds',
      help: 'One transaction: send, offsets, commit',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    failed: new Counter({
      name: 'cdr_enrich_transactions_failed_total',
      help: 'Transactions that did not commit',
      registers,
    }),
    partitionsMoved: new Counter({
      name: 'cdr_enrich_partitions_moved_total',
      help: 'Input partitions dropped because another enricher now owns them (fenced), before rejoining',
      registers,
    }),
    consumerRestarts: new Counter({
      name: 'cdr_enrich_consumer_restarts_total',
      help: 'Times the enricher started its Kafka consumer again after kafkajs gave it up while no broker answered',
      registers,
    }),
    skippedCommitted: new Counter({
      name: 'cdr_enrich_records_skipped_committed_total',
      help: 'Records fetched below the offset the previous owner of the partition committed',
      registers,
    }),
  };
}
