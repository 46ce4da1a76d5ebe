// JSON Lines straight from the Avro bytes of a cdr-raw record written with the current schema
// (read/raw-bytes.ts): texts copied as JSON string literals from their UTF-8 bytes, numbers written
// as digits, no object or string made for the record. The same line as formats.ts's jsonLine, byte
// for byte (tested), which stays the path for records of other schema versions.
import { bytesToDecimalString } from '../../cdr/decimal.ts';
import type { RawCdr } from '../../cdr/row.ts';
import { type ByteSink, F, jsonString, RawSpans } from '../read/raw-bytes.ts';
import { GENERIC, SKIPPED, type Transcoder, WRITTEN } from './csv-transcode.ts';

/** The optional texts after `billing_period_derived`, with their JSON keys, in jsonLine's order. */
const OPTIONAL: ReadonlyArray<[string, number]> = [
  [',"currency":', F.currency],
  [',"date_text":', F.dateText],
  [',"time_text":', F.timeText],
  [',"status":', F.status],
  [',"terminated":', F.terminated],
  [',"smartcode":', F.smartcode],
  [',"smartcode_description":', F.smartcodeDescription],
  [',"recording":', F.recording],
];

export class JsonLinesTranscoder implements Transcoder {
  private readonly r = new RawSpans();
  private value: Buffer = Buffer.alloc(0);
  /** The last ingest time and its ISO text (a batch's records share it). */
  private ingestedAt = Number.NaN;
  private ingestedText = '';

  write(value: Buffer, out: ByteSink, keep?: (c: RawCdr) => boolean): number {
    const r = this.r;
    r.parse(value);
    if (keep && !keep(r.view())) return SKIPPED;
    if (!r.extraIsPlain()) return GENERIC;
    this.value = value;
    out.ensure(value.length + 512);
    out.ascii(`{"id":${r.id}`);
    this.text(out, ',"account":', F.account);
    this.text(out, ',"billing_group":', F.group);
    this.text(out, ',"billing_period":', F.period);
    out.ascii(`,"start_time":"${new Date(r.startTime).toISOString()}"`);
    this.text(out, ',"start_time_text":', F.startText);
    this.text(out, ',"from":', F.from);
    this.text(out, ',"to":', F.to);
    out.ascii(`,"seconds":${r.seconds}`);
    this.text(out, ',"type":', F.type);
    this.text(out, ',"sub_type":', F.subType);
    this.text(out, ',"cost_text":', F.costText);
    this.text(out, ',"description":', F.description);
    out.ascii(',"extra":');
    r.extraJson(out);
    out.ensure(64);
    if (r.isNull(F.layout)) out.ascii(',"layout":null');
    else this.text(out, ',"layout":', F.layout);
    out.ascii(r.derived ? ',"billing_period_derived":true' : ',"billing_period_derived":false');
    for (const [key, f] of OPTIONAL) {
      out.ensure(key.length + 4);
      out.ascii(key);
      if (r.isNull(f)) out.ascii('null');
      else jsonString(value, r.starts[f] as number, r.ends[f] as number, out);
    }
    if (r.ingestedAt !== this.ingestedAt) {
      this.ingestedAt = r.ingestedAt;
      this.ingestedText = new Date(r.ingestedAt).toISOString();
    }
    out.ensure(160);
    out.ascii(
      `,"cost":"${bytesToDecimalString(value.subarray(r.starts[F.cost] as number, r.ends[F.cost] as number))}","ingest":{"ingested_at":"${this.ingestedText}"`,
    );
    this.text(out, ',"feed_host":', F.feedHost);
    out.ascii(`,"line":${r.line}}}\n`);
    return WRITTEN;
  }

  private text(out: ByteSink, key: string, f: number): void {
    out.ensure(key.length);
    out.ascii(key);
    jsonString(this.value, this.r.starts[f] as number, this.r.ends[f] as number, out);
  }
}
