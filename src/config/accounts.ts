// What every command that talks to the carrier shares: the accounts (login and password, from the
// environment or a file of them) and the way out to the carrier. The carrier answers only a
// whitelisted static address, so a cluster reaches it through a forward proxy that owns that
// address (FEED_PROXY_URL, or the usual HTTPS_PROXY / HTTP_PROXY with NO_PROXY).
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { z } from 'zod';
import { configError, readPemFile, secret } from './env.ts';

export interface FeedAccount {
  login: string;
  password: string;
}

/** A forward proxy for requests to the carrier; `noProxy` hosts are reached directly. */
export interface EgressOptions {
  /** undefined: every request goes direct. */
  httpProxy: string | undefined;
  httpsProxy: string | undefined;
  noProxy: string | undefined;
  /** TLS to the carrier beyond the defaults: a private CA, a client certificate (PEM text). */
  tls: CarrierTls | undefined;
}

export interface CarrierTls {
  /** The system's CAs and the private one: undefined keeps Node's defaults. */
  ca: string[] | undefined;
  cert: string | undefined;
  key: string | undefined;
}

export function accountsEnvShape() {
  return {
    FEED_LOGIN: z.string().optional().describe('Feed login (account number), for a single account'),
    FEED_PASSWORD: z.string().optional().describe('Feed password for FEED_LOGIN (prefer FEED_PASSWORD_FILE)'),
    FEED_PASSWORD_FILE: z.string().optional().describe('File holding the feed password for FEED_LOGIN'),
    FEED_ACCOUNTS_FILE: z
      .string()
      .optional()
      .describe('JSON file: [{"login", "password" or "passwordFile"}], several accounts in one process'),
  };
}

const proxyUrl = () => z.url({ protocol: /^https?$/ }).optional();

export function egressEnvShape() {
  return {
    FEED_PROXY_URL: proxyUrl().describe(
      'Forward proxy for every request to the carrier (feed and recordings): the egress that owns the whitelisted address. Overrides HTTPS_PROXY / HTTP_PROXY',
    ),
    HTTPS_PROXY: proxyUrl().describe(
      'Standard forward proxy of https requests (when FEED_PROXY_URL is unset)',
    ),
    HTTP_PROXY: proxyUrl().describe('Standard forward proxy of http requests (when FEED_PROXY_URL is unset)'),
    NO_PROXY: z
      .string()
      .optional()
      .describe('Comma-separated hosts (or .domain suffixes, or *) reached without the proxy'),
    FEED_CA_FILE: z
      .string()
      .optional()
      .describe(
        "PEM file of the CA that signed the carrier's HTTPS certificate (a private CA), trusted beside the system's",
      ),
    FEED_CLIENT_CERT_FILE: z
      .string()
      .optional()
      .describe('PEM client certificate for a carrier that asks for one (with FEED_CLIENT_KEY_FILE)'),
    FEED_CLIENT_KEY_FILE: z.string().optional().describe('PEM private key of FEED_CLIENT_CERT_FILE'),
  };
}

export function readEgress(cfg: {
  FEED_PROXY_URL?: string | undefined;
  HTTPS_PROXY?: string | undefined;
  HTTP_PROXY?: string | undefined;
  NO_PROXY?: string | undefined;
  FEED_CA_FILE?: string | undefined;
  FEED_CLIENT_CERT_FILE?: string | undefined;
  FEED_CLIENT_KEY_FILE?: string | undefined;
}): EgressOptions {
  return {
    httpProxy: cfg.FEED_PROXY_URL ?? cfg.HTTP_PROXY,
    httpsProxy: cfg.FEED_PROXY_URL ?? cfg.HTTPS_PROXY,
    noProxy: cfg.NO_PROXY,
    tls: readCarrierTls(cfg),
  };
}

function readCarrierTls(cfg: {
  FEED_CA_FILE?: string | undefined;
  FEED_CLIENT_CERT_FILE?: string | undefined;
  FEED_CLIENT_KEY_FILE?: string | undefined;
}): CarrierTls | undefined {
  if ((cfg.FEED_CLIENT_CERT_FILE === undefined) !== (cfg.FEED_CLIENT_KEY_FILE === undefined))
    configError(
      cfg.FEED_CLIENT_CERT_FILE === undefined ? 'FEED_CLIENT_CERT_FILE' : 'FEED_CLIENT_KEY_FILE',
      'set both FEED_CLIENT_CERT_FILE and FEED_CLIENT_KEY_FILE, or neither',
    );
  if (cfg.FEED_CA_FILE === undefined && cfg.FEED_CLIENT_CERT_FILE === undefined) return undefined;
  const pem = (key: string, file: string | undefined) =>
    file === undefined ? undefined : readPemFile(key, file);
  const ca = pem('FEED_CA_FILE', cfg.FEED_CA_FILE);
  return {
    // Beside the system's CAs, not instead of them: a proxy or a later public certificate still works.
    ca: ca === undefined ? undefined : [...rootCertificates, ca],
    cert: pem('FEED_CLIENT_CERT_FILE', cfg.FEED_CLIENT_CERT_FILE),
    key: pem('FEED_CLIENT_KEY_FILE', cfg.FEED_CLIENT_KEY_FILE),
  };
}

const accountsFileSchema = z
  .array(
    z
      .object({
        login: z.string().min(1),
        password: z.string().min(1).optional(),
        passwordFile: z.string().optional(),
      })
      .refine(
        (a) => (a.password === undefined) !== (a.passwordFile === undefined),
        'needs password or passwordFile',
      ),
  )
  .min(1);

export function readAccounts(cfg: {
  FEED_LOGIN?: string | undefined;
  FEED_PASSWORD?: string | undefined;
  FEED_PASSWORD_FILE?: string | undefined;
  FEED_ACCOUNTS_FILE?: string | undefined;
}): FeedAccount[] {
  const accounts: FeedAccount[] = [];
  if (cfg.FEED_ACCOUNTS_FILE) accounts.push(...readAccountsFile(cfg.FEED_ACCOUNTS_FILE));
  if (cfg.FEED_LOGIN) {
    const password = secret(cfg.FEED_PASSWORD, cfg.FEED_PASSWORD_FILE, 'FEED_PASSWORD');
    if (password === undefined)
      configError('FEED_PASSWORD', 'is required with FEED_LOGIN (or FEED_PASSWORD_FILE)');
    accounts.push({ login: cfg.FEED_LOGIN, password });
  }
  if (accounts.length === 0)
    configError('FEED_LOGIN', 'set FEED_LOGIN and FEED_PASSWORD(_FILE), or FEED_ACCOUNTS_FILE');
  const logins = accounts.map((a) => a.login);
  const dup = logins.find((l, i) => logins.indexOf(l) !== i);
  if (dup !== undefined) configError('FEED_ACCOUNTS_FILE', `account ${dup} is listed twice`);
  return accounts;
}

function readAccountsFile(path: string): FeedAccount[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    configError(
      'FEED_ACCOUNTS_FILE',
      `cannot be read as JSON (${(err as NodeJS.ErrnoException).code ?? 'invalid JSON'})`,
    );
  }
  const result = accountsFileSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    configError('FEED_ACCOUNTS_FILE', `entry ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return result.data.map((a, i) => ({
    login: a.login,
    password: secret(a.password, a.passwordFile, `FEED_ACCOUNTS_FILE[${i}].password`) as string,
  }));
}
