// Apache Kafka in KRaft combined mode (each node broker + controller), from the jars Maven resolves
// for infra/kafka/pom.xml: the single broker most of the work uses (`kafka`), and a three-node
// cluster (`cluster`) for what one broker cannot show: leaders moving, a coordinator paused while
// the others go on, a controller killed. The two use their own ports and data folders and can run
// side by side.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import './quiet-warnings.ts';
import { javaBin, KAFKA_VERSION, LOCAL, mvn, PORTS, ROOT } from './paths.ts';
import { type Started, startDetached } from './processes.ts';
import { ensureTls, SECURED_USERS, TLS } from './tls.ts';

const CLASSPATH_FILE = `${LOCAL}/kafka/classpath-${KAFKA_VERSION}.txt`;

/** One Kafka process of the stack: where it listens and keeps its files. */
export interface KafkaNode {
  /** node.id */
  id: number;
  port: number;
  controllerPort: number;
  home: string;
  /** The process's marker (see processes.ts): which node a pid is. */
  marker: string;
  /** The nodes of its cluster (the controller quorum). */
  cluster: 'single' | 'three';
}

/** The single broker (`./dev local:up`, the default for everything). */
export const SINGLE_NODE: KafkaNode = {
  id: 1,
  port: PORTS.kafka,
  controllerPort: PORTS.controller,
  home: `${LOCAL}/kafka`,
  marker: `-Dcdr.stack=${ROOT}/kafka`,
  cluster: 'single',
};

/** The three nodes of the cluster (`STACK_BROKERS=3`): brokers on base+1..3, controllers on base+11..13. */
export const CLUSTER_NODES: readonly KafkaNode[] = [1, 2, 3].map((id) => ({
  id,
  port: PORTS.cluster + id,
  controllerPort: PORTS.cluster + 10 + id,
  home: `${LOCAL}/kafka-cluster/node-${id}`,
  marker: `-Dcdr.stack=${ROOT}/kafka-node-${id}`,
  cluster: 'three',
}));

export const KAFKA_DATA = `${SINGLE_NODE.home}/data`;

export function bootstrap(nodes: readonly KafkaNode[]): string {
  return nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
}

/** Resolves the Kafka jars (cached in ~/.m2) and returns the classpath. */
export function kafkaClasspath(): string {
  const cached = existsSync(CLASSPATH_FILE) ? readFileSync(CLASSPATH_FILE, 'utf8').trim() : '';
  if (cached?.split(':').every((jar) => existsSync(jar))) return cached;
  mkdirSync(`${LOCAL}/kafka`, { recursive: true });
  mvn([
    '-f',
    `${ROOT}/infra/kafka/pom.xml`,
    'dependency:build-classpath',
    `-Dmdep.outputFile=${CLASSPATH_FILE}`,
  ]);
  return readFileSync(CLASSPATH_FILE, 'utf8').trim();
}

/**
 * Users of the single broker's SASL_PLAINTEXT listener (PLAIN, loopback only). The plaintext
 * listener's clients (User:ANONYMOUS) and `admin` are super users; `producer` has only the ACLs a
 * test gives it: what a least-privileged client meets (the client conformance suite).
 */
export const SASL_USERS = { admin: 'admin-secret', producer: 'producer-secret' } as const;

/**
 * The single broker's secured listeners, as production has them: SASL_SSL with SCRAM-SHA-512 and
 * SCRAM-SHA-256 (the
 * users of SECURED_USERS, made when the storage is formatted) and SSL requiring a client
 * certificate, whose CN is the principal (CN=cdr-producer is User:cdr-producer). No access without
 * an ACL; each role's ACLs are src/kafka/acls.ts's.
 */
function securedListeners(): Record<string, string> {
  const sasl = `SASL_SSL://127.0.0.1:${PORTS.kafkaSaslSsl}`;
  const mtls = `SSL://127.0.0.1:${PORTS.kafkaMtls}`;
  return {
    listeners: `${sasl},${mtls}`,
    'listener.security.protocol.map': 'SASL_SSL:SASL_SSL,SSL:SSL',
    'listener.name.sasl_ssl.sasl.enabled.mechanisms': 'SCRAM-SHA-512,SCRAM-SHA-256',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config':
      'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config':
      'org.apache.kafka.common.security.scram.ScramLoginModule required;',
    'listener.name.ssl.ssl.client.auth': 'required',
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': TLS.brokerKeyStore,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': TLS.ca,
    'ssl.principal.mapping.rules': 'RULE:^CN=([^,]+)$/$1/,DEFAULT',
  };
}

/** The storage format's SCRAM users, and the file that says a data folder has them. */
const SCRAM_MARKER = 'scram-users-512-256';
function scramArguments(): string[] {
  return Object.entries(SECURED_USERS).flatMap(([name, password]) =>
    ['SCRAM-SHA-512', 'SCRAM-SHA-256'].flatMap((m) => [
      '--add-scram',
      `${m}=[name=${name},password=${password}]`,
    ]),
  );
}

