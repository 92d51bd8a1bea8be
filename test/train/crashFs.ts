/**
 * A kill at any filesystem step, made deterministic: wraps the mutating calls of `node:fs` so that
 * the n-th call touching the watched folder runs and then throws `SimulatedCrash`, and every later
 * mutating call there throws without running (a dead process changes nothing more on disk, not
 * even in `catch` blocks meant to clean up). `writeFileSync` is split into its two real effects
 * (truncate/create, then write) since a kill can land between them.
 *
 * Use from a test file:
 *   const crash = vi.hoisted(() => ({ state: undefined as unknown as CrashState }));
 *   vi.mock('node:fs', async (orig) => { const m = await import('./crashFs' as string); return m.crashingFs(await orig(), crash); });
 */
import type * as FS from 'node:fs';
import { resolve, sep } from 'node:path';

export class SimulatedCrash extends Error {
  constructor(readonly step: string) { super(`simulated crash after ${step}`); }
}

export interface CrashState {
  /** Absolute folder whose mutations are counted; '' counts nothing. */
  root: string;
  /** Crash after this many counted steps; 0 never crashes (steps are still counted and traced). */
  crashAfter: number;
  count: number;
  dead: boolean;
  /** One entry per counted step: `op basename`. */
  trace: string[];
}

export function newCrashState(): CrashState {
  return { root: '', crashAfter: 0, count: 0, dead: false, trace: [] };
}

/** Watches `root` from now on: clears the count and the trace, crashes after `crashAfter` steps (0: never). */
export function watch(s: CrashState, root: string, crashAfter = 0): void {
  Object.assign(s, { root: resolve(root), crashAfter, count: 0, dead: false, trace: [] });
}

export function crashingFs(real: typeof FS, holder: { state: CrashState }): typeof FS {
  const s = () => holder.state;
  const fds = new Set<number>();
  const inRoot = (p: unknown): boolean => {
    const root = s()?.root;
    if (!root || (typeof p !== 'string' && !Buffer.isBuffer(p))) return false;
    const abs = resolve(String(p));
    return abs === root || abs.startsWith(root + sep);
  };
  function step<T>(where: unknown, op: string, run: () => T): T {
    if (!inRoot(where)) return run();
    const st = s();
    if (st.dead) throw new SimulatedCrash(`(dead) ${op}`);
    const r = run();
    st.count += 1;
    const label = `${op} ${String(where).split(sep).slice(-2).join('/')}`;
    st.trace.push(label);
    if (st.count === st.crashAfter) { st.dead = true; throw new SimulatedCrash(label); }
    return r;
  }
  const writes = (flags: unknown) => flags !== undefined && flags !== 'r' && flags !== 'rs' && flags !== real.constants.O_RDONLY;
  const wrapped: typeof FS = {
    ...real,
    mkdirSync: ((p: FS.PathLike, o?: unknown) => step(p, 'mkdir', () => real.mkdirSync(p, o as FS.MakeDirectoryOptions))) as typeof FS.mkdirSync,
    renameSync: (a, b) => step(a, 'rename', () => real.renameSync(a, b)),
    rmSync: (p, o) => step(p, 'rm', () => real.rmSync(p, o)),
    rmdirSync: (p, o) => step(p, 'rmdir', () => real.rmdirSync(p, o)),
    unlinkSync: (p) => step(p, 'unlink', () => real.unlinkSync(p)),
    symlinkSync: (t, p, type) => step(p, 'symlink', () => real.symlinkSync(t, p, type)),
    copyFileSync: (a, b, m) => step(b, 'copy', () => real.copyFileSync(a, b, m)),
    appendFileSync: (p, d, o) => step(p, 'append', () => real.appendFileSync(p, d, o)),
    writeFileSync: (p, d, o) => {
      if (typeof p === 'number' || !inRoot(p)) return real.writeFileSync(p, d, o);
      const fd = step(p, 'create', () => real.openSync(p as FS.PathLike, 'w'));
      try {
        step(p, 'write', () => real.writeSync(fd, typeof d === 'string' ? Buffer.from(d) : (d as Uint8Array)));
      } finally {
        real.closeSync(fd);
      }
    },
    openSync: ((p: FS.PathLike, flags?: FS.OpenMode, mode?: FS.Mode) => {
      const open = () => (real.openSync as (...a: unknown[]) => number)(p, flags, mode);
      if (!writes(flags) || !inRoot(p)) return open();
      const fd = step(p, 'open', open);
      fds.add(fd);
      return fd;
    }) as typeof FS.openSync,
    writeSync: ((fd: number, ...rest: unknown[]) => {
      if (!fds.has(fd)) return (real.writeSync as (...a: unknown[]) => number)(fd, ...rest);
      if (s().dead) throw new SimulatedCrash('(dead) write');
      return (real.writeSync as (...a: unknown[]) => number)(fd, ...rest);
    }) as typeof FS.writeSync,
    closeSync: (fd) => { fds.delete(fd); real.closeSync(fd); },
  };
  return { ...wrapped, default: wrapped } as typeof FS;
}
