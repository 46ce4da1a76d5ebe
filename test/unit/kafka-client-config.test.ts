// The Kafka client settings for secured clusters, as configuration reads them: TLS with a private
// CA and a client certificate (mutual TLS), SASL PLAIN/SCRAM with the password from a file, and
// OAUTHBEARER with a token from a file or a command, kept until it nears expiry. Errors name the
// variable and never carry a secret.
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureTls, TLS } from '../../scripts/stack/tls.ts';
import { parseEnv } from '../../src/config/env.ts';
import { kafkaEnvSchema, readKafkaConfig } from '../../src/config/kafka.ts';
import { jwtExpiry, oauthTokenProvider } from '../../src/ops/oauth-token.ts';

const dir = mkdtempSync(join(tmpdir(), 'kafka-client-'));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
// Real certificates made with openssl (the local stack's, under .local/tls).
ensureTls();
const CLIENT = TLS.client('cdr-producer').cert;
const PEM = (what: string) => `-----BEGIN ${what}-----\nMIIB\n-----END ${what}-----\n`;
const read = (env: Record<string, string>) =>
  readKafkaConfig(parseEnv(kafkaEnvSchema, { KAFKA_BROKERS: 'k1:9093', ...env }));

/** A JWT (unsigned: only its expiry is read) expiring at `exp` (epoch s). */
const jwt = (exp: number, tag: string) =>
  `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ exp, sub: tag })).toString('base64url')}.sig`;

