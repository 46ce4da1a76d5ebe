// The enriched record of a raw record written with the current cdr-raw schema, without decoding
// it: cdr-enriched holds cdr-raw's fields, in the same order with the same types, then the
// enrichment fields; an Avro record is its fields' encodings one after another, so the enriched
// body is the raw body followed by the encoded enrichment. Only (type, sub_type) are read, to look
// the call type up; the enrichment of each call type is encoded once per process, the time and
// source once per slice, and the offset per record. Byte for byte what decode, enrich and encode
// give (tested); records of other schema versions take that path.
import avro from 'avsc';
import { CATALOGUE_VERSION, lookupCallType } from '../cdr/catalogue.ts';
import type { PhoneNumbers } from '../cdr/phone.ts';
import { writeAvroLong } from '../codec/avro-long.ts';
import { schemaText } from '../codec/schemas.ts';
import { HEADER_BYTES, writeHeader } from '../codec/wire.ts';

const RAW_FIELDS = (JSON.parse(schemaText('cdr-raw')) as { fields: unknown[] }).fields.length;
const enrichment = (
  JSON.parse(schemaText('cdr-enriched')) as { fields: Array<{ name: string }> }
).fields.slice(RAW_FIELDS);
const field = (name: string) => enrichment.find((f) => f.name === name);
/** The enrichment fields that depend on the call type alone, in schema order. */
const infoType = avro.Type.forSchema({
  type: 'record',
  name: 'CallTypeInfo',
  fields: enrichment.slice(
    0,
    enrichment.findIndex((f) => f.name === 'enriched_at'),
  ),
} as avro.Schema);
const sliceType = avro.Type.forSchema({
  type: 'record',
  name: 'SlicePart',
  fields: [field('enriched_at'), { name: 'topic', type: 'string' }, { name: 'partition', type: 'int' }],
} as avro.Schema);
/** The fields after the source position: the numbers' (phone.ts NumberFields), in this order. */
const NUMBER_FIELDS = ['from_e164', 'to_e164', 'to_country', 'to_number_type', 'numbers_unparsed'];
if (
  enrichment
    .slice(enrichment.findIndex((f) => f.name === 'source') + 1)
    .map((f) => f.name)
    .join() !== NUMBER_FIELDS.join()
)
  throw new Error('cdr-enriched: the number fields are not where the splicer writes them');

/** Bytes an ASCII text takes as an Avro string or a ["null", "string"] union's string branch. */
const asciiBytes = (s: string) => (s.length < 64 ? 1 : 2) + s.length;

/** Writes ASCII `s` as an Avro string at `at`; the position after it. */
function writeAscii(out: Buffer, at: number, s: string): number {
  const p = writeAvroLong(out, at, s.length);
  return p + out.write(s, p, 'latin1');
}

export interface Spliced {
  category: string;
  value: Buffer;
}

export class EnrichedSplicer {
  private readonly schemaId: number;
  private readonly infos = new Map<string, { category: string; bytes: Buffer }>();
  private slice: { key: string; bytes: Buffer } = { key: '', bytes: Buffer.alloc(0) };
  private readonly varint = Buffer.allocUnsafe(10);
  private readonly phones: PhoneNumbers;

  /** `schemaId`: the registry id of cdr-enriched under the output topics' subjects. */
  constructor(schemaId: number, phones: PhoneNumbers) {
    this.schemaId = schemaId;
    this.phones = phones;
  }

