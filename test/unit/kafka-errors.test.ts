// Which kafkajs errors mean "no broker answered": the enricher starts its consumer again after
// those, and stops for good after anything else (a missing ACL, a bug).
import {
  KafkaJSConnectionError,
  KafkaJSGroupCoordinatorNotFound,
  KafkaJSNonRetriableError,
  KafkaJSProtocolError,
  KafkaJSRequestTimeoutError,
} from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { noBrokerAnswered } from '../../src/kafka/kafka-errors.ts';

/** As kafkajs's retrier gives an error up: a non-retriable error whose cause is the original. */
const NonRetriable = KafkaJSNonRetriableError as unknown as new (e: Error, m: { cause: Error }) => Error;
const givenUp = (e: Error) => new NonRetriable(e, { cause: e });

describe('noBrokerAnswered', () => {
  it('finds an unreachable cluster along the causes, as kafkajs wraps it', () => {
    // What the consumer crashed with when its rejoin found no broker: the retrier's wrapper around
    // the coordinator lookup.
    const notFound = new (KafkaJSGroupCoordinatorNotFound as unknown as new (m: string) => Error)(
      'Failed to find group coordinator',
    );
    const crash = givenUp(notFound);
    expect(crash.name).toBe('KafkaJSNonRetriableError');
    expect(noBrokerAnswered(crash)).toBe(true);
    expect(noBrokerAnswered(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED'))).toBe(true);
    expect(noBrokerAnswered(new KafkaJSRequestTimeoutError('Request Fetch timed out'))).toBe(true);
  });

  it('leaves everything else final', () => {
    const denied = new KafkaJSProtocolError('Not authorized to access group: Group authorization failed');
    expect(noBrokerAnswered(givenUp(denied))).toBe(false);
    expect(noBrokerAnswered(new Error('Failed to find group coordinator'))).toBe(false);
    expect(noBrokerAnswered(undefined)).toBe(false);
  });
});
