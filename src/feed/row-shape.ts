// Whether text read as CSV from a line start is rows of the header's shape: how the CSV reader
// (csv-records.ts) tells a quote left open, which swallowed the rows after its line, from one record
// whose quoted field spans lines and whose shape is wrong.

const QUOTE = 34;
const LF = 10;
const CR = 13;

/**
 * Whether `text[from, end)`, read as CSV from a line start, is rows of `fields` fields each (empty
 * lines aside); the last one may still be inside a quoted field at `end` (a row whose quoted field
 * spans lines, cut where an open quote above it ended the record). Quotes open a field only at its
 * start, as the reader takes them.
 */
export function rowsFromLineStart(
  text: string,
  from: number,
  end: number,
  delim: number,
  fields: number,
): boolean {
  let count = 1;
  let atFieldStart = true;
  let quoted = false;
  let empty = true;
  for (let i = from; i < end; i++) {
    const c = text.charCodeAt(i);
    if (quoted) {
      if (c === QUOTE) {
        if (text.charCodeAt(i + 1) === QUOTE) i++;
        else quoted = false;
      }
      continue;
    }
    if (c === LF) {
      if (!empty && count !== fields) return false;
      count = 1;
      atFieldStart = true;
      empty = true;
    } else if (c === delim) {
      count++;
      atFieldStart = true;
      empty = false;
    } else if (c !== CR) {
      if (c === QUOTE && atFieldStart) quoted = true;
      atFieldStart = false;
      empty = false;
    }
  }
  return quoted ? count <= fields : empty || count === fields;
}

/**
 * At the end of a body, whether the unfinished record from `start` (inside a quoted field) is a
 * quote left open on its first line followed by at least one whole line, every one of which reads
 * as a row (a quoted field cut short in a body that ended cleanly has lines of its own text).
 */
export function openQuoteTookRows(text: string, start: number, delim: number, fields: number): boolean {
  const first = text.indexOf('\n', start);
  const last = text.lastIndexOf('\n');
  if (first === -1 || last <= first) return false;
  return (
    /[^\r\n]/.test(text.slice(first + 1, last)) && rowsFromLineStart(text, first + 1, last, delim, fields)
  );
}
