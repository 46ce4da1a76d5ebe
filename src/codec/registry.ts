// Registration with a Confluent-compatible registry (Apicurio's /apis/ccompat/v7 in the local
// stack). BACKWARD compatibility is set on first registration and checked on every later one.
import { Agent } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { rootCertificates } from 'node:tls';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { type Dispatcher, Agent as UndiciAgent, fetch as undiciFetch } from 'undici';
import { CdrError, ErrorCodes } from '../errors.ts';
import { type SchemaName, schemaText } from './schemas.ts';

export interface RegistryOptions {
  url: string;
  /** Basic auth (Confluent Cloud API keys, Apicurio with basic auth). */
  username?: string | undefined;
  password?: string | undefined;
  /** A private CA (PEM) the registry's certificate is checked against, beside the system's. */
  ca?: string | undefined;
  /** A bearer token, asked for on each request (it may be rotated underneath). */
  token?: (() => string) | undefined;
}

/** A middleware of the registry client's HTTP library (mappersmith), as the client's own types name it. */
type Middleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number];

export function registryClient(options: RegistryOptions): SchemaRegistry {
  const auth =
    options.username !== undefined
      ? { username: options.username, password: options.password ?? '' }
      : undefined;
  const token = options.token;
  const bearer: Middleware = () => ({
    prepareRequest: async (next) =>
      (await next()).enhance({ headers: { authorization: `Bearer ${(token as () => string)()}` } }),
  });
  return new SchemaRegistry({
    host: options.url,
    ...(auth ? { auth } : {}),
    ...(options.ca === undefined
      ? {}
      : { agent: new Agent({ keepAlive: true, ca: [...rootCertificates, options.ca] }) }),
    ...(token ? { middlewares: [bearer] } : {}),
  });
}

/**
 * Registers schemas/<name>.avsc under `subject` and returns its id. The caller retries
 * (ops/retry.ts) what is retriable, such as the level mismatch the client reports when two
 * processes register a new subject at once and the second sees it before its level is set. A 409
 * seen twice is the registry saying the schema is incompatible with the subject's versions: final.
 */
export async function registerSchema(
  registry: SchemaRegistry,
  name: SchemaName,
  subject: string,
): Promise<number> {
  // A 409 can also be the loser of two processes creating a subject at once: an incompatibility
  // is stable, a race is not, so a 409 is believed the second time (half a second later). Any other
  // failure is the caller's to retry (retryStartup).
  const register = () =>
    registry.register(
      { type: SchemaType.AVRO, schema: schemaText(name) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
  const is409 = (cause: unknown) => (cause as { status?: number }).status === 409;
  try {
    return (
      await register().catch(async (cause: unknown) => {
        if (!is409(cause)) throw cause;
        await sleep(500);
        return register();
      })
    ).id;
  } catch (cause) {
    if (is409(cause))
      throw new CdrError(
        ErrorCodes.SCHEMA_INCOMPATIBLE,
        `the registry refused schemas/${name}.avsc under ${subject} as incompatible with the versions it holds (HTTP 409): ${(cause as Error).message}`,
        { cause, details: { subject } },
      );
    throw new CdrError(
      ErrorCodes.REGISTRY,
      `registering ${name} under ${subject} failed: ${(cause as Error).message}`,
      {
        cause,
        retriable: true,
      },
    );
  }
}

/**
 * The text of schema `id` (Confluent API `GET /schemas/ids/{id}`). Read with plain HTTP so the
 * schema is parsed by our own avsc, the one the reader type comes from. Undefined for an unknown id.
 */
export async function fetchSchemaText(options: RegistryOptions, id: number): Promise<string | undefined> {
  let res: Response;
  try {
    res = await registryGet(options, `/schemas/ids/${id}`, 10_000);
  } catch (cause) {
    throw new CdrError(ErrorCodes.REGISTRY, `fetching schema id ${id} failed`, { cause, retriable: true });
  }
  if (res.status === 404) return undefined;
  if (!res.ok)
    throw new CdrError(ErrorCodes.REGISTRY, `registry answered ${res.status} for schema id ${id}`, {
      retriable: true,
    });
  const body = (await res.json()) as { schema?: string };
  return body.schema;
}

/** One HTTPS agent per registry options trusting its private CA (kept for the process, keep-alive). */
const caDispatchers = new WeakMap<RegistryOptions, Dispatcher>();

/**
 * GET `path` of the registry with what its client sends: basic auth or the bearer token, and the
 * private CA. Every raw request to the registry (writer schemas, the readiness probe, status)
 * goes through here.
 */
export function registryGet(options: RegistryOptions, path: string, timeoutMs: number): Promise<Response> {
  const headers: Record<string, string> = {
    accept: 'application/vnd.schemaregistry.v1+json, application/json',
  };
  if (options.username !== undefined)
    headers.authorization = `Basic ${Buffer.from(`${options.username}:${options.password ?? ''}`).toString('base64')}`;
  if (options.token) headers.authorization = `Bearer ${options.token()}`;
  let dispatcher = caDispatchers.get(options);
  if (dispatcher === undefined && options.ca !== undefined) {
    dispatcher = new UndiciAgent({ connect: { ca: [...rootCertificates, options.ca] } });
    caDispatchers.set(options, dispatcher);
  }
  return undiciFetch(`${options.url.replace(/\/$/, '')}${path}`, {
    headers,
    signal: AbortSignal.timeout(timeoutMs),
    ...(dispatcher ? { dispatcher } : {}),
  }) as unknown as Promise<Response>;
}
