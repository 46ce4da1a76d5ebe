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

  write(value: Buffer, out: ByteSink, keep?: (c: RawCdr) => boolean): number {
    const r = this.r;
    r.parse(value);
    if (keep && !keep(r.view())) return SKIPPED;
    if (!r.extraIsPlain()) return GENERIC;
    const text = (key: string, f: number) => {
      out.ascii(key);
      jsonString(value, r.starts[f] as number, r.ends[f] as number, out);
    };
    out.ensure(value.length + 512);
    out.ascii(`{"id":${r.id}`);
    text(',"account":', F.account);
    text(',"billing_group":', F.group);
    text(',"billing_period":', F.period);
    out.ascii(`,"start_time":"${new Date(r.startTime).toISOString()}"`);
    text(',"start_time_text":', F.startText);
    text(',"from":', F.from);
    text(',"to":', F.to);
    out.ascii(`,"seconds":${r.seconds}`);
    text(',"type":', F.type);
    text(',"sub_type":', F.subType);
    text(',"cost_text":', F.costText);
    text(',"description":', F.description);
    out.ascii(',"extra":');
    r.extraJson(out);
    out.ensure(64);
    if (r.isNull(F.layout)) out.ascii(',"layout":null');
    else text(',"layout":', F.layout);
    out.ascii(r.derived ? ',"billing_period_derived":true' : ',"billing_period_derived":false');
    for (const [key, f] of OPTIONAL) {
      out.ensure(64);
      if (r.isNull(f)) {
        out.ascii(key);
        out.ascii('null');
      } else text(key, f);
    }
    out.ensure(128);
    out.ascii(
      `,"cost":"${bytesToDecimalString(value.subarray(r.starts[F.cost] as number, r.ends[F.cost] as number))}"`,
    );
    out.ascii(`,"ingest":{"ingested_at":"${new Date(r.ingestedAt).toISOString()}"`);
    text(',"feed_host":', F.feedHost);
    out.ascii(`,"line":${r.line}}}\n`);
    return WRITTEN;
  }
}
