// Apache Kafka in KRaft combined mode, one node, from the jars Maven resolves for infra/kafka/pom.xml.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import './quiet-warnings.ts';
import { javaBin, KAFKA_VERSION, LOCAL, mvn, PORTS, ROOT } from './paths.ts';
import { type Started, startDetached } from './processes.ts';

const HOME = `${LOCAL}/kafka`;
const CLASSPATH_FILE = `${HOME}/classpath-${KAFKA_VERSION}.txt`;
const DATA = `${HOME}/data`;
const CONFIG = `${HOME}/server.properties`;
const LOG4J = `${HOME}/log4j2.properties`;

/** Resolves the Kafka jars (cached in ~/.m2) and returns the classpath. */
export function kafkaClasspath(): string {
  const cached = existsSync(CLASSPATH_FILE) ? readFileSync(CLASSPATH_FILE, 'utf8').trim() : '';
  if (cached?.split(':').every((jar) => existsSync(jar))) return cached;
  mkdirSync(HOME, { recursive: true });
  mvn([
    '-f',
    `${ROOT}/infra/kafka/pom.xml`,
    'dependency:build-classpath',
    `-Dmdep.outputFile=${CLASSPATH_FILE}`,
  ]);
  return readFileSync(CLASSPATH_FILE, 'utf8').trim();
}

function writeConfig(): void {
  mkdirSync(DATA, { recursive: true });
  const props = {
    'process.roles': 'broker,controller',
    'node.id': '1',
    'controller.quorum.voters': `1@127.0.0.1:${PORTS.controller}`,
    listeners: `PLAINTEXT://127.0.0.1:${PORTS.kafka},CONTROLLER://127.0.0.1:${PORTS.controller}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${PORTS.kafka}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': DATA,
    'num.partitions': '1',
    // One broker cannot meet the default replication of the internal topics: without these,
    // consumer groups find no coordinator and transactions never start.
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'false',
    'log.retention.hours': '168',
    // Timed-out transactions are aborted within a second instead of ten, so the zombie tests (a
    // producer frozen past its transaction timeout) see the abort without long waits.
    'transaction.abort.timed.out.transaction.cleanup.interval.ms': '1000',
  };
  writeFileSync(
    CONFIG,
    `${Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  writeFileSync(
    LOG4J,
    [
      'rootLogger.level = INFO',
      'rootLogger.appenderRef.stdout.ref = STDOUT',
      'appender.stdout.type = Console',
      'appender.stdout.name = STDOUT',
      'appender.stdout.layout.type = PatternLayout',
      'appender.stdout.layout.pattern = [%d] %p %m (%c)%n',
      'logger.kafka.name = kafka',
      'logger.kafka.level = WARN',
      'logger.apache.name = org.apache.kafka',
      'logger.apache.level = WARN',
      'logger.started.name = kafka.server.KafkaRaftServer',
      'logger.started.level = INFO',
      '',
    ].join('\n'),
  );
}

/** Kafka's base64url form of a random UUID, as `kafka-storage.sh random-uuid` prints it. */
function clusterId(): string {
  return randomBytes(16).toString('base64url');
}

export function startKafka(): Started {
  const classpath = kafkaClasspath();
  writeConfig();
  const jvm = [
    '-Xms512m',
    '-Xmx1g',
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${LOG4J}`,
    `-Dcdr.stack=${ROOT}/kafka`,
    '-cp',
    classpath,
  ];
  if (!existsSync(`${DATA}/meta.properties`)) {
    execFileSync(
      javaBin(),
      [...jvm, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId()}`, '-c', CONFIG],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
  }
  return startDetached(javaBin(), [...jvm, 'kafka.Kafka', CONFIG], `${HOME}/logs/server.log`);
}

export async function kafkaReady(brokers: string): Promise<boolean> {
  const admin = new Kafka({
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1000,
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length > 0;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export const KAFKA_DATA = DATA;
