// The kafkajs client, its log lines routed into pino (no console output from kafkajs).
import { Kafka, logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/kafka.ts';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

// kafkajs logs these without an error code, so they are recognised by text. All are expected:
// our transactional producers limit retries on purpose (a failed transaction is aborted and the
// producer recreated, so no retry limit can break exactly-once), and CONCURRENT_TRANSACTIONS is
// the broker still finishing the previous commit, which kafkajs retries.
const EXPECTED = [
  /^Limiting retries for the idempotent producer/,
  /another concurrent operation on the same transaction/,
  // Two processes creating the same topics at start: the loser's "already exists" is expected.
  /^Topic creation errors/,
];

function quiet(message: unknown, error: unknown): boolean {
  return EXPECTED.some((re) => re.test(String(message)) || re.test(String(error ?? '')));
}

export function createKafka(config: KafkaConfig, logger: Logger): Kafka {
  const log = logger.child({ component: 'kafkajs' });
  return new Kafka({
    ...config,
    // kafkajs's own INFO lines (group joins, producer connects) are noise at our info level.
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, label, log: entry }) => {
        const { message, ...rest } = entry;
        log[quiet(message, rest.error) ? 'debug' : (LEVELS[level] ?? 'info')](
          { kafkajs: label, ...rest },
          message,
        );
      },
  });
}
