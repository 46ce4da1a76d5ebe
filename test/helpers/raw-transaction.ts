// A transaction written by hand, request by request, with kafkajs's own Broker class
// (InitProducerId, AddPartitionsToTxn, Produce, EndTxn), so that a test can write records into a
// partition the transaction's coordinator was never told of: records no marker ends, which stay
// open until the same producer id's next marker there (what a broker stopped mid-commit left in
// cdr.cursor and cdr.control.totals, README). The fault is injected at the edge: Kafka itself is
// untouched, the broker only has its partition verification (KIP-890) switched off meanwhile, or
// it would refuse such a write.
import { createRequire } from 'node:module';
import kafkajs, { type Kafka, type Message } from 'kafkajs';

const { ConfigResourceTypes } = kafkajs;

const require = createRequire(import.meta.url);
const Broker = require('kafkajs/src/broker') as new (o: object) => RawBroker;
const ConnectionPool = require('kafkajs/src/network/connectionPool') as new (o: object) => object;
const socketFactory = (require('kafkajs/src/network/socketFactory') as () => unknown)();
const { createLogger, LEVELS } = require('kafkajs/src/loggers') as {
  createLogger(o: { level: number; logCreator: () => () => void }): unknown;
  LEVELS: { NOTHING: number };
};

interface RawBroker {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  initProducerId(o: { transactionalId: string; transactionTimeout: number }): Promise<{
    producerId: string;
    producerEpoch: number;
  }>;
  addPartitionsToTxn(o: object): Promise<unknown>;
  produce(o: object): Promise<unknown>;
  endTxn(o: object): Promise<unknown>;
}

export interface RawPart {
  topic: string;
  partition: number;
  messages: Message[];
  /** Added to the transaction (AddPartitionsToTxn) before it is written; false: a stray. */
  added: boolean;
}

/**
 * One transaction of `transactionalId` on the single broker at `host:port`: InitProducerId (fencing
 * whoever had the id), the parts written (the added ones announced first), then EndTxn(commit).
 * Sequences start at 0: the epoch is new.
 */
export async function rawTransaction(
  host: string,
  port: number,
  transactionalId: string,
  parts: RawPart[],
): Promise<{ producerId: string; producerEpoch: number }> {
  const logger = createLogger({ level: LEVELS.NOTHING, logCreator: () => () => {} });
  const broker = new Broker({
    connectionPool: new ConnectionPool({
      host,
      port,
      logger,
      socketFactory,
      clientId: 'raw-transaction',
      connectionTimeout: 5000,
      requestTimeout: 30_000,
      enforceRequestTimeout: true,
    }),
    logger,
  });
  await broker.connect();
  try {
    const { producerId, producerEpoch } = await initProducerId(broker, transactionalId);
    const added = parts.filter((p) => p.added);
    await broker.addPartitionsToTxn({
      transactionalId,
      producerId,
      producerEpoch,
      topics: [...new Set(added.map((p) => p.topic))].map((topic) => ({
        topic,
        partitions: added.filter((p) => p.topic === topic).map((p) => p.partition),
      })),
    });
    for (const part of parts)
      await broker.produce({
        transactionalId,
        producerId,
        producerEpoch,
        acks: -1,
        timeout: 30_000,
        topicData: [
          {
            topic: part.topic,
            partitions: [{ partition: part.partition, firstSequence: 0, messages: part.messages }],
          },
        ],
      });
    await broker.endTxn({ transactionalId, producerId, producerEpoch, transactionResult: true });
    return { producerId, producerEpoch };
  } finally {
    await broker.disconnect();
  }
}

/**
 * InitProducerId as a client does it: while the id's previous transaction is still completing (its
 * markers being written, or an open one being aborted by this very request) the coordinator answers
 * CONCURRENT_TRANSACTIONS, and the request is asked again. A busy id (a slot publishing) answers it
 * almost always.
 */
async function initProducerId(
  broker: RawBroker,
  transactionalId: string,
): Promise<{ producerId: string; producerEpoch: number }> {
  for (const deadline = Date.now() + 30_000; ; ) {
    try {
      return await broker.initProducerId({ transactionalId, transactionTimeout: 60_000 });
    } catch (err) {
      if ((err as { type?: string }).type !== 'CONCURRENT_TRANSACTIONS' || Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * Switches the broker's partition verification (KIP-890 part 1) off or back on, and waits until it
 * says so (a dynamic broker setting is applied a moment after it is accepted).
 */
export async function partitionVerification(kafka: Kafka, brokerId: string, enabled: boolean): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.alterConfigs({
      validateOnly: false,
      resources: [
        {
          type: ConfigResourceTypes.BROKER,
          name: brokerId,
          // AlterConfigs replaces the broker's dynamic settings: none puts the default back.
          configEntries: enabled
            ? []
            : [{ name: 'transaction.partition.verification.enable', value: 'false' }],
        },
      ],
    });
    for (const deadline = Date.now() + 10_000; ; ) {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [
          {
            type: ConfigResourceTypes.BROKER,
            name: brokerId,
            configNames: ['transaction.partition.verification.enable'],
          },
        ],
      });
      if (resources[0]?.configEntries[0]?.configValue === String(enabled)) return;
      if (Date.now() > deadline)
        throw new Error(`partition verification did not turn ${enabled ? 'on' : 'off'}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await admin.disconnect();
  }
}
