// The level a kafkajs log line is worth to a person on call. kafkajs logs retriable, expected
// conditions at ERROR while it retries them (a coordinator still loading at start, a group
// rebalancing, a leader moving); an `error` line of ours must mean someone should look, so those
// are mapped by meaning. kafkajs gives no error code on most lines: they are recognised by text.

export type Level = 'error' | 'warn' | 'info' | 'debug';

export interface LevelRule {
  pattern: RegExp;
  /** When set, the rule holds only for lines whose message also matches this (a request kind). */
  message?: RegExp;
  level: Level;
  why: string;
}

export const KAFKAJS_LEVEL_RULES: readonly LevelRule[] = [
  {
    pattern: /Not authorized to access|authorization failed|authentication failed/i,
    level: 'debug',
    why: 'Kafka refused this client (an ACL, a login): the failing call says so in one line of its own, naming the ACL or the setting (kafka/access.ts)',
  },
  {
    pattern: /^Limiting retries for the idempotent producer/,
    level: 'debug',
    why: 'our transactional producers limit retries on purpose: a failed transaction is aborted and the producer recreated',
  },
  {
    pattern: /another concurrent operation on the same transaction/,
    level: 'debug',
    why: 'CONCURRENT_TRANSACTIONS: the broker is still writing the previous commit markers; kafkajs retries',
  },
  {
    pattern: /^Topic creation errors|already exists/,
    level: 'debug',
    why: 'two processes creating the same topics at start: the loser finds them there',
  },
  {
    pattern: /not the correct coordinator|NOT_COORDINATOR/i,
    level: 'warn',
    why: 'NOT_COORDINATOR: a group or transaction coordinator moved to another broker (a broker stopped or restarted); kafkajs finds the new one and asks again, and a transaction it was part of is aborted and done again',
  },
  {
    pattern: /fewer in-sync replicas|NOT_ENOUGH_REPLICAS/i,
    level: 'warn',
    why: 'NOT_ENOUGH_REPLICAS: a broker of the partition is down for a moment; the write is refused (the transaction is aborted and done again), nothing is lost',
  },
  {
    pattern:
      /CDR_PARTITION_MOVED|is not assigned to this enricher|the transaction of partition \d+ failed|taking partition \d+ over failed/,
    level: 'info',
    why: 'the enricher gives its partition back and rejoins the group on purpose (it logs why at warn); kafkajs reports the error it was handed',
  },
  {
    pattern: /coordinator is loading/i,
    level: 'debug',
    why: 'COORDINATOR_LOAD_IN_PROGRESS at broker start; kafkajs retries',
  },
  {
    pattern: /coordinator is not available|Coordinator not available/i,
    level: 'debug',
    why: 'COORDINATOR_NOT_AVAILABLE while the group or transaction coordinator starts; kafkajs retries',
  },
  {
    pattern: /does not host this topic-partition|UNKNOWN_TOPIC_OR_PARTITION/i,
    level: 'debug',
    why: 'a topic just created is not in every metadata answer yet; kafkajs retries, and a topic that is really missing is reported by our start-up (waiting for the input topic)',
  },
  {
    pattern: /group is rebalancing/i,
    level: 'info',
    why: 'a rebalance: members joining or leaving, the normal life of a consumer group',
  },
  {
    pattern:
      /not the leader|NOT_LEADER|leader is not available|LEADER_NOT_AVAILABLE|no leader for this topic-partition/i,
    level: 'warn',
    why: 'a partition leader moved (broker restart, reassignment); kafkajs refreshes metadata and retries',
  },
  {
    pattern: /generation id is not valid|ILLEGAL_GENERATION/i,
    level: 'warn',
    why: 'ILLEGAL_GENERATION: the group moved on to a new generation (a rebalance after a broker or member came and went); kafkajs rejoins',
  },
  {
    pattern: /coordinator is not aware of this member|UNKNOWN_MEMBER_ID/i,
    level: 'warn',
    why: 'the member was dropped from the group (a pause past the session timeout); kafkajs rejoins',
  },
  {
    pattern: /old epoch|INVALID_PRODUCER_EPOCH|PRODUCER_FENCED/i,
    level: 'warn',
    why: 'a transaction that timed out or a takeover: the producer and enricher handle it and log what they decided',
  },
  {
    pattern:
      /Connection timeout|Failed to connect|ECONNREFUSED|Connection error|Closed connection|socket hang up|No broker available/i,
    level: 'warn',
    why: 'a broker unreachable for a moment (start-up, restart; every broker, when the only one restarts: kafkajs restarts the consumer); retried, and readiness reports it',
  },
  {
    pattern: /transactional operation in an invalid state|INVALID_TXN_STATE/i,
    message: /^Response (Produce|TxnOffsetCommit)\b/,
    level: 'warn',
    why: "a leader answering late writes (or a group coordinator late offsets) of a transaction already given up on or aborted after a fault: Kafka's verification refuses them, as it should; the producer aborts, initialises again and redoes the batch, the enricher gives the partition back and its batch is redone",
  },
  {
    pattern: /Request .* timed out|timed out after|The request timed out|REQUEST_TIMED_OUT/i,
    level: 'warn',
    why: 'a request slower than its timeout; retried',
  },
  {
    pattern: /^Crash: KafkaJSNonRetriableError: Failed to find group coordinator/,
    level: 'warn',
    why: 'a rejoin while no broker answered: kafkajs gives the consumer up, and the enricher starts it again after a backoff (it logs that at warn; a consumer it cannot start is its own fatal line)',
  },
  {
    pattern: /^Restarting the consumer/,
    level: 'warn',
    why: 'kafkajs restarts a consumer after a retriable crash; a crash that does not restart is our own error line',
  },
];

/** The level for a kafkajs line: the first rule whose pattern matches the message or its error, else kafkajs's own. */
export function kafkajsLevel(own: Level, message: string, error?: string): Level {
  for (const rule of KAFKAJS_LEVEL_RULES) {
    if (rule.message !== undefined && !rule.message.test(message)) continue;
    if (rule.pattern.test(message) || (error !== undefined && rule.pattern.test(error))) {
      // Never louder than kafkajs said.
      return ORDER[rule.level] < ORDER[own] ? rule.level : own;
    }
  }
  return own;
}

const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