describe('Kafka client settings', () => {
  it('TLS: a private CA and a client certificate and key (mutual TLS), with a key passphrase from a file', () => {
    const ssl = read({
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA_FILE: file('ca.pem', PEM('CERTIFICATE')),
      KAFKA_SSL_CERT_FILE: CLIENT,
      KAFKA_SSL_KEY_FILE: file('client.key', PEM('ENCRYPTED PRIVATE KEY')),
      KAFKA_SSL_KEY_PASSWORD_FILE: file('pass', 'key-secret\n'),
    }).ssl as { ca: string[]; cert: string; key: string; passphrase: string };
    expect(ssl.ca).toEqual([PEM('CERTIFICATE')]);
    expect(ssl.cert).toBe(readFileSync(CLIENT, 'utf8'));
    expect(ssl.key).toBe(PEM('ENCRYPTED PRIVATE KEY'));
    expect(ssl.passphrase).toBe('key-secret');
    expect(read({ KAFKA_SSL: 'true' }).ssl).toBe(true);
    expect(read({}).ssl).toBeUndefined();
  });

  it.each([
    [{ KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: 'x' }, /KAFKA_SSL_KEY_FILE: set both/],
    [{ KAFKA_SSL_CA_FILE: 'x' }, /KAFKA_SSL: must be true/],
    [
      { KAFKA_SSL: 'true', KAFKA_SSL_CERT_FILE: TLS.expired.cert, KAFKA_SSL_KEY_FILE: TLS.expired.key },
      /KAFKA_SSL_CERT_FILE: holds a certificate that expired on 2020-01-02T00:00:00.000Z/,
    ],
    [
      {
        KAFKA_SSL: 'true',
        KAFKA_SSL_CERT_FILE: file('fake.pem', PEM('CERTIFICATE')),
        KAFKA_SSL_KEY_FILE: TLS.expired.key,
      },
      /KAFKA_SSL_CERT_FILE: holds no X.509 certificate/,
    ],
    [
      { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: join(dir, 'missing.pem') },
      /KAFKA_SSL_CA_FILE: cannot be read \(ENOENT\)/,
    ],
    [
      { KAFKA_SSL: 'true', KAFKA_SSL_CA_FILE: file('plain.txt', 'hello') },
      /KAFKA_SSL_CA_FILE: is not a PEM file/,
    ],
    [{ KAFKA_SASL_MECHANISM: 'oauthbearer' }, /KAFKA_OAUTH_TOKEN_FILE: .*set one of/],
    [
      { KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_OAUTH_TOKEN_FILE: 'a', KAFKA_OAUTH_TOKEN_COMMAND: 'b' },
      /KAFKA_OAUTH_TOKEN_FILE: .*set one of/,
    ],
    [{ KAFKA_SASL_MECHANISM: 'scram-sha-512', KAFKA_SASL_USERNAME: 'u' }, /KAFKA_SASL_PASSWORD: is required/],
    [{ KAFKA_SASL_MECHANISM: 'gssapi' }, /KAFKA_SASL_MECHANISM/],
  ] as Array<[Record<string, string>, RegExp]>)('refuses %j naming the variable', (env, message) => {
    expect(() => read(env)).toThrow(message);
  });

  it('SCRAM with the password from a file, never in the error of a bad setting', () => {
    const sasl = read({
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: 'cdr-producer',
      KAFKA_SASL_PASSWORD_FILE: file('scram', 's3cret-scram\n'),
    }).sasl as { mechanism: string; username: string; password: string };
    expect(sasl).toEqual({ mechanism: 'scram-sha-512', username: 'cdr-producer', password: 's3cret-scram' });
    try {
      read({
        KAFKA_SASL_MECHANISM: 'plain',
        KAFKA_SASL_USERNAME: 'u',
        KAFKA_SASL_PASSWORD: 'pw-secret',
        KAFKA_SASL_PASSWORD_FILE: 'f',
      });
      expect.unreachable();
    } catch (err) {
      expect(String(err)).toContain('KAFKA_SASL_PASSWORD');
      expect(String(err)).not.toContain('pw-secret');
    }
  });

  it('OAUTHBEARER from a file: read again on each authentication, or kept while a JWT is fresh', async () => {
    const path = file('token', 'opaque-1\n');
    const sasl = read({ KAFKA_SASL_MECHANISM: 'oauthbearer', KAFKA_OAUTH_TOKEN_FILE: path }).sasl as {
      mechanism: string;
      oauthBearerProvider: () => Promise<{ value: string }>;
    };
    expect(sasl.mechanism).toBe('oauthbearer');
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'opaque-1' });
    writeFileSync(path, 'opaque-2');
    // Not a JWT: no expiry to trust, so read again.
    expect(await sasl.oauthBearerProvider()).toEqual({ value: 'opaque-2' });

    let now = 1_800_000_000_000;
    const exp = now / 1000 + 3600;
    writeFileSync(path, jwt(exp, 'first'));
    const provider = oauthTokenProvider({ file: path }, () => now);
    expect(jwtExpiry(jwt(exp, 'x'))).toBe(exp * 1000);
    expect((await provider()).value).toBe(jwt(exp, 'first'));
    writeFileSync(path, jwt(exp + 3600, 'second'));
    now += 40 * 60_000; // 20 minutes left of an hour: kept
    expect((await provider()).value).toBe(jwt(exp, 'first'));
    now += 10 * 60_000; // 10 minutes left, under a fifth of its life: renewed
    expect((await provider()).value).toBe(jwt(exp + 3600, 'second'));
  });

  it('OAUTHBEARER from a command: its output is the token; a failure names the variable, never the output', async () => {
    const counter = file('count', '');
    const script = file('sign.sh', `echo x >> ${counter}\nprintf '%s' "${jwt(4_000_000_000, 'cmd')}"\n`);
    chmodSync(script, 0o755);
    const provider = oauthTokenProvider({ command: script });
    expect((await provider()).value).toBe(jwt(4_000_000_000, 'cmd'));
    expect((await provider()).value).toBe(jwt(4_000_000_000, 'cmd'));
    // The JWT is far from expiry: the command ran once.
    expect((await import('node:fs')).readFileSync(counter, 'utf8')).toBe('x\n');
    const failing = oauthTokenProvider({ command: 'echo token-in-output; exit 3' });
    await expect(failing()).rejects.toThrow(/KAFKA_OAUTH_TOKEN_COMMAND exit 3/);
    await expect(failing()).rejects.not.toThrow(/token-in-output/);
    await expect(oauthTokenProvider({ command: 'true' })()).rejects.toThrow(/empty token/);
    await expect(oauthTokenProvider({ file: join(dir, 'none') })()).rejects.toThrow(
      /KAFKA_OAUTH_TOKEN_FILE ENOENT/,
    );
  });
});
