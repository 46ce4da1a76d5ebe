// Kafka refusing this client, said as one line a person can act on: a login the broker refused, a
// certificate either side refused, a port that speaks TLS when the client does not (or the other
// way round), a missing ACL named by its operation and resource. Each is CDR_KAFKA_ACCESS: never
// retried at start (exit 2), and a service that meets one later says so on /readyz. No secret
// reaches a message: the user name and the certificate's subject are named, never a password or a
// token.
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { Kafka, logLevel } from 'kafkajs';
import type { KafkaConfig } from '../config/kafka.ts';
import { CdrError, ErrorCodes } from '../errors.ts';
import type { AclOperation } from './acls.ts';

export type Chain = {
  name?: string;
  type?: string;
  code?: unknown;
  message?: string;
  originalError?: unknown;
  cause?: unknown;
  errors?: unknown;
};

/**
 * Every error of kafkajs's chain (retriable wrappers keep `originalError`, others `cause`), and
 * with `lists`, of an aggregate's list too (topic creation answers per topic).
 */
export function chainOf(err: unknown, lists = true): Chain[] {
  const out: Chain[] = [];
  const visit = (e: unknown, depth: number): void => {
    if (!e || typeof e !== 'object' || depth > 10) return;
    const c = e as Chain;
    out.push(c);
    if (lists && Array.isArray(c.errors)) for (const inner of c.errors) visit(inner, depth + 1);
    visit(c.originalError ?? c.cause, depth + 1);
  };
  visit(err, 0);
  return out;
}

/** Kafka's authorization errors and the kind of resource each is about. */
const DENIED: Record<string, ResourceKind> = {
  TOPIC_AUTHORIZATION_FAILED: 'topic',
  GROUP_AUTHORIZATION_FAILED: 'group',
  CLUSTER_AUTHORIZATION_FAILED: 'cluster',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: 'transactional-id',
};
type ResourceKind = 'topic' | 'group' | 'cluster' | 'transactional-id';

/** What a call was doing, per kind of resource: the operation it needed and on what. */
export type AccessContext = Partial<
  Record<ResourceKind, { operation: AclOperation; names: readonly string[] }>
>;

/** What of the client's settings a message names (never a secret). */
export interface ClientIdentity {
  /** SASL mechanism and user, or a client certificate's subject. */
  principal?: string;
  mechanism?: string;
  tls: boolean;
  clientCertificate: boolean;
}

export function clientIdentity(config: KafkaConfig): ClientIdentity {
  const sasl = config.sasl as { mechanism?: string; username?: string } | undefined;
  const ssl = typeof config.ssl === 'object' ? (config.ssl as { cert?: unknown }) : undefined;
  let principal: string | undefined;
  if (sasl?.username) principal = `User:${sasl.username}`;
  else if (typeof ssl?.cert === 'string') {
    try {
      principal = `certificate ${new X509Certificate(ssl.cert).subject.replace(/\n/g, ',')}`;
    } catch {
      principal = undefined;
    }
  }
  return {
    ...(principal === undefined ? {} : { principal }),
    ...(sasl?.mechanism === undefined ? {} : { mechanism: sasl.mechanism }),
    tls: config.ssl !== undefined && config.ssl !== false,
    clientCertificate: ssl?.cert !== undefined,
  };
}

const access = (message: string, cause: unknown) => new CdrError(ErrorCodes.KAFKA_ACCESS, message, { cause });

/** Node's codes for a broker certificate this client does not trust. */
const UNTRUSTED = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
]);

function tlsFailure(c: Chain, who: ClientIdentity | undefined, cause: unknown): CdrError | undefined {
  const code = typeof c.code === 'string' ? c.code : '';
  if (UNTRUSTED.has(code))
    return access(
      `the broker's certificate is not signed by a CA this client trusts (${code}): check KAFKA_SSL_CA_FILE`,
      cause,
    );
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return access(
      `the broker's certificate is not valid now (${code}): the broker's certificate needs renewing`,
      cause,
    );
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID')
    return access(`the broker's certificate does not name the host connected to: check KAFKA_BROKERS`, cause);
  const alert = /^ERR_SSL_.*ALERT_([A-Z_]+)$/.exec(code)?.[1];
  if (alert === undefined) return undefined;
  const said = alert.toLowerCase().replace(/_/g, ' ');
  if (who && !who.clientCertificate)
    return access(
      `the broker refused the TLS handshake (alert: ${said}): it wants a client certificate; set KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE`,
      cause,
    );
  return access(
    `the broker refused this client's certificate (alert: ${said}): check that KAFKA_SSL_CERT_FILE is signed by a CA the broker trusts and has not expired`,
    cause,
  );
}

