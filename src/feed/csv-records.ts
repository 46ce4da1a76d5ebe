// RFC 4180 records from a text stream, with what exactly-once needs and general CSV parsers do not
// report: whether each record was ended by a line end, the raw text and first line of each record,
// and a way back to a line boundary after a record that cannot be right.
//
// - A record not followed by a line end when the body ends is a *tail*: the caller decides (through
//   `acceptTail`) whether to take it or hold it back, because a body that ends cleanly mid-row looks
//   exactly like one whose last row has no line end.
// - A record longer than `maxRecordChars` is reported as broken (raw text clipped) and reading goes
//   on at the next physical line, so memory stays bounded and a poison row cannot stall the feed.
// - An unclosed quote would swallow every line after it into one field. A quoted field that spans
//   line breaks in a record whose field count is not the header's, or that is followed by text
//   after its closing quote, is taken as that when every line after the record's first reads as a
//   whole row of the header's shape (the rows it swallowed): its first physical line is reported
//   broken and the lines after it are read again as records. When they do not, it is one record of
//   the wrong shape (one dead letter with all its text). One that runs past the size limit or never
//   closes is always split; at the end of a body, one still open whose lines after the first are
//   whole rows is split at once rather than held as a tail (a growing feed would hold it again and
//   again), while one whose lines are not rows is held like any tail.
// Quotes inside an unquoted field, and text after a closing quote, are kept as data (lenient, as sent).

import { openQuoteTookRows, rowsFromLineStart } from './row-shape.ts';
import { splitLine } from './split-line.ts';
import { Utf8Text } from './utf8-text.ts';

export type CsvEvent =
  | { kind: 'record'; fields: string[]; raw: string; line: number }
  | {
      kind: 'broken';
      code: 'too_large' | 'unclosed_quote' | 'invalid_utf8';
      raw: string;
      line: number;
      /** The fields of the record's first line as far as they can be read (to find its id). */
      leading: string[];
      reason: string;
    }
  | { kind: 'tail'; raw: string; line: number };

export interface CsvReaderOptions {
  /** One character: `,` `;` `|` or tab. */
  delimiter: string;
  maxRecordChars: number;
  /** Raw text of a broken record is clipped to this many characters. */
  rawClipChars: number;
}

const QUOTE = 34;
const LF = 10;
const CR = 13;
// Reader states (plain numbers: the sources run with type stripping, which has no enums).
const S = { FieldStart: 0, Unquoted: 1, Quoted: 2, QuotedQuote: 3, SkipLine: 4 } as const;
type State = (typeof S)[keyof typeof S];

export class CsvReader {
  private readonly delim: number;
  private readonly max: number;
  private readonly clipAt: number;
  private readonly decoder = new Utf8Text();
  private buf = '';
  private pos = 0;
  private state: State = S.FieldStart;
  private fields: string[] = [];
  private recordStart = 0;
  private fieldStart = 0;
  private escapes = false;
  private quotedBreak = false;
  /** Text followed a closing quote in this record: a quote closed where the data did not mean it to. */
  private strayClose = false;
  private line = 1;
  private recordLine = 1;
  private started = false;
  /** The first record's (the header's) field count: records that spanned lines in a quoted field are checked against it. */
  private expected: number | undefined;
  private out: CsvEvent[] = [];

  constructor(options: CsvReaderOptions) {
    if (options.delimiter.length !== 1) throw new Error('the delimiter must be one character');
    this.delim = options.delimiter.charCodeAt(0);
    this.max = options.maxRecordChars;
    this.clipAt = options.rawClipChars;
  }

