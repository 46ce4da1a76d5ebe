// Avro schemas are files in schemas/, never strings in code. Resolved from the package root so
// the same path works from src/ (run as TypeScript) and dist/ (built).
import { readFileSync } from 'node:fs';
import avro from 'avsc';

export type SchemaName = 'cdr-raw' | 'cdr-enriched' | 'cdr-control' | 'cdr-recording';

export function schemaPath(name: SchemaName): string {
  return new URL(`../../schemas/${name}.avsc`, import.meta.url).pathname;
}

export function schemaText(name: SchemaName): string {
  return readFileSync(schemaPath(name), 'utf8');
}

/**
 * The avsc type of a schema. Logical types are left to the caller's values (avsc reads the
 * underlying type): `timestamp-millis` is a number of ms, `decimal` is two's-complement bytes
 * (see cdr/decimal.ts). `long` is a JS number: exact for every id the contract allows (< 2^53).
 */
export function avroType(name: SchemaName): avro.Type {
  return avro.Type.forSchema(JSON.parse(schemaText(name)) as avro.Schema);
}

/** The schema with only `fields` (in its own order): a reader that skips the other fields. */
export function projectedType(name: SchemaName, fields: readonly string[]): avro.Type {
  const schema = JSON.parse(schemaText(name)) as { fields: Array<{ name: string }> };
  const wanted = new Set(fields);
  return avro.Type.forSchema({
    ...schema,
    fields: schema.fields.filter((f) => wanted.has(f.name)),
  } as avro.Schema);
}
