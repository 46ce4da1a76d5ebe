// Kafka's errors as this project's codes: what a failed transaction means to its caller.
import { CdrError, ErrorCodes } from '../errors.ts';
import { type AccessContext, accessFailure, type Chain, type ClientIdentity, chainOf } from './access.ts';

// Kafka error codes by meaning. kafkajs 2.2.4 speaks old protocol versions, for which the broker
// reports both a timed-out transaction and a takeover by another producer as
// INVALID_PRODUCER_EPOCH (47): the caller tells the two apart (producer/ownership.ts). Only
// PRODUCER_FENCED (90, which kafkajs has no name for) is a takeover by itself.
const KAFKA_CODES = {
  INVALID_PRODUCER_EPOCH: 47,
  PRODUCER_FENCED: 90,
  MESSAGE_TOO_LARGE: 10,
  RECORD_LIST_TOO_LARGE: 18,
} as const;
type KafkaCodeName = keyof typeof KAFKA_CODES;

/** Whether an error of kafkajs's chain (not the lists of aggregates) matches. */
function inChain(err: unknown, test: (e: Chain) => boolean): boolean {
  return chainOf(err, false).some(test);
}

/** Whether kafkajs's error chain holds this Kafka error. */
export function hasKafkaError(err: unknown, name: KafkaCodeName): boolean {
  return inChain(err, (e) => e.type === name || e.code === KAFKA_CODES[name]);
}

/**
 * kafkajs errors that mean no broker answered (refused, reset, timed out, no coordinator found
 * among the brokers it could not reach). kafkajs marks some of them final ("Failed to find group
 * coordinator"), though the cluster may be back in a minute.
 */
const NO_ANSWER = new Set([
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
]);

export function noBrokerAnswered(err: unknown): boolean {
  return inChain(err, (e) => e.name !== undefined && NO_ANSWER.has(e.name));
}

/**
 * A Kafka failure as this project's error. A refusal of this client (login, certificate, ACL) is
 * CDR_KAFKA_ACCESS, naming what `access.context` says the call needed.
 */
export function kafkaError(
  message: string,
  cause: unknown,
  access?: { who?: ClientIdentity | undefined; context?: AccessContext },
): CdrError {
  if (cause instanceof CdrError) return cause;
  const refused = accessFailure(cause, access?.who, access?.context);
  if (refused) return refused;
  const text = `${message}: ${(cause as Error).message}`;
  if (hasKafkaError(cause, 'PRODUCER_FENCED'))
    return new CdrError(
      ErrorCodes.PRODUCER_FENCED,
      `${message}: fenced by a newer producer with the same transactional id`,
      { cause },
    );
  if (hasKafkaError(cause, 'INVALID_PRODUCER_EPOCH'))
    return new CdrError(ErrorCodes.PRODUCER_EPOCH, text, { cause, retriable: true });
  if (hasKafkaError(cause, 'MESSAGE_TOO_LARGE') || hasKafkaError(cause, 'RECORD_LIST_TOO_LARGE'))
    return new CdrError(ErrorCodes.MESSAGE_TOO_LARGE, text, { cause, retriable: true });
  return new CdrError(ErrorCodes.KAFKA, text, { cause, retriable: true });
}