  /** The enriched record of `raw` (framed cdr-raw of the current schema) at `offset`. */
  splice(raw: Buffer, source: { topic: string; partition: number; offset: number }, now: number): Spliced {
    const { type, subType, from, to, layout } = this.read(raw);
    const key = `${type}\u0000${subType}`;
    let info = this.infos.get(key);
    if (info === undefined) {
      const t = lookupCallType(type, subType);
      const category = t?.category ?? 'unknown';
      info = {
        category,
        bytes: infoType.toBuffer({
          call_type_known: t !== undefined,
          call_description: t?.description ?? null,
          category,
          direction: t?.direction ?? null,
          network: t?.network ?? null,
          network_detail: t?.networkDetail ?? null,
          country: t?.country ?? null,
          catalogue_version: CATALOGUE_VERSION,
        }),
      };
      this.infos.set(key, info);
    }
    const sliceKey = `${now}\u0000${source.topic}\u0000${source.partition}`;
    if (this.slice.key !== sliceKey)
      this.slice = { key: sliceKey, bytes: sliceType.toBuffer({ enriched_at: now, ...source }) };
    const offsetBytes = writeAvroLong(this.varint, 0, source.offset);
    // The numbers, written by hand: E.164 forms, ISO codes, type names and party names are ASCII.
    const n = this.phones.fields({ from, to, layout });
    const nullable = [n.from_e164, n.to_e164, n.to_country, n.to_number_type];
    let numbersBytes = 1; // the array's end (or its emptiness)
    for (const v of nullable) numbersBytes += v === null ? 1 : 1 + asciiBytes(v);
    if (n.numbers_unparsed.length > 0)
      numbersBytes += 1 + n.numbers_unparsed.reduce((t, v) => t + asciiBytes(v), 0);
    const body = raw.length - HEADER_BYTES;
    const out = Buffer.allocUnsafe(
      HEADER_BYTES + body + info.bytes.length + this.slice.bytes.length + offsetBytes + numbersBytes,
    );
    writeHeader(out, 0, this.schemaId);
    let at = HEADER_BYTES + raw.copy(out, HEADER_BYTES, HEADER_BYTES);
    at += info.bytes.copy(out, at);
    at += this.slice.bytes.copy(out, at);
    at += this.varint.copy(out, at, 0, offsetBytes);
    for (const v of nullable) {
      if (v === null) out[at++] = 0;
      else {
        out[at++] = 2;
        at = writeAscii(out, at, v);
      }
    }
    if (n.numbers_unparsed.length > 0) {
      at = writeAvroLong(out, at, n.numbers_unparsed.length);
      for (const v of n.numbers_unparsed) at = writeAscii(out, at, v);
    }
    out[at++] = 0;
    if (at !== out.length) throw new RangeError('the enriched record is not the size it was counted');
    return { category: info.category, value: out };
  }

  /** What the enrichment reads of a framed cdr-raw record; the other fields are skipped. */
  private read(raw: Buffer): {
    type: string;
    subType: string;
    from: string;
    to: string;
    layout: string | null;
  } {
    let p = HEADER_BYTES;
    const skipLong = () => {
      while ((raw[p++] as number) & 0x80);
    };
    const readLong = () => {
      let n = 0;
      let k = 1;
      let b: number;
      do {
        b = raw[p++] as number;
        n += (b & 0x7f) * k;
        k *= 128;
      } while (b & 0x80);
      return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    };
    const skipString = () => {
      const n = readLong();
      p += n;
    };
    const readString = () => {
      const n = readLong();
      const s = raw.toString('utf8', p, p + n);
      p += n;
      return s;
    };
    skipLong(); // id
    skipString(); // account
    skipString(); // billing_group
    skipString(); // billing_period
    skipLong(); // start_time
    skipString(); // start_time_text
    const from = readString();
    const to = readString();
    skipLong(); // seconds
    const type = readString();
    const subType = readString();
    skipString(); // cost (bytes)
    skipString(); // cost_text
    skipString(); // description
    // extra: blocks of entries until an empty one; a negative count is followed by the block's size.
    for (let n = readLong(); n !== 0; n = readLong()) {
      if (n < 0) p += readLong();
      else for (let i = 0; i < 2 * n; i++) skipString(); // key, value
    }
    skipLong(); // ingest.ingested_at
    skipString(); // ingest.feed_host
    skipLong(); // ingest.line
    const layout = readLong() === 0 ? null : readString();
    if (p > raw.length) throw new RangeError('not a cdr-raw record');
    return { type, subType, from, to, layout };
  }
}
