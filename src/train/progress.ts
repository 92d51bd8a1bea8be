/**
 * A one-line progress bar with rate and ETA on stderr, redrawn in place on a terminal and
 * printed every `everyPercent` percent otherwise (CI logs, files), so logs stay short.
 */
export interface ProgressOptions {
  /** Where to draw; default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Unit shown after the rate, e.g. 'step'. */
  unit?: string;
  /** Silence the bar (e.g. `--json` output). */
  quiet?: boolean;
  /** When not on a terminal, print a line each time this many percent complete; default 25. */
  everyPercent?: number;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export class ProgressBar {
  private readonly start = Date.now();
  private done = 0;
  private lastPrintedBucket = -1;
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;

  constructor(private readonly label: string, private readonly total: number, private readonly options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.tty = Boolean(this.stream.isTTY);
  }

  /** Advances by `n` and redraws; `info` is appended (e.g. the current loss). */
  tick(n = 1, info = ''): void {
    this.done = Math.min(this.total, this.done + n);
    if (this.options.quiet) return;
    const line = this.render(info);
    if (this.tty) {
      this.stream.write('\r' + line.padEnd(100).slice(0, Math.max(100, line.length)));
      if (this.done === this.total) this.stream.write('\n');
      return;
    }
    const every = this.options.everyPercent ?? 25;
    const bucket = Math.floor(((this.done / this.total) * 100) / every);
    if (bucket !== this.lastPrintedBucket || this.done === this.total) {
      if (bucket === this.lastPrintedBucket && this.done !== this.total) return;
      this.lastPrintedBucket = bucket;
      this.stream.write(line + '\n');
    }
  }

  render(info = ''): string {
    const elapsed = (Date.now() - this.start) / 1000;
    const frac = this.total > 0 ? this.done / this.total : 1;
    const width = 24;
    const filled = Math.round(frac * width);
    const rate = elapsed > 0 ? this.done / elapsed : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : Infinity;
    const unit = this.options.unit ?? 'it';
    return `${this.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${this.done}/${this.total} ` +
      `${rate.toFixed(2)} ${unit}/s, ${formatDuration(elapsed)} elapsed, ETA ${formatDuration(eta)}${info ? ' ' + info : ''}`;
  }
}
