/**
 * Option parsing for the `neuroprune` commands: a thin layer over `node:util` parseArgs that
 * adds typed numbers with range messages and generates `--help` from the same table.
 */
import { parseArgs } from 'node:util';

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** One line for --help. */
  help: string;
  /** Shown in --help as the default. */
  default?: string;
  /** Value name in --help, e.g. DIR. */
  value?: string;
}

export type OptionTable = Record<string, OptionSpec>;

export class UsageError extends Error {}

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parseCommandArgs(argv: string[], table: OptionTable, command: string): Parsed {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [name, spec] of Object.entries(table)) options[name] = { type: spec.type };
  // `--alpha -1` would read as an unknown flag `-1`: glue negative numbers to their option.
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : undefined;
    if (name && table[name]?.type === 'string' && /^-\d|^-\.\d/.test(argv[i + 1] ?? '')) {
      args.push(`${argv[i]}=${argv[i + 1]}`);
      i++;
    } else {
      args.push(argv[i]);
    }
  }
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals: true, strict: true });
    return { values: values as Parsed['values'], positionals };
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    throw new UsageError(`${msg} (see neuroprune ${command} --help)`);
  }
}

export function helpText(command: string, summary: string, table: OptionTable, examples: string[] = []): string {
  const rows = Object.entries(table).map(([name, spec]) => {
    const flag = spec.type === 'boolean' ? `--${name}` : `--${name} ${spec.value ?? 'VALUE'}`;
    const def = spec.default !== undefined ? ` (default: ${spec.default})` : '';
    return [flag, spec.help + def] as const;
  });
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  const lines = [`Usage: neuroprune ${command} [options]`, '', summary, '', 'Options:'];
  for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}${text}`);
  if (examples.length) lines.push('', 'Examples:', ...examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

/** A number option: undefined when absent, else a finite number or a one-line error. */
export function numberOption(values: Parsed['values'], name: string, check?: (v: number) => string | null): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(v)) throw new UsageError(`--${name}: '${String(raw)}' is not a number`);
  const problem = check?.(v);
  if (problem) throw new UsageError(`--${name}: ${problem}`);
  return v;
}

export function stringOption(values: Parsed['values'], name: string): string | undefined {
  const raw = values[name];
  return typeof raw === 'string' ? raw : undefined;
}

export function requiredString(values: Parsed['values'], name: string, command: string): string {
  const v = stringOption(values, name);
  if (v === undefined) throw new UsageError(`--${name} is required (see neuroprune ${command} --help)`);
  return v;
}
