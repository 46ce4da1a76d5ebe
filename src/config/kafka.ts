// Kafka connection settings shared by every command that talks to Kafka: brokers, TLS and SASL.
import { readFileSync } from 'node:fs';
import type { KafkaConfig as KafkaJsConfig, SASLOptions } from 'kafkajs';
import { z } from 'zod';
import { bool, configError } from './env.ts';

export const kafkaEnvSchema = z.object({
  KAFKA_BROKERS: z
    .string()
    .regex(/^[^,\s]+:\d+(,[^,\s]+:\d+)*$/, 'must be host:port[,host:port...]')
    .describe('Bootstrap brokers, comma-separated host:port'),
  KAFKA_CLIENT_ID: z.string().default('cdr-pipeline').describe('Kafka client id'),
  KAFKA_SSL: bool().default(false).describe('Connect with TLS'),
  KAFKA_SSL_CA_FILE: z
    .string()
    .optional()
    .describe('PEM file of the CA that signed the brokers (with KAFKA_SSL)'),
  KAFKA_SASL_MECHANISM: z
    .enum(['plain', 'scram-sha-256', 'scram-sha-512'])
    .optional()
    .describe('SASL mechanism; unset for none'),
  KAFKA_SASL_USERNAME: z.string().optional().describe('SASL user'),
  KAFKA_SASL_PASSWORD: z.string().optional().describe('SASL password (prefer KAFKA_SASL_PASSWORD_FILE)'),
  KAFKA_SASL_PASSWORD_FILE: z.string().optional().describe('File holding the SASL password'),
});

export type KafkaConfig = Readonly<Pick<KafkaJsConfig, 'brokers' | 'clientId' | 'ssl' | 'sasl'>>;

export function readKafkaConfig(env: z.infer<typeof kafkaEnvSchema>): KafkaConfig {
  const brokers = env.KAFKA_BROKERS.split(',');
  let ssl: KafkaJsConfig['ssl'];
  if (env.KAFKA_SSL)
    ssl = env.KAFKA_SSL_CA_FILE ? { ca: [readFile('KAFKA_SSL_CA_FILE', env.KAFKA_SSL_CA_FILE)] } : true;
  let sasl: SASLOptions | undefined;
  if (env.KAFKA_SASL_MECHANISM) {
    if (env.KAFKA_SASL_PASSWORD !== undefined && env.KAFKA_SASL_PASSWORD_FILE !== undefined) {
      configError(
        'KAFKA_SASL_PASSWORD',
        'set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both',
      );
    }
    const password =
      env.KAFKA_SASL_PASSWORD ??
      (env.KAFKA_SASL_PASSWORD_FILE
        ? readFile('KAFKA_SASL_PASSWORD_FILE', env.KAFKA_SASL_PASSWORD_FILE).trimEnd()
        : undefined);
    if (!env.KAFKA_SASL_USERNAME) configError('KAFKA_SASL_USERNAME', 'is required with KAFKA_SASL_MECHANISM');
    if (password === undefined) configError('KAFKA_SASL_PASSWORD', 'is required with KAFKA_SASL_MECHANISM');
    sasl = {
      mechanism: env.KAFKA_SASL_MECHANISM,
      username: env.KAFKA_SASL_USERNAME,
      password,
    } as SASLOptions;
  }
  return Object.freeze({
    brokers,
    clientId: env.KAFKA_CLIENT_ID,
    ...(ssl === undefined ? {} : { ssl }),
    ...(sasl === undefined ? {} : { sasl }),
  });
}

function readFile(key: string, path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    configError(key, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