function nodeProperties(node: KafkaNode): Record<string, string> {
  const voters =
    node.cluster === 'single'
      ? `1@127.0.0.1:${node.controllerPort}`
      : CLUSTER_NODES.map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`).join(',');
  const common = {
    'process.roles': 'broker,controller',
    'node.id': String(node.id),
    'controller.quorum.voters': voters,
    listeners: `PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${node.port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': `${node.home}/data`,
    'num.partitions': '1',
    'group.initial.rebalance.delay.ms': '0',
    'auto.create.topics.enable': 'false',
    'log.retention.hours': '168',
    // Timed-out transactions are aborted within a second instead of ten, so the zombie tests (a
    // producer frozen past its transaction timeout) see the abort without long waits.
    'transaction.abort.timed.out.transaction.cleanup.interval.ms': '1000',
  };
  if (node.cluster === 'single') {
    const secured = securedListeners();
    const listeners = `SASL_PLAINTEXT://127.0.0.1:${PORTS.kafkaSasl},${secured.listeners}`;
    return {
      ...common,
      ...secured,
      listeners: `${common.listeners},${listeners}`,
      'advertised.listeners': `${common['advertised.listeners']},${listeners}`,
      'listener.security.protocol.map': `${common['listener.security.protocol.map']},SASL_PLAINTEXT:SASL_PLAINTEXT,${secured['listener.security.protocol.map']}`,
      'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required ${Object.entries(
        SASL_USERS,
      )
        .map(([user, password]) => `user_${user}="${password}"`)
        .join(' ')};`,
      // ACLs apply on every listener, and nothing is allowed without one. The plaintext
      // listener's clients (the tests' own admin, the services in most tests) are super users.
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:ANONYMOUS;User:admin',
      'allow.everyone.if.no.acl.found': 'false',
      // One broker cannot meet the default replication of the internal topics: without these,
      // consumer groups find no coordinator and transactions never start.
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
      'transaction.state.log.replication.factor': '1',
      'transaction.state.log.min.isr': '1',
      'transaction.state.log.num.partitions': '1',
      'share.coordinator.state.topic.replication.factor': '1',
      'share.coordinator.state.topic.min.isr': '1',
    };
  }
  // A production shape: every partition on three nodes, a write acknowledged by two of them, no
  // replica that missed writes ever made leader. Fewer internal partitions than Kafka's 50 (a
  // restarted node loads them faster), still spread over the three nodes.
  return {
    ...common,
    'default.replication.factor': '3',
    'min.insync.replicas': '2',
    'unclean.leader.election.enable': 'false',
    'offsets.topic.replication.factor': '3',
    'offsets.topic.num.partitions': '6',
    'transaction.state.log.replication.factor': '3',
    'transaction.state.log.min.isr': '2',
    'transaction.state.log.num.partitions': '6',
    'share.coordinator.state.topic.replication.factor': '3',
    'share.coordinator.state.topic.min.isr': '2',
  };
}

function writeConfig(node: KafkaNode): { config: string; log4j: string } {
  mkdirSync(`${node.home}/data`, { recursive: true });
  const config = `${node.home}/server.properties`;
  const log4j = `${node.home}/log4j2.properties`;
  writeFileSync(
    config,
    `${Object.entries(nodeProperties(node))
      .map(([k, v]) => `${k}=${v}`)
      .join('\n')}\n`,
  );
  writeFileSync(
    log4j,
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
  return { config, log4j };
}

/** The cluster id a node's storage is formatted with: one per single broker, one shared by the three nodes. */
function clusterId(node: KafkaNode): string {
  if (node.cluster === 'single') return randomBytes(16).toString('base64url');
  const file = `${LOCAL}/kafka-cluster/cluster-id`;
  if (!existsSync(file)) {
    mkdirSync(`${LOCAL}/kafka-cluster`, { recursive: true });
    // Kafka's base64url form of a random UUID, as `kafka-storage.sh random-uuid` prints it.
    writeFileSync(file, randomBytes(16).toString('base64url'));
  }
  return readFileSync(file, 'utf8').trim();
}

export function startKafkaNode(node: KafkaNode): Started {
  const classpath = kafkaClasspath();
  if (node.cluster === 'single') ensureTls();
  const { config, log4j } = writeConfig(node);
  const heap = node.cluster === 'single' ? ['-Xms512m', '-Xmx1g'] : ['-Xms256m', '-Xmx768m'];
  const jvm = [
    ...heap,
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${log4j}`,
    node.marker,
    '-cp',
    classpath,
  ];
  const data = `${node.home}/data`;
  const scram = node.cluster === 'single';
  if (scram && existsSync(`${data}/meta.properties`) && !existsSync(`${data}/${SCRAM_MARKER}`)) {
    // SCRAM users are made when the storage is formatted: data from before they existed is dropped.
    process.stderr.write(
      `${data} predates the secured listeners' users: formatted again (its topics are dropped)\n`,
    );
    rmSync(data, { recursive: true, force: true });
    mkdirSync(data, { recursive: true });
  }
  if (!existsSync(`${data}/meta.properties`)) {
    const users = scram ? scramArguments() : [];
    execFileSync(
      javaBin(),
      [
        ...jvm,
        'kafka.tools.StorageTool',
        'format',
        `--cluster-id=${clusterId(node)}`,
        '-c',
        config,
        ...users,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (scram) writeFileSync(`${data}/${SCRAM_MARKER}`, `${Object.keys(SECURED_USERS).join('\n')}\n`);
  }
  return startDetached(javaBin(), [...jvm, 'kafka.Kafka', config], `${node.home}/logs/server.log`);
}

export function startKafka(): Started {
  return startKafkaNode(SINGLE_NODE);
}

/** Whether `brokers` answer with at least `count` brokers registered. */
export async function kafkaReady(brokers: string, count = 1): Promise<boolean> {
  const admin = new Kafka({
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 1000,
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length >= count;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