function saslFailure(c: Chain, who: ClientIdentity | undefined, cause: unknown): CdrError | undefined {
  if (c.name === 'KafkaJSSASLAuthenticationError') {
    if (who?.mechanism === 'oauthbearer' || /OAUTHBEARER/i.test(c.message ?? ''))
      return access(
        'Kafka refused the OAUTHBEARER token: check KAFKA_OAUTH_TOKEN_FILE or KAFKA_OAUTH_TOKEN_COMMAND',
        cause,
      );
    const user = who?.principal?.startsWith('User:') ? ` of ${who.principal}` : '';
    const mechanism = who?.mechanism ? ` ${who.mechanism.toUpperCase()}` : '';
    return access(
      `Kafka refused the SASL${mechanism} login${user} (a wrong password or an unknown user; the broker does not say which): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE`,
      cause,
    );
  }
  if (c.type === 'ILLEGAL_SASL_STATE' || c.type === 'UNSUPPORTED_SASL_MECHANISM')
    return access(
      `the listener does not take this SASL login (${c.type}): check KAFKA_SASL_MECHANISM, and that KAFKA_BROKERS names a SASL listener`,
      cause,
    );
  return undefined;
}

function deniedFailure(
  c: Chain,
  who: ClientIdentity | undefined,
  context: AccessContext | undefined,
  cause: unknown,
) {
  const kind = c.type === undefined ? undefined : DENIED[c.type];
  if (kind === undefined) return undefined;
  const wanted = context?.[kind];
  // A topic's own error (topic creation answers per topic) names it.
  const named =
    typeof (c as { topic?: unknown }).topic === 'string' ? [(c as { topic: string }).topic] : undefined;
  const principal = who?.principal ?? "this client's principal";
  const what =
    wanted === undefined
      ? `access to a ${kind}`
      : `${wanted.operation} on ${kind} ${(named ?? wanted.names).join(', ') || '(unnamed)'}`;
  return access(
    `Kafka denied ${what} to ${principal} (${c.type}): add the ACL (\`cdr-pipeline acls\` prints each role's, docs/security.md)`,
    cause,
  );
}

/**
 * CDR_KAFKA_ACCESS with one line to act on when Kafka refused this client; undefined for any other
 * failure. `context` names the operation and resources of the call, for a missing ACL.
 */
export function accessFailure(
  err: unknown,
  who?: ClientIdentity,
  context?: AccessContext,
): CdrError | undefined {
  if (err instanceof CdrError && err.code === ErrorCodes.KAFKA_ACCESS) return err;
  for (const c of chainOf(err)) {
    const found = deniedFailure(c, who, context, err) ?? saslFailure(c, who, err) ?? tlsFailure(c, who, err);
    if (found) return found;
  }
  return undefined;
}

/** Throws what `accessFailure` makes of a failure, or the failure itself. */
export function rethrowAccess(err: unknown, who?: ClientIdentity, context?: AccessContext): never {
  throw accessFailure(err, who, context) ?? err;
}

/** Whether a TLS handshake with host:port completes (any certificate): the port speaks TLS. */
function speaksTls(broker: string, timeoutMs = 3000): Promise<boolean> {
  const at = broker.lastIndexOf(':');
  return new Promise((resolve) => {
    const socket = tlsConnect({
      host: broker.slice(0, at),
      port: Number(broker.slice(at + 1)),
      rejectUnauthorized: false,
      timeout: timeoutMs,
    });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('secureConnect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

const CLOSED = new Set(['KafkaJSConnectionClosedError']);
const TLS_CUT = /before secure TLS connection was established|wrong version number|packet length too long/i;

/**
 * The first contact of a command with Kafka, before anything else: a refused login, certificate or
 * protocol is CDR_KAFKA_ACCESS (exit 2) with the setting to check. A broker that does not answer
 * is left to the steps that follow (they retry).
 */
export async function checkKafkaAccess(config: KafkaConfig): Promise<void> {
  const who = clientIdentity(config);
  // A probe of its own: a refused certificate is not worth kafkajs's ten tries, nor its log lines.
  const probe = new Kafka({
    ...config,
    logLevel: logLevel.NOTHING,
    retry: { retries: 2, initialRetryTime: 200 },
  });
  const admin = probe.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (err) {
    const found = accessFailure(err, who);
    if (found) throw found;
    const chain = chainOf(err);
    const broker = Array.isArray(config.brokers) ? (config.brokers[0] as string) : '';
    if (
      broker &&
      !who.tls &&
      chain.some((c) => c.name !== undefined && CLOSED.has(c.name)) &&
      (await speaksTls(broker))
    )
      throw access(
        `the broker at ${broker} speaks TLS and this client does not: set KAFKA_SSL=true (and KAFKA_SSL_CA_FILE)`,
        err,
      );
    if (broker && who.tls && chain.some((c) => TLS_CUT.test(c.message ?? '')) && !(await speaksTls(broker)))
      throw access(
        `the broker at ${broker} does not speak TLS: check KAFKA_SSL and that KAFKA_BROKERS names its TLS listener`,
        err,
      );
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
