import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { writeFileAtomic } from '../checkpoint/atomic';

/** Appends one JSON object as one line; a line is written whole or not at all (single write). */
export function appendJsonl(path: string, record: object): void {
  appendFileSync(path, JSON.stringify(record) + '\n');
}

/**
 * Reads a JSONL file. A last line cut short by an interruption is ignored (it is the only line
 * that can be partial); any other malformed line is an error naming the file and line.
 */
export function readJsonl<T = Record<string, unknown>>(path: string): T[] {
  if (!existsSync(path)) throw new Error(`${path}: no such file`);
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: T[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    try {
      out.push(JSON.parse(line) as T);
    } catch {
      const isLast = lines.slice(i + 1).every((l) => l.trim() === '');
      if (!isLast) throw new Error(`${path}:${i + 1}: not a JSON line`);
    }
  });
  return out;
}

/** Replaces a JSONL file with `records` atomically: a kill leaves the old file or the new one, whole. */
export function writeJsonlAtomic(path: string, records: object[]): void {
  writeFileAtomic(path, records.map((r) => JSON.stringify(r) + '\n').join(''));
}
