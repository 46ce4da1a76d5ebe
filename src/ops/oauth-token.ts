// SASL/OAUTHBEARER tokens for Kafka, the way managed clusters hand them out: a file that a sidecar
// or the platform keeps fresh (a Kubernetes projected token, a Vault agent), or a command that
// prints one (`aws-msk-iam-sasl-signer`, a cloud CLI). kafkajs asks for a token on every
// authentication and re-authentication; a token is kept until a fifth of its life (at least a
// minute) is left when it says when it expires (a JWT's `exp`), else read again each time. The
// token never appears in an error or a log line.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { CdrError, ErrorCodes } from '../errors.ts';

export type TokenSource = { file: string } | { command: string };

/** When a JWT expires (epoch ms), from its payload's `exp`; undefined for any other token. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** kafkajs's `oauthBearerProvider` over a token file or command. */
export function oauthTokenProvider(
  source: TokenSource,
  now: () => number = Date.now,
): () => Promise<{ value: string }> {
  let cached: { value: string; refreshAt: number } | undefined;
  return async () => {
    if (cached && now() < cached.refreshAt) return { value: cached.value };
    const value = await fetchToken(source);
    const fetchedAt = now();
    const expiry = jwtExpiry(value);
    cached =
      expiry === undefined
        ? undefined
        : { value, refreshAt: expiry - Math.max(60_000, (expiry - fetchedAt) / 5) };
    return { value };
  };
}

async function fetchToken(source: TokenSource): Promise<string> {
  const key = 'file' in source ? 'KAFKA_OAUTH_TOKEN_FILE' : 'KAFKA_OAUTH_TOKEN_COMMAND';
  let text: string;
  try {
    text =
      'file' in source
        ? await readFile(source.file, 'utf8')
        : await new Promise<string>((resolve, reject) => {
            execFile(
              '/bin/sh',
              ['-c', source.command],
              { timeout: 30_000, maxBuffer: 1 << 20 },
              (err, stdout) => (err ? reject(err) : resolve(stdout)),
            );
          });
  } catch (err) {
    // Only the reason: a command's output could hold the token.
    const e = err as NodeJS.ErrnoException & { code?: string | number; killed?: boolean };
    const why = e.killed
      ? 'timed out after 30 s'
      : typeof e.code === 'number'
        ? `exit ${e.code}`
        : (e.code ?? 'failed');
    throw new CdrError(ErrorCodes.KAFKA, `the Kafka OAuth token could not be read: ${key} ${why}`, {
      retriable: true,
    });
  }
  const token = text.trim();
  if (token === '')
    throw new CdrError(
      ErrorCodes.KAFKA,
      `the Kafka OAuth token could not be read: ${key} gave an empty token`,
      {
        retriable: true,
      },
    );
  return token;
}
