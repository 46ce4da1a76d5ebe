// Decodes records written under any registered version of the raw schema, or a schema that holds
// its fields (cdr-enriched), into the current reader schema by Avro schema resolution. The writer
// schema of each id is fetched from the registry once; records are then decoded without an await.
// Used by the enrichers and by the reading tools.
import avro from 'avsc';
import type { RawCdr } from '../cdr/row.ts';
import { CdrError, ErrorCodes } from '../errors.ts';
import { fetchSchemaText, type RegistryOptions } from './registry.ts';
import { HEADER_BYTES, MAGIC_BYTE, unframe } from './wire.ts';

/** Records of any registered version of a schema, read as the current version `reader`. */
export class WriterSchemaDecoder<T> {
  private readonly reader: avro.Type;
  private readonly registry: RegistryOptions;
  private readonly resolvers = new Map<number, { type: avro.Type; resolver: avro.Resolver } | Error>();
  /** Schema ids whose writer schema is the reader's own (same Avro binary layout). */
  private readonly current = new Set<number>();
  private readonly name: string;

  constructor(reader: avro.Type, registry: RegistryOptions, name = 'cdr-raw') {
    this.reader = reader;
    this.registry = registry;
    this.name = name;
  }

  /** Makes sure the writer schema of each payload is known: one registry call per new id. */
  async prepare(payloads: Iterable<Buffer | null>): Promise<void> {
    for (const payload of payloads) {
      if (!payload || payload.length < HEADER_BYTES || payload[0] !== MAGIC_BYTE) continue;
      const id = payload.readInt32BE(1);
      if (this.resolvers.has(id)) continue;
      // Registry failures are retriable and thrown; an unknown or unreadable schema is remembered
      // and reported per record (those records go to the DLQ).
      const text = await fetchSchemaText(this.registry, id);
      try {
        if (text === undefined) throw new Error('the registry does not know this id');
        const writer = avro.Type.forSchema(JSON.parse(text) as avro.Schema);
        this.resolvers.set(id, this.resolverFor(writer));
        if (writer.equals(this.reader)) this.current.add(id);
      } catch (err) {
        this.resolvers.set(id, err instanceof Error ? err : new Error(String(err)));
      }
    }
  }

  /**
   * A record of another name that holds the reader's fields (cdr-enriched read as cdr-raw) is read
   * as if the reader named it as an alias; the reader decodes it the same way.
   */
  private resolverFor(writer: avro.Type): { type: avro.Type; resolver: avro.Resolver } {
    try {
      return { type: this.reader, resolver: this.reader.createResolver(writer) };
    } catch (err) {
      const name = writer.name;
      if (name === undefined || name === this.reader.name) throw err;
      const aliased = avro.Type.forSchema({
        ...(this.reader.schema() as object),
        aliases: [name],
      } as avro.Schema);
      return { type: aliased, resolver: aliased.createResolver(writer) };
    }
  }

  /** Whether records of this (prepared) schema id were written with the reader schema itself. */
  writtenWithReader(schemaId: number): boolean {
    return this.current.has(schemaId);
  }

  decode(payload: Buffer | null): T {
    if (!payload) throw new CdrError(ErrorCodes.ENCODE_FAILED, 'record has no value');
    const { schemaId, body } = unframe(payload);
    const resolver = this.resolvers.get(schemaId);
    if (resolver === undefined || resolver instanceof Error) {
      throw new CdrError(
        ErrorCodes.ENCODE_FAILED,
        `schema id ${schemaId} cannot be read as ${this.name}: ${resolver?.message ?? 'not prepared'}`,
      );
    }
    try {
      return resolver.type.fromBuffer(body, resolver.resolver) as T;
    } catch (cause) {
      throw new CdrError(
        ErrorCodes.ENCODE_FAILED,
        `cannot decode with schema id ${schemaId}: ${(cause as Error).message}`,
        {
          cause,
        },
      );
    }
  }
}

/** cdr-raw records, or records that hold its fields (cdr-enriched). */
export class RawDecoder extends WriterSchemaDecoder<RawCdr> {}
