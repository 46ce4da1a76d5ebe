// Kafka connection settings shared by every command that talks to Kafka: brokers, TLS (a private
// CA, a client certificate for mutual TLS) and SASL (PLAIN, SCRAM, OAUTHBEARER). Secrets come from
// files (Kubernetes secrets) or, for a token, a command.
import { X509Certificate } from 'node:crypto';
import type { KafkaConfig as KafkaJsConfig, SASLOptions } from 'kafkajs';
import { z } from 'zod';
import { oauthTokenProvider } from '../ops/oauth-token.ts';
import { bool, configError, readConfigFile, readPemFile } from './env.ts';

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
  KAFKA_SSL_CERT_FILE: z
    .string()
    .optional()
    .describe(
      "PEM file of this client's certificate, for brokers that require mutual TLS (with KAFKA_SSL_KEY_FILE)",
    ),
  KAFKA_SSL_KEY_FILE: z.string().optional().describe("PEM file of the client certificate's private key"),
  KAFKA_SSL_KEY_PASSWORD_FILE: z
    .string()
    .optional()
    .describe('File holding the passphrase of an encrypted KAFKA_SSL_KEY_FILE'),
  KAFKA_SASL_MECHANISM: z
    .enum(['plain', 'scram-sha-256', 'scram-sha-512', 'oauthbearer'])
    .optional()
    .describe('SASL mechanism; unset for none'),
  KAFKA_OAUTH_TOKEN_FILE: z
    .string()
    .optional()
    .describe(
      'With oauthbearer: a file holding the token, read again as it nears expiry (kept fresh by a sidecar)',
    ),
  KAFKA_OAUTH_TOKEN_COMMAND: z
    .string()
    .optional()
    .describe(
      'With oauthbearer: a shell command that prints a token (e.g. an MSK IAM signer), run again as it nears expiry',
    ),
  KAFKA_SASL_USERNAME: z.string().optional().describe('SASL user'),
  KAFKA_SASL_PASSWORD: z.string().optional().describe('SASL password (prefer KAFKA_SASL_PASSWORD_FILE)'),
  KAFKA_SASL_PASSWORD_FILE: z.string().optional().describe('File holding the SASL password'),
});

export type KafkaConfig = Readonly<Pick<KafkaJsConfig, 'brokers' | 'clientId' | 'ssl' | 'sasl'>>;

export function readKafkaConfig(env: z.infer<typeof kafkaEnvSchema>): KafkaConfig {
  const brokers = env.KAFKA_BROKERS.split(',');
  const ssl = readTls(env);
  let sasl: SASLOptions | undefined;
  if (env.KAFKA_SASL_MECHANISM === 'oauthbearer') sasl = readOauth(env);
  else if (env.KAFKA_SASL_MECHANISM) {
    if (env.KAFKA_SASL_PASSWORD !== undefined && env.KAFKA_SASL_PASSWORD_FILE !== undefined) {
      configError(
        'KAFKA_SASL_PASSWORD',
        'set either KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE, not both',
      );
    }
    const password =
      env.KAFKA_SASL_PASSWORD ??
      (env.KAFKA_SASL_PASSWORD_FILE
        ? readConfigFile('KAFKA_SASL_PASSWORD_FILE', env.KAFKA_SASL_PASSWORD_FILE).trimEnd()
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

function readTls(env: z.infer<typeof kafkaEnvSchema>): KafkaJsConfig['ssl'] {
  const client = env.KAFKA_SSL_CERT_FILE !== undefined || env.KAFKA_SSL_KEY_FILE !== undefined;
  if (client && (env.KAFKA_SSL_CERT_FILE === undefined || env.KAFKA_SSL_KEY_FILE === undefined))
    configError(
      env.KAFKA_SSL_CERT_FILE === undefined ? 'KAFKA_SSL_CERT_FILE' : 'KAFKA_SSL_KEY_FILE',
      'set both KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE, or neither',
    );
  if (!env.KAFKA_SSL) {
    if (client || env.KAFKA_SSL_CA_FILE !== undefined)
      configError('KAFKA_SSL', 'must be true when a CA file or a client certificate is given');
    return undefined;
  }
  if (!client && env.KAFKA_SSL_CA_FILE === undefined) return true;
  return {
    ...(env.KAFKA_SSL_CA_FILE === undefined
      ? {}
      : { ca: [readPemFile('KAFKA_SSL_CA_FILE', env.KAFKA_SSL_CA_FILE)] }),
    ...(client
      ? {
          cert: readCertificateFile('KAFKA_SSL_CERT_FILE', env.KAFKA_SSL_CERT_FILE as string),
          key: readPemFile('KAFKA_SSL_KEY_FILE', env.KAFKA_SSL_KEY_FILE as string),
        }
      : {}),
    ...(env.KAFKA_SSL_KEY_PASSWORD_FILE === undefined
      ? {}
      : {
          passphrase: readConfigFile(
            'KAFKA_SSL_KEY_PASSWORD_FILE',
            env.KAFKA_SSL_KEY_PASSWORD_FILE,
          ).trimEnd(),
        }),
  };
}

/**
 * A client certificate, refused at start when it is not valid today: the broker would only say
 * "certificate unknown", which could be any of a dozen things.
 */
function readCertificateFile(key: string, path: string, now = Date.now()): string {
  const text = readPemFile(key, path);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(text);
  } catch {
    return configError(key, 'holds no X.509 certificate');
  }
  if (Date.parse(cert.validTo) < now)
    configError(key, `holds a certificate that expired on ${new Date(cert.validTo).toISOString()}`);
  if (Date.parse(cert.validFrom) > now)
    configError(key, `holds a certificate not valid before ${new Date(cert.validFrom).toISOString()}`);
  return text;
}

function readOauth(env: z.infer<typeof kafkaEnvSchema>): SASLOptions {
  const file = env.KAFKA_OAUTH_TOKEN_FILE;
  const command = env.KAFKA_OAUTH_TOKEN_COMMAND;
  if ((file === undefined) === (command === undefined))
    configError(
      'KAFKA_OAUTH_TOKEN_FILE',
      'with KAFKA_SASL_MECHANISM=oauthbearer, set one of KAFKA_OAUTH_TOKEN_FILE and KAFKA_OAUTH_TOKEN_COMMAND',
    );
  if (file !== undefined) readConfigFile('KAFKA_OAUTH_TOKEN_FILE', file);
  return {
    mechanism: 'oauthbearer',
    oauthBearerProvider: oauthTokenProvider(file !== undefined ? { file } : { command: command as string }),
  };
}
