// Wire format golden bytes, field-path errors, and schema compatibility with released versions.
import { readdirSync, readFileSync } from 'node:fs';
import avro from 'avsc';
import { describe, expect, it } from 'vitest';
import { avroType, schemaPath } from '../../src/codec/schemas.ts';
import { encodeValue, frame, unframe } from '../../src/codec/wire.ts';
import { CdrError } from '../../src/errors.ts';

describe('Confluent wire format', () => {
  it('frames as magic byte 0, a big-endian schema id, then the body', () => {
    expect([...frame(258, Buffer.from([0xaa, 0xbb]))]).toEqual([0, 0, 0, 1, 2, 0xaa, 0xbb]);
    expect(unframe(Buffer.from([0, 0, 0, 1, 2, 0xaa]))).toEqual({ schemaId: 258, body: Buffer.from([0xaa]) });
    expect(() => unframe(Buffer.from([1, 0, 0, 0, 1]))).toThrow(CdrError);
  });

  it('names the failing field paths when a value does not fit', () => {
    const type = avroType('cdr-raw');
    try {
      encodeValue(type, 1, { id: 'x', account: 5 });
      expect.unreachable();
    } catch (err) {
      expect((err as CdrError).code).toBe('CDR_ENCODE_FAILED');
      expect((err as CdrError).details.paths).toEqual(expect.arrayContaining(['id', 'account', 'cost']));
    }
  });
});

describe('schemas', () => {
  const released = (['cdr-raw', 'cdr-enriched', 'cdr-control', 'cdr-recording'] as const).flatMap((name) => {
    const dir = new URL(`../../schemas/history/${name}/`, import.meta.url);
    return readdirSync(dir).map((file) => [name, file, new URL(file, dir)] as const);
  });
  it.each(released)('%s reads data written with released %s (BACKWARD)', (name, _file, url) => {
    const now = avro.Type.forSchema(JSON.parse(readFileSync(schemaPath(name), 'utf8')) as avro.Schema);
    const old = avro.Type.forSchema(JSON.parse(readFileSync(url, 'utf8')) as avro.Schema);
    expect(() => now.createResolver(old)).not.toThrow();
  });

  it('keeps control totals exact: decimal sums, long counts and ids, no float anywhere', () => {
    const text = readFileSync(schemaPath('cdr-control'), 'utf8');
    expect(text).not.toMatch(/"(float|double)"/);
    const fields = (JSON.parse(text) as { fields: Array<{ name: string; type: unknown }> }).fields;
    const field = (name: string) => fields.find((f) => f.name === name)?.type;
    expect(field('cost')).toMatchObject({ type: 'bytes', logicalType: 'decimal', scale: 6 });
    for (const f of ['count', 'seconds', 'first_id', 'last_id', 'cursor']) expect(field(f), f).toBe('long');
  });

  it('types billing values exactly: long ids, decimal cost, timestamp-millis times', () => {
    const schema = JSON.parse(readFileSync(schemaPath('cdr-raw'), 'utf8')) as {
      fields: Array<{ name: string; type: unknown }>;
    };
    const field = (name: string) => schema.fields.find((f) => f.name === name)?.type;
    expect(field('id')).toBe('long');
    expect(field('seconds')).toBe('long');
    expect(field('cost')).toEqual({ type: 'bytes', logicalType: 'decimal', precision: 18, scale: 6 });
    expect(field('start_time')).toEqual({ type: 'long', logicalType: 'timestamp-millis' });
    expect(JSON.stringify(schema)).not.toMatch(/"(float|double)"/);
    for (const c of [
      'account',
      'billing_group',
      'billing_period',
      'from',
      'to',
      'type',
      'sub_type',
      'description',
    ]) {
      expect(field(c), c).toBe('string');
    }
  });
});
