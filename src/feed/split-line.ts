// One physical line's fields, as far as they can be read whole (csv-records.ts: the leading
// fields of a broken record, and whether the lines an open quote swallowed are rows).
const QUOTE = 34;

/**
 * The fields of one line, quotes honoured within it; the last field is dropped when the line ends
 * before it does (an open quote, a clipped value), so every field returned was read whole.
 */
export function splitLine(line: string, delim: number): string[] {
  const fields: string[] = [];
  let i = 0;
  while (i <= line.length) {
    if (line.charCodeAt(i) === QUOTE) {
      let value = '';
      let j = i + 1;
      for (;;) {
        const q = line.indexOf('"', j);
        if (q === -1) return fields;
        value += line.slice(j, q);
        if (line.charCodeAt(q + 1) === QUOTE) {
          value += '"';
          j = q + 2;
          continue;
        }
        j = q + 1;
        break;
      }
      if (j < line.length && line.charCodeAt(j) !== delim) return fields;
      fields.push(value);
      i = j + 1;
      continue;
    }
    let end = i;
    while (end < line.length && line.charCodeAt(end) !== delim) end++;
    if (end === line.length) return fields;
    fields.push(line.slice(i, end));
    i = end + 1;
  }
  return fields;
}
