// The kafkajs client, its log lines routed into pino (no console output from kafkajs).
import { Kafka, logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import type { KafkaConfig } from '../config/kafka.ts';
import { kafkajsLevel } from '../ops/kafkajs-levels.ts';
import { type ClientIdentity, clientIdentity } from './access.ts';
import { registerCodecs } from './compression.ts';
import { assertReadCommittedFixed } from './read-committed.ts';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** Who each client is to the brokers (its user or certificate), for the messages of a refusal. */
const identities = new WeakMap<Kafka, ClientIdentity>();

export function kafkaIdentity(kafka: Kafka): ClientIdentity | undefined {
  return identities.get(kafka);
}

export function createKafka(config: KafkaConfig, logger: Logger): Kafka {
  assertReadCommittedFixed();
  registerCodecs();
  const log = logger.child({ component: 'kafkajs' });
  const kafka = new Kafka({
    ...config,
    // A leader or coordinator that moved is found again within seconds: kafkajs's default waits
    // grow to 30 s between tries (after a broker fault, consumers and admins stayed idle that long).
    retry: { initialRetryTime: 250, maxRetryTime: 5000, retries: 10 },
    // kafkajs's own INFO lines (group joins, producer connects) are noise at our info level.
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, label, log: entry }) => {
        const { message, ...rest } = entry;
        const own = LEVELS[level] ?? 'info';
        // The error's code beside its text: our own errors (an enricher's rejoin) say what they are by code.
        const code = (rest.error as { code?: unknown } | undefined)?.code;
        const error =
          rest.error === undefined
            ? undefined
            : `${typeof code === 'string' ? `${code} ` : ''}${String(rest.error)}`;
        log[kafkajsLevel(own, String(message), error)]({ kafkajs: label, ...rest }, message);
      },
  });
  identities.set(kafka, clientIdentity(config));
  return kafka;
}
