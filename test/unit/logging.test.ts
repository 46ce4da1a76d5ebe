// Log format selection, pretty lines that stay redacted, and the kafkajs level table entry by entry.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { KAFKAJS_LEVEL_RULES, kafkajsLevel } from '../../src/ops/kafkajs-levels.ts';
import { createLogger, logFormat } from '../../src/ops/logger.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      cb();
    },
  });
  return {
    lines,
    destination: destination as unknown as NodeJS.WritableStream & { write(s: string): boolean },
  };
}

describe('LOG_FORMAT', () => {
  it('is what is set, else pretty on a terminal and JSON elsewhere', () => {
    expect(logFormat('json', true)).toBe('json');
    expect(logFormat('pretty', false)).toBe('pretty');
    expect(logFormat(undefined, true)).toBe('pretty');
    expect(logFormat(undefined, false)).toBe('json');
  });

  it('writes JSON lines, or readable lines that keep the redaction', async () => {
    const json = capture();
    createLogger({ format: 'json', destination: json.destination }).warn(
      { password: 's3cret', account: '40021' },
      'poll failed',
    );
    const pretty = capture();
    createLogger({ format: 'pretty', destination: pretty.destination }).warn(
      { password: 's3cret', account: '40021' },
      'poll failed',
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(JSON.parse(json.lines[0] as string)).toMatchObject({
      level: 'warn',
      msg: 'poll failed',
      password: '[redacted]',
    });
    const line = pretty.lines.join('\n');
    expect(() => JSON.parse(line)).toThrow();
    expect(line).toMatch(/WARN.*poll failed/);
    expect(line).toContain('40021');
    expect(line).not.toContain('s3cret');
  });
});

describe('kafkajs levels', () => {
  // One real kafkajs message per rule, with the level kafkajs gave it and the one it is worth.
  const samples: Array<[string, 'error' | 'warn' | 'info' | 'debug', string, string?]> = [
    // Our own line names the ACL or the setting (kafka/access.ts).
    [
      'Response Metadata(key: 3, version: 6)',
      'error',
      'debug',
      'Not authorized to access topics: [Topic authorization failed]',
    ],
    ['Limiting retries for the idempotent producer', 'warn', 'debug'],
    [
      'Response AddPartitionsToTxn(key: 24, version: 1)',
      'error',
      'debug',
      'There is already another concurrent operation on the same transaction',
    ],
    ['Topic creation errors', 'error', 'debug'],
    [
      'Response GroupCoordinator(key: 10, version: 2)',
      'error',
      'debug',
      "The coordinator is loading and hence can't process requests",
    ],
    [
      'Response FindCoordinator(key: 10, version: 2)',
      'error',
      'debug',
      'The group coordinator is not available',
    ],
    [
      'Response Metadata(key: 3, version: 6)',
      'error',
      'debug',
      'This server does not host this topic-partition',
    ],
    ['The group is rebalancing, re-joining', 'error', 'info'],
    [
      'Response Produce(key: 0, version: 7)',
      'error',
      'warn',
      'This server is not the leader for that topic-partition',
    ],
    ['The coordinator is not aware of this member, re-joining the group', 'error', 'warn'],
    [
      'Response EndTxn(key: 26, version: 1)',
      'error',
      'warn',
      "Producer attempted an operation with an old epoch. Either there is a newer producer with the same transactionalId, or the producer's transaction has been expired by the broker",
    ],
    [
      'Failed to connect to seed broker, trying another broker from the list: Connection timeout',
      'error',
      'warn',
    ],
    ['Request Fetch(key: 1, version: 11) timed out', 'error', 'warn'],
    [
      'Response AddPartitionsToTxn(key: 24, version: 1)',
      'error',
      'warn',
      'This is not the correct coordinator for this group',
    ],
    [
      'Response Produce(key: 0, version: 7)',
      'error',
      'warn',
      'Messages are rejected since there are fewer in-sync replicas than required',
    ],
    [
      'Response Heartbeat(key: 12, version: 3)',
      'error',
      'warn',
      'Specified group generation id is not valid',
    ],
    ['Response Produce(key: 0, version: 7)', 'error', 'warn', 'The request timed out'],
    [
      'Response ListOffsets(key: 2, version: 3)',
      'error',
      'warn',
      'There is no leader for this topic-partition as we are in the middle of a leadership election',
    ],
    [
      'Error when calling eachBatch',
      'error',
      'info',
      'CDR_PARTITION_MOVED CdrError: the transaction of partition 4 failed (CDR_KAFKA)',
    ],
    ['Error when calling eachBatch', 'error', 'info', 'CdrError: taking partition 3 over failed (CDR_KAFKA)'],
    ['Restarting the consumer in 300ms', 'error', 'warn'],
    // Seen in the single-broker fault campaign while the only broker was down: kafkajs restarts the consumer.
    ['Crash: KafkaJSNoBrokerAvailableError: No broker available', 'error', 'warn'],
    // Seen when the only broker was killed while the enricher committed: the rejoin found nobody.
    ['Crash: KafkaJSNonRetriableError: Failed to find group coordinator', 'error', 'warn'],
    // Seen in the cluster campaign: a paused leader answering, after SIGCONT, the writes the producer had
    // already given up on (the transaction was aborted and the producer initialised again meanwhile).
    [
      'Response Produce(key: 0, version: 7)',
      'error',
      'warn',
      'The producer attempted a transactional operation in an invalid state',
    ],
    // Seen in the suite's cluster campaign: an enricher's offsets of a transaction its coordinator had
    // already aborted after the fault (the partition is given back and its batch redone).
    [
      'Response TxnOffsetCommit(key: 28, version: 1)',
      'error',
      'warn',
      'The producer attempted a transactional operation in an invalid state',
    ],
  ];

  it('has a sample for every rule', () => {
    for (const rule of KAFKAJS_LEVEL_RULES) {
      expect(
        samples.some(([m, , , e]) => rule.pattern.test(m) || (e !== undefined && rule.pattern.test(e))),
        String(rule.pattern),
      ).toBe(true);
    }
  });

  it.each(samples)('%s -> from %s to %s', (message, own, expected, error) => {
    expect(kafkajsLevel(own, message, error)).toBe(expected);
  });

  it('keeps kafkajs levels for anything else, and never makes a line louder', () => {
    expect(kafkajsLevel('error', 'Crash: KafkaJSNonRetriableError: Unsupported SASL mechanism')).toBe(
      'error',
    );
    expect(kafkajsLevel('debug', 'The group is rebalancing, re-joining')).toBe('debug');
    // An invalid transaction state anywhere but a late Produce or TxnOffsetCommit answer is ours to look at.
    expect(
      kafkajsLevel(
        'error',
        'Response EndTxn(key: 26, version: 1)',
        'The producer attempted a transactional operation in an invalid state',
      ),
    ).toBe('error');
  });
});
