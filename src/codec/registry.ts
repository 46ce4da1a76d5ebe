// Registration with a Confluent-compatible registry (Apicurio's /apis/ccompat/v7 in the local
// stack). BACKWARD compatibility is set on first registration and checked on every later one.
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { CdrError, ErrorCodes } from '../errors.ts';
import { type SchemaName, schemaText } from './schemas.ts';

export interface RegistryOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
}

export function registryClient(options: RegistryOptions): SchemaRegistry {
  const auth =
    options.username !== undefined
      ? { username: options.username, password: options.password ?? '' }
      : undefined;
  return new SchemaRegistry(auth ? { host: options.url, auth } : { host: options.url });
}

/** Registers schemas/<name>.avsc under `subject` and returns its id. */
export async function registerSchema(
  registry: SchemaRegistry,
  name: SchemaName,
  subject: string,
): Promise<number> {
  try {
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: schemaText(name) },
      { subject, compatibility: COMPATIBILITY.BACKWARD },
    );
    return id;
  } catch (cause) {
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
