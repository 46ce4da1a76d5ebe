// The secured listeners' key material, made with openssl under .local/tls (never committed): a CA,
// the broker's certificate (127.0.0.1 and localhost), a client certificate per role for mutual TLS
// (CN = the role's user, the principal the broker's mapping rule makes of it), one client
// certificate that expired in 2020, and a second CA the broker does not trust. Made once; a file
// that is missing is made again with everything after it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { ADDRESSES, LOCAL } from './paths.ts';

export const TLS_DIR = `${LOCAL}/tls`;

/** The users of the secured listeners, one per role: SCRAM-SHA-512 passwords and mTLS certificates. */
export const SECURED_USERS = {
  'cdr-producer': 'producer-scram-pw-4f1c',
  'cdr-enricher': 'enricher-scram-pw-93ab',
  'cdr-tools': 'tools-scram-pw-7d20',
  'cdr-recordings': 'recordings-scram-pw-c5e8',
} as const;
export type SecuredUser = keyof typeof SECURED_USERS;

export interface KeyPair {
  cert: string;
  key: string;
}

/** The settings of a client of the SASL_SSL listener: SCRAM-SHA-512 as `user`, its password in `passwordFile`. */
export function scramClient(user: string, passwordFile: string): Record<string, string> {
  return {
    KAFKA_BROKERS: ADDRESSES.singleSaslSsl,
    KAFKA_SSL: 'true',
    KAFKA_SSL_CA_FILE: TLS.ca,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    KAFKA_SASL_USERNAME: user,
    KAFKA_SASL_PASSWORD_FILE: passwordFile,
  };
}

export const TLS = {
  ca: `${TLS_DIR}/ca.pem`,
  /** A CA that signed nothing the broker presents: a client trusting it refuses the broker. */
  otherCa: `${TLS_DIR}/other-ca.pem`,
  /** The broker's key store: its private key and its certificate, one PEM file. */
  brokerKeyStore: `${TLS_DIR}/broker-keystore.pem`,
  client: (user: SecuredUser): KeyPair => ({ cert: `${TLS_DIR}/${user}.pem`, key: `${TLS_DIR}/${user}.key` }),
  /** A client certificate of cdr-producer, signed by the CA, valid for one day in January 2020. */
  expired: { cert: `${TLS_DIR}/expired.pem`, key: `${TLS_DIR}/expired.key` } as KeyPair,
};

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Certificates made with openssl in one folder: CAs, and leaves signed by its `ca.pem`. */
export function opensslIn(dir: string, days: number) {
  const openssl = (args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  return {
    openssl,
    /** A self-signed CA: `<name>.pem` and `<name>.key`. */
    ca(name: string, cn: string): void {
      const files = ['-keyout', `${name}.key`, '-out', `${name}.pem`];
      openssl(['req', '-x509', ...EC_KEY, ...files, '-days', String(days), '-subj', `/CN=${cn}`]);
    },
    /** A key and a request for `cn`: `<name>.key`, `<name>.csr`. */
    request(name: string, cn: string): void {
      openssl([
        'req',
        '-new',
        ...EC_KEY,
        '-keyout',
        `${name}.key`,
        '-out',
        `${name}.csr`,
        '-subj',
        `/CN=${cn}`,
      ]);
    },
    /** `<name>.pem`, signed by ca.pem with these extensions (openssl extfile lines). */
    leaf(name: string, cn: string, extensions: string): void {
      this.request(name, cn);
      writeFileSync(`${dir}/${name}.ext`, extensions);
      const ca = ['-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial'];
      const out = ['-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.pem`];
      openssl(['x509', '-req', '-in', `${name}.csr`, ...ca, ...out]);
    },
  };
}

/** A certificate whose validity ended in 2020: `openssl ca` is the one openssl 3.0 command that takes dates. */
function signExpired(openssl: (args: string[]) => void, name: string): void {
  writeFileSync(`${TLS_DIR}/index.txt`, '');
  writeFileSync(`${TLS_DIR}/serial`, '1000\n');
  writeFileSync(
    `${TLS_DIR}/ca.cnf`,
    [
      '[ca]',
      'default_ca = test',
      '[test]',
      `dir = ${TLS_DIR}`,
      'database = $dir/index.txt',
      'new_certs_dir = $dir',
      'certificate = $dir/ca.pem',
      'private_key = $dir/ca.key',
      'serial = $dir/serial',
      'default_md = sha256',
      'policy = any',
      'unique_subject = no',
      '[any]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  openssl([
    'ca',
    '-batch',
    '-config',
    'ca.cnf',
    '-in',
    `${name}.csr`,
    '-out',
    `${name}.pem`,
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20200102000000Z',
    '-notext',
  ]);
}

/** Makes whatever of the key material is missing (all of it when the CA is). */
export function ensureTls(): void {
  const wanted = [TLS.ca, TLS.otherCa, TLS.brokerKeyStore, TLS.expired.cert];
  for (const user of Object.keys(SECURED_USERS) as SecuredUser[]) wanted.push(TLS.client(user).cert);
  if (wanted.every((f) => existsSync(f))) return;
  rmSync(TLS_DIR, { recursive: true, force: true });
  mkdirSync(TLS_DIR, { recursive: true });
  const certs = opensslIn(TLS_DIR, 3650);
  certs.ca('ca', 'cdr-pipeline local test CA');
  certs.ca('other-ca', 'some other CA');
  certs.leaf(
    'broker',
    'localhost',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  execFileSync('sh', ['-c', 'cat broker.key broker.pem > broker-keystore.pem'], { cwd: TLS_DIR });
  for (const user of Object.keys(SECURED_USERS)) certs.leaf(user, user, 'extendedKeyUsage=clientAuth\n');
  certs.request('expired', 'cdr-producer');
  signExpired(certs.openssl, 'expired');
}