  /** Reads a chunk; returns the records it completed. */
  push(chunk: Buffer | string): CsvEvent[] {
    let text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (!this.started && text.length > 0) {
      this.started = true;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    this.buf = this.buf.length === this.recordStart ? text : this.buf.slice(this.recordStart) + text;
    this.pos -= this.recordStart;
    this.fieldStart -= this.recordStart;
    this.recordStart = 0;
    this.scan(false);
    if (this.state !== S.SkipLine && this.pos - this.recordStart > this.max) this.tooLong();
    return this.drain();
  }

  /**
   * The body ended. A last record without a line end is returned as a `tail` unless
   * `acceptTail(raw)` says to take it as a record.
   */
  end(acceptTail: (raw: string) => boolean): CsvEvent[] {
    const rest = this.decoder.end();
    const events = rest ? this.push(rest) : [];
    this.scan(true);
    while (this.state !== S.SkipLine && this.recordStart < this.buf.length) {
      // Shorter than the record limit, or it would have been reported already.
      const raw = this.buf.slice(this.recordStart);
      if (acceptTail(raw)) {
        this.closeAtEnd();
        break;
      }
      const open = this.state === S.Quoted && this.expected !== undefined;
      if (!open || !openQuoteTookRows(this.buf, this.recordStart, this.delim, this.expected as number)) {
        this.out.push({ kind: 'tail', raw, line: this.recordLine });
        break;
      }
      // A quote left open took in whole rows: decided now, not held (a growing feed would hold it on).
      this.pos = this.splitFirstLine('a quote left open takes in the whole rows after its line');
      this.scan(true);
    }
    return events.concat(this.drain());
  }

  private drain(): CsvEvent[] {
    const events = this.out;
    this.out = [];
    return events;
  }

  private scan(final: boolean): void {
    const buf = this.buf;
    const n = buf.length;
    const d = this.delim;
    let i = this.pos;
    while (i < n) {
      if (this.state === S.SkipLine) {
        const nl = buf.indexOf('\n', i);
        if (nl === -1) {
          // Nothing of the oversized record is kept.
          i = n;
          this.recordStart = n;
          break;
        }
        i = nl + 1;
        this.line++;
        this.startRecord(i);
        continue;
      }
      const c = buf.charCodeAt(i);
      if (this.state === S.Quoted) {
        const q = buf.indexOf('"', i);
        const stop = q === -1 ? n : q;
        for (let j = buf.indexOf('\n', i); j !== -1 && j < stop; j = buf.indexOf('\n', j + 1)) {
          this.line++;
          this.quotedBreak = true;
        }
        if (q === -1) {
          i = n;
          break;
        }
        i = q + 1;
        this.state = S.QuotedQuote;
        continue;
      }
      if (c === LF || c === CR) {
        if (c === CR && i + 1 >= n && !final) break;
        const crlf = c === CR && buf.charCodeAt(i + 1) === LF;
        // Line ends are LF and CRLF (shared/feed-contract.md); a lone CR is data.
        if (c === LF || crlf) {
          const eol = crlf ? 2 : 1;
          if (this.state === S.FieldStart && this.fields.length === 0) {
            // An empty line: skipped.
            this.line++;
            i += eol;
            this.startRecord(i);
            continue;
          }
          this.closeField(i);
          i = this.closeRecord(i, eol);
          continue;
        }
      }
      switch (this.state) {
        case S.FieldStart:
          if (c === QUOTE) {
            this.state = S.Quoted;
            this.fieldStart = i + 1;
            this.escapes = false;
          } else if (c === d) {
            this.fields.push('');
          } else {
            this.state = S.Unquoted;
            this.fieldStart = i;
          }
          i++;
          break;
        case S.Unquoted: {
          // The rest of an unquoted field in one tight loop: it ends at a delimiter or a line end
          // (which the top of the outer loop takes); anything else, quotes included, is data.
          const j = this.unquotedEnd(i, final);
          if (j < n && buf.charCodeAt(j) === d) {
            this.fields.push(buf.slice(this.fieldStart, j));
            this.state = S.FieldStart;
            i = j + 1;
          } else i = j;
          break;
        }
        case S.QuotedQuote:
          if (c === QUOTE) {
            this.escapes = true;
            this.state = S.Quoted;
          } else if (c === d) {
            this.closeField(i);
            this.state = S.FieldStart;
          } else {
            // Text after a closing quote: the whole field is data, quotes and all.
            this.strayClose = true;
            this.state = S.Unquoted;
            this.fieldStart -= 1;
          }
          i++;
          break;
      }
    }
    this.pos = i;
  }

  /**
   * Where the unquoted field going on at `i` stops: a delimiter, a line end (a CR only as part of
   * CRLF, or at a chunk's end where the next chunk must say), or the end of what was read.
   */
  private unquotedEnd(i: number, final: boolean): number {
    const buf = this.buf;
    const n = buf.length;
    const d = this.delim;
    let j = i;
    let cj = buf.charCodeAt(j);
    while (
      cj !== d &&
      cj !== LF &&
      !(cj === CR && j > i && (j + 1 >= n ? !final : buf.charCodeAt(j + 1) === LF))
    ) {
      if (++j === n) break;
      cj = buf.charCodeAt(j);
    }
    return j;
  }

  /** Pushes the field that ends at `i` (a delimiter or a line end). */
  private closeField(i: number): void {
    if (this.state === S.QuotedQuote) {
      const value = this.buf.slice(this.fieldStart, i - 1);
      this.fields.push(this.escapes ? value.replaceAll('""', '"') : value);
    } else if (this.state === S.Unquoted) {
      this.fields.push(this.buf.slice(this.fieldStart, i));
    } else {
      this.fields.push('');
    }
    this.state = S.FieldStart;
  }

  /** Emits the record that ends at `i` and returns where reading goes on. */
  private closeRecord(i: number, eol: number): number {
    const start = this.recordStart;
    const length = i - start;
    const wrongShape =
      this.strayClose ||
      length > this.max ||
      (this.expected !== undefined && this.fields.length !== this.expected);
    if (this.quotedBreak && wrongShape && (length > this.max || this.linesAfterFirstAreRows(start, i))) {
      return this.splitFirstLine('a quoted field runs over line breaks into a record of the wrong shape');
    }
    const raw = this.buf.slice(start, i);
    if (length > this.max) {
      this.broken('too_large', raw, this.tooLargeReason(length));
    } else if (this.quotedBreak && this.strayClose) {
      // A quote closed lines away, where the data did not mean it to: never a CDR (it may hold rows).
      this.broken('unclosed_quote', raw, 'a quoted field spans lines and text follows its closing quote');
    } else if (!raw.isWellFormed()) {
      // Bytes that are not UTF-8 (utf8-text.ts): one dead letter, not a CDR with U+FFFD in it.
      this.expected ??= this.fields.length;
      this.broken(
        'invalid_utf8',
        raw.toWellFormed(),
        'the row is not valid UTF-8 (shown with U+FFFD where its bytes were not)',
      );
    } else {
      this.expected ??= this.fields.length;
      this.out.push({ kind: 'record', fields: this.fields, raw, line: this.recordLine });
    }
    this.line++;
    this.startRecord(i + eol);
    return i + eol;
  }

  /** The record read so far is longer than allowed and not finished. */
  private tooLong(): void {
    const firstBreak = this.firstLineBreak(this.recordStart, this.pos);
    if (firstBreak !== -1 && this.quotedBreak) {
      this.pos = this.splitFirstLine(
        `a quoted field is still open after ${this.pos - this.recordStart} characters over several lines`,
      );
      this.scan(false);
      if (this.state !== S.SkipLine && this.pos - this.recordStart > this.max) this.tooLong();
      return;
    }
    this.broken(
      'too_large',
      this.buf.slice(this.recordStart, this.pos),
      this.tooLargeReason(this.pos - this.recordStart),
    );
    this.state = S.SkipLine;
    this.fields = [];
  }

  /**
   * Reports the current record's first physical line as broken (an unclosed quote) and rewinds to
   * read the lines after it again. Returns the new reading position.
   */
  private splitFirstLine(why: string): number {
    const start = this.recordStart;
    const nl = this.firstLineBreak(start, this.buf.length);
    const end = nl === -1 ? this.buf.length : nl;
    const firstLine = this.buf.slice(
      start,
      end > start && this.buf.charCodeAt(end - 1) === CR ? end - 1 : end,
    );
    this.broken(
      'unclosed_quote',
      firstLine,
      `unclosed quote: ${why}; its first line is dead-lettered and the lines after it are read again`,
    );
    const next = nl === -1 ? this.buf.length : nl + 1;
    this.line = this.recordLine + 1;
    this.startRecord(next);
    return next;
  }

  /** At the end of the body, takes the unterminated last record as it is. */
  private closeAtEnd(): void {
    const n = this.buf.length;
    if (this.state === S.Quoted) {
      if (this.firstLineBreak(this.recordStart, n) !== -1) {
        this.pos = this.splitFirstLine('the body ends inside a quoted field that spans lines');
        this.scan(true);
        // scan() moved the state on: read it afresh (not narrowed by the test above).
        if (this.recordStart < this.buf.length && (this.state as State) !== S.SkipLine) this.closeAtEnd();
        return;
      }
      this.broken(
        'unclosed_quote',
        this.buf.slice(this.recordStart),
        'unclosed quote: the body ends inside a quoted field',
      );
      this.startRecord(n);
      return;
    }
    this.closeField(n);
    this.closeRecord(n, 0);
  }

  private startRecord(at: number): void {
    this.recordStart = at;
    this.fieldStart = at;
    this.fields = [];
    this.state = S.FieldStart;
    this.quotedBreak = false;
    this.strayClose = false;
    this.recordLine = this.line;
  }

  private broken(code: 'too_large' | 'unclosed_quote' | 'invalid_utf8', raw: string, reason: string): void {
    const clipped = this.clip(raw);
    const nl = clipped.indexOf('\n');
    const leading = splitLine(nl === -1 ? clipped : clipped.slice(0, nl), this.delim);
    this.out.push({ kind: 'broken', code, raw: clipped, line: this.recordLine, leading, reason });
  }

  /** Whether the text after the record's first line reads as rows (see rowsFromLineStart). */
  private linesAfterFirstAreRows(start: number, end: number): boolean {
    const nl = this.firstLineBreak(start, end);
    if (nl === -1 || this.expected === undefined) return true;
    return rowsFromLineStart(this.buf, nl + 1, end, this.delim, this.expected);
  }

  private firstLineBreak(from: number, to: number): number {
    const nl = this.buf.indexOf('\n', from);
    return nl !== -1 && nl < to ? nl : -1;
  }

  private tooLargeReason(length: number): string {
    return `record of ${length}+ characters is over the limit of ${this.max} (FEED_MAX_RECORD_CHARS)`;
  }

  private clip(raw: string): string {
    return raw.length > this.clipAt ? raw.slice(0, this.clipAt) : raw;
  }
}
