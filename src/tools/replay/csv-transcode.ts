// CSV straight from the Avro bytes of a cdr-raw record written with the current schema
// (read/raw-bytes.ts): each text field's UTF-8 bytes are copied into the output (quoted and
// neutralised on the bytes), numbers are written as digits, and no JavaScript string is made for
// them. The same cells as formats.ts's csvLine, which stays the path for records of other schema
// versions.
import type { RawCdr } from '../../cdr/row.ts';
import { ByteSink } from '../read/byte-sink.ts';
import { F, OPTIONAL_TEXTS, RawSpans } from '../read/raw-bytes.ts';

const QUOTE = 34;
const COMMA = 44;
const CR = 13;
const LF = 10;
const SPACE = 32;
const APOSTROPHE = 39;

export const WRITTEN = 1;
export const SKIPPED = 0;
export const GENERIC = -1;

/** Writes records as CSV from their bytes; or says they need the generic path. */
export interface Transcoder {
  /**
   * Appends the record of a framed cdr-raw value written with the current schema to `out`:
   * WRITTEN, SKIPPED (`keep` said no) or GENERIC (nothing appended: the record needs the generic
   * path, an `extra` key that JSON would reorder or a key twice). Throws on bytes that are not
   * such a record.
   */
  write(value: Buffer, out: ByteSink, keep?: (c: RawCdr) => boolean): number;
}

export class CsvTranscoder implements Transcoder {
  private readonly r = new RawSpans();
  private b: Buffer = Buffer.alloc(0);
  private readonly json = new ByteSink(4096);

  write(value: Buffer, out: ByteSink, keep?: (c: RawCdr) => boolean): number {
    const r = this.r;
    r.parse(value);
    this.b = value;
    if (keep && !keep(r.view())) return SKIPPED;
    if (!r.extraIsPlain()) return GENERIC;
    const s = r.starts;
    const e = r.ends;
    out.ensure(2 * (value.length + 64) + 200);
    out.digits(r.id);
    out.byte(COMMA);
    this.cell(out, s[F.account] as number, e[F.account] as number, true);
    this.cell(out, s[F.group] as number, e[F.group] as number, true);
    this.cell(out, s[F.period] as number, e[F.period] as number, true);
    this.cell(out, s[F.startText] as number, e[F.startText] as number, true);
    this.cell(out, s[F.from] as number, e[F.from] as number, true);
    this.cell(out, s[F.to] as number, e[F.to] as number, true);
    out.digits(r.seconds);
    out.byte(COMMA);
    this.cell(out, s[F.type] as number, e[F.type] as number, true);
    this.cell(out, s[F.subType] as number, e[F.subType] as number, true);
    this.cell(out, s[F.costText] as number, e[F.costText] as number, false);
    this.cell(out, s[F.description] as number, e[F.description] as number, true);
    out.isoTime(r.startTime);
    out.byte(COMMA);
    out.cost(value, s[F.cost] as number, e[F.cost] as number);
    out.byte(COMMA);
    out.ascii(r.derived ? 'true' : 'false');
    out.byte(COMMA);
    for (const f of OPTIONAL_TEXTS) {
      if ((s[f] as number) < 0) out.byte(COMMA);
      else this.cell(out, s[f] as number, e[f] as number, true);
    }
    this.extra(out);
    out.byte(CR);
    out.byte(LF);
    return WRITTEN;
  }

  /** A text cell and its comma: neutralised (`text`) when a spreadsheet would run it, quoted when needed. */
  private cell(out: ByteSink, s: number, e: number, text: boolean): void {
    const b = this.b;
    if (s === e) {
      out.byte(COMMA);
      return;
    }
    const first = b[s] as number;
    const formula =
      text && (first === 61 || first === 43 || first === 45 || first === 64 || first === 9 || first === 13);
    let quote = first === SPACE || b[e - 1] === SPACE;
    let quotes = false;
    for (let i = s; i < e && !quotes; i++) {
      const c = b[i] as number;
      if (c === QUOTE) quotes = quote = true;
      else if (c === COMMA || c === CR || c === LF) quote = true;
    }
    if (quote) out.byte(QUOTE);
    if (formula) out.byte(APOSTROPHE);
    if (quotes)
      for (let i = s; i < e; i++) {
        const c = b[i] as number;
        out.buf[out.len++] = c;
        if (c === QUOTE) out.buf[out.len++] = QUOTE;
      }
    else out.span(b, s, e);
    if (quote) out.byte(QUOTE);
    out.byte(COMMA);
  }

  /** `extra` as JSON.stringify writes it, as a quoted CSV cell; empty when the map is. */
  private extra(out: ByteSink): void {
    const j = this.json;
    j.len = 0;
    if (!this.r.extraJson(j)) return;
    // JSON always holds quotes: a quoted cell, quotes doubled; it starts with {, never a formula.
    out.ensure(2 * j.len + 2);
    out.byte(QUOTE);
    for (let i = 0; i < j.len; i++) {
      const c = j.buf[i] as number;
      out.buf[out.len++] = c;
      if (c === QUOTE) out.buf[out.len++] = QUOTE;
    }
    out.byte(QUOTE);
  }
}
