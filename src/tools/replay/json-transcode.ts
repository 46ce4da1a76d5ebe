// JSON Lines straight from the Avro bytes of a cdr-raw record written with the current schema
// (read/raw-bytes.ts): texts copied as JSON string literals from their UTF-8 bytes, numbers, times
// and costs written as digits, keys copied from bytes made once; no object or string made for the
// record. The same line as formats.ts's jsonLine, byte for byte (tested), which stays the path for
// records of other schema versions.
import type { RawCdr } from '../../cdr/row.ts';
import type { ByteSink } from '../read/byte-sink.ts';
import { F, jsonString, RawSpans } from '../read/raw-bytes.ts';
import { GENERIC, SKIPPED, type Transcoder, WRITTEN } from './csv-transcode.ts';

const ascii = (s: string) => Buffer.from(s, 'latin1');

/** Texts in jsonLine's order up to `extra`, each with the key (and separators) before it. */
const HEAD: ReadonlyArray<[Buffer, number]> = [
  [ascii(',"account":'), F.account],
  [ascii(',"billing_group":'), F.group],
  [ascii(',"billing_period":'), F.period],
];
const MIDDLE: ReadonlyArray<[Buffer, number]> = [
  [ascii(',"start_time_text":'), F.startText],
  [ascii(',"from":'), F.from],
  [ascii(',"to":'), F.to],
];
const AFTER_SECONDS: ReadonlyArray<[Buffer, number]> = [
  [ascii(',"type":'), F.type],
  [ascii(',"sub_type":'), F.subType],
  [ascii(',"cost_text":'), F.costText],
  [ascii(',"description":'), F.description],
];
/** The optional texts after `billing_period_derived`, with their JSON keys, in jsonLine's order. */
const OPTIONAL: ReadonlyArray<[Buffer, number]> = [
  [ascii(',"currency":'), F.currency],
  [ascii(',"date_text":'), F.dateText],
  [ascii(',"time_text":'), F.timeText],
  [ascii(',"status":'), F.status],
  [ascii(',"terminated":'), F.terminated],
  [ascii(',"smartcode":'), F.smartcode],
  [ascii(',"smartcode_description":'), F.smartcodeDescription],
  [ascii(',"recording":'), F.recording],
];
const ID = ascii('{"id":');
const START_TIME = ascii(',"start_time":"');
const SECONDS = ascii(',"seconds":');
const EXTRA = ascii(',"extra":');
const LAYOUT = ascii(',"layout":');
const NULL = ascii('null');
const DERIVED_TRUE = ascii(',"billing_period_derived":true');
const DERIVED_FALSE = ascii(',"billing_period_derived":false');
const COST = ascii(',"cost":"');
const INGESTED_AT = ascii('","ingest":{"ingested_at":"');
const FEED_HOST = ascii(',"feed_host":');
const LINE = ascii(',"line":');
const END = ascii('}}\n');

export class JsonLinesTranscoder implements Transcoder {
  private readonly r = new RawSpans();
  private value: Buffer = Buffer.alloc(0);

  write(value: Buffer, out: ByteSink, keep?: (c: RawCdr) => boolean): number {
    const r = this.r;
    r.parse(value);
    if (keep && !keep(r.view())) return SKIPPED;
    if (!r.extraIsPlain()) return GENERIC;
    this.value = value;
    out.ensure(value.length + 512);
    out.bytes(ID);
    out.digits(r.id);
    this.texts(out, HEAD);
    out.bytes(START_TIME);
    out.isoTime(r.startTime);
    out.byte(0x22);
    this.texts(out, MIDDLE);
    out.bytes(SECONDS);
    out.digits(r.seconds);
    this.texts(out, AFTER_SECONDS);
    out.bytes(EXTRA);
    r.extraJson(out);
    out.bytes(LAYOUT);
    if (r.isNull(F.layout)) out.bytes(NULL);
    else jsonString(value, r.starts[F.layout] as number, r.ends[F.layout] as number, out);
    out.bytes(r.derived ? DERIVED_TRUE : DERIVED_FALSE);
    for (const [key, f] of OPTIONAL) {
      out.bytes(key);
      if (r.isNull(f)) out.bytes(NULL);
      else jsonString(value, r.starts[f] as number, r.ends[f] as number, out);
    }
    out.bytes(COST);
    out.cost(value, r.starts[F.cost] as number, r.ends[F.cost] as number);
    out.bytes(INGESTED_AT);
    out.isoTime(r.ingestedAt);
    out.byte(0x22);
    out.bytes(FEED_HOST);
    jsonString(value, r.starts[F.feedHost] as number, r.ends[F.feedHost] as number, out);
    out.bytes(LINE);
    out.digits(r.line);
    out.bytes(END);
    return WRITTEN;
  }

  private texts(out: ByteSink, fields: ReadonlyArray<[Buffer, number]>): void {
    const r = this.r;
    for (const [key, f] of fields) {
      out.bytes(key);
      jsonString(this.value, r.starts[f] as number, r.ends[f] as number, out);
    }
  }
}
