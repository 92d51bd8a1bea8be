/**
 * CSV and TSV text as RFC 4180 reads it (the dialect Python's `csv` module and pandas' `to_csv`
 * write, with `,` or a tab between fields): a field may be wrapped in double quotes, and then holds
 * delimiters, line breaks and doubled quotes (`""` for one `"`). A quote inside an unquoted field is
 * an ordinary character, so `5" screen` reads as written. A UTF-8 byte-order mark, CRLF line ends,
 * a missing final newline and blank lines between records are tolerated.
 *
 * Every record carries the line it starts on and every field the line and column (1-based, in
 * characters) it starts at, so that a reader above can name the spot of a bad value. Malformed
 * quoting (text after a closing quote, a quote left open at the end) is an error naming the file,
 * the line and the column.
 */

export interface DelimitedField {
  value: string;
  line: number;
  column: number;
}

export interface DelimitedRecord {
  /** 1-based line of the file where the record starts. */
  line: number;
  fields: DelimitedField[];
}

export class DelimitedSyntaxError extends Error {
  constructor(readonly file: string, readonly line: number, readonly column: number, problem: string) {
    super(`${file}:${line}:${column}: ${problem}`);
    this.name = 'DelimitedSyntaxError';
  }
}

/**
 * Parses the whole text into records. Pure; `file` only names the file in errors.
 * @example parseDelimited('text,label\n"a, b",1\n', ',', 'x.csv') // header record, then ["a, b", "1"]
 */
export function parseDelimited(text: string, delimiter: ',' | '\t', file: string): DelimitedRecord[] {
  const records: DelimitedRecord[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  let lineStart = i;
  const n = text.length;
  const col = (at: number) => at - lineStart + 1;
  while (i < n) {
    // A blank line (or a lone CR) between records is not a record.
    if (text[i] === '\n' || (text[i] === '\r' && text[i + 1] === '\n')) {
      i += text[i] === '\r' ? 2 : 1;
      line++;
      lineStart = i;
      continue;
    }
    const record: DelimitedRecord = { line, fields: [] };
    for (;;) {
      const field: DelimitedField = { value: '', line, column: col(i) };
      if (text[i] === '"') {
        const openLine = line;
        const openCol = col(i);
        i++;
        let value = '';
        for (;;) {
          if (i >= n) throw new DelimitedSyntaxError(file, openLine, openCol, 'quoted field is not closed before the end of the file (a quote missing?)');
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') { value += '"'; i += 2; continue; }
            i++;
            break;
          }
          if (c === '\n') { line++; lineStart = i + 1; }
          value += c;
          i++;
        }
        field.value = value;
        const next = text[i];
        if (i < n && next !== delimiter && next !== '\n' && !(next === '\r' && text[i + 1] === '\n')) {
          throw new DelimitedSyntaxError(file, line, col(i), `unexpected ${JSON.stringify(next)} after the closing quote of a field (a quote inside a quoted field is written "")`);
        }
      } else {
        let end = i;
        while (end < n && text[end] !== delimiter && text[end] !== '\n' && !(text[end] === '\r' && text[end + 1] === '\n')) end++;
        field.value = text.slice(i, end);
        i = end;
      }
      record.fields.push(field);
      if (i < n && text[i] === delimiter) { i++; continue; }
      // End of record: a line break or the end of the text.
      if (i < n) {
        i += text[i] === '\r' ? 2 : 1;
        line++;
        lineStart = i;
      }
      break;
    }
    records.push(record);
  }
  return records;
}
