// Where the local stack keeps its runtimes, data and logs (all under the ignored .local/), and
// the ports it binds on 127.0.0.1. Ports can be moved with STACK_* variables.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');
export const LOCAL = `${ROOT}/.local`;
export const STATE_FILE = `${LOCAL}/stack.json`;

export const KAFKA_VERSION = '4.4.0';
// Apicurio Registry 3.0.x is the newest line that runs on Java 17; 3.1+ needs Java 21.
export const APICURIO_VERSION = '3.0.9';
// s3proxy 3.0.x is built for Java 17 (class files of version 61).
export const S3PROXY_VERSION = '3.0.0';

function port(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > 65535)
    throw new Error(`${name} must be a port number`);
  return value;
}

export const PORTS = {
  kafka: port('STACK_KAFKA_PORT', 19092),
  controller: port('STACK_CONTROLLER_PORT', 19093),
  /** The single broker's SASL listener (PLAIN, users of SASL_USERS), where ACLs apply. */
  kafkaSasl: port('STACK_KAFKA_SASL_PORT', 19094),
  /** The single broker's SASL_SSL listener (SCRAM-SHA-512, the local CA; scripts/stack/tls.ts). */
  kafkaSaslSsl: port('STACK_KAFKA_SASL_SSL_PORT', 19095),
  /** The single broker's SSL listener that requires a client certificate (mutual TLS). */
  kafkaMtls: port('STACK_KAFKA_MTLS_PORT', 19096),
  registry: port('STACK_REGISTRY_PORT', 18081),
  simulator: port('STACK_SIMULATOR_PORT', 18080),
  /** The S3 server of the recordings (s3proxy). */
  s3: port('STACK_S3_PORT', 18090),
  /** The forward proxy standing for the carrier's whitelisted egress address. */
  proxy: port('STACK_PROXY_PORT', 18888),
  /** The three-node cluster: brokers on this + 1..3, controllers on this + 11..13. */
  cluster: port('STACK_CLUSTER_PORT', 19100),
};

/**
 * How many Kafka nodes `./dev local:up` and `./dev start` run: 1 (the default) or 3
 * (STACK_BROKERS=3: a three-node cluster, replication factor 3, min.insync.replicas 2).
 */
export function stackBrokers(): 1 | 3 {
  const v = process.env.STACK_BROKERS ?? '1';
  if (v !== '1' && v !== '3') throw new Error(`STACK_BROKERS must be 1 or 3, got "${v}"`);
  return v === '3' ? 3 : 1;
}

/** The Kafka part of the stack STACK_BROKERS asks for, and the replication factor that suits it. */
export const STACK_KAFKA: 'kafka' | 'cluster' = stackBrokers() === 3 ? 'cluster' : 'kafka';
export const STACK_REPLICATION = stackBrokers() === 3 ? 3 : 1;

const CLUSTER_BROKERS = [1, 2, 3].map((i) => `127.0.0.1:${PORTS.cluster + i}`).join(',');

export const ADDRESSES = {
  /** The brokers of the Kafka STACK_BROKERS asks for. */
  brokers: stackBrokers() === 3 ? CLUSTER_BROKERS : `127.0.0.1:${PORTS.kafka}`,
  single: `127.0.0.1:${PORTS.kafka}`,
  singleSasl: `127.0.0.1:${PORTS.kafkaSasl}`,
  singleSaslSsl: `127.0.0.1:${PORTS.kafkaSaslSsl}`,
  singleMtls: `127.0.0.1:${PORTS.kafkaMtls}`,
  cluster: CLUSTER_BROKERS,
  registry: `http://127.0.0.1:${PORTS.registry}/apis/ccompat/v7`,
  simulator: `http://127.0.0.1:${PORTS.simulator}`,
  s3: `http://127.0.0.1:${PORTS.s3}`,
  proxy: `http://127.0.0.1:${PORTS.proxy}`,
};

export function javaBin(): string {
  return process.env.JAVA_HOME ? `${process.env.JAVA_HOME}/bin/java` : 'java';
}

/** An ANSI escape sequence (ESC [ ... letter). */
const ANSI_ESCAPE = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

export function mvn(args: string[]): void {
  // Maven 3.8 still writes ANSI reset codes with -B and style.color=never: its output is taken,
  // stripped of escape sequences, and only lines with words in them are passed on.
  const result = spawnSync('mvn', ['-q', '-B', '-Dstyle.color=never', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  const text = `${result.stdout ?? ''}${result.stderr ?? ''}`.replace(ANSI_ESCAPE, '');
  for (const line of text.split('\n')) if (line.trim() !== '') process.stderr.write(`${line}\n`);
  if (result.status !== 0) throw new Error(`mvn ${args.join(' ')} failed (exit ${result.status})`);
}
