/**
 * Loads the optional N-API addon built from `native/` (OpenBLAS sgemm over the wasm heap).
 *
 * The addon is built at `npm install` time when a compiler and OpenBLAS are present; when it is
 * absent or fails to load, `loadNativeBlas` returns the reason and the caller keeps the pure-wasm
 * kernels. `NEUROPRUNE_NATIVE=0` disables it; `NEUROPRUNE_NATIVE_ADDON=/path/x.node` points at a
 * build elsewhere; `NEUROPRUNE_THREADS=n` sets how many threads each product may use.
 *
 * An addon is used only if it was built from the `blas.cc` next to its build folder (else the
 * package's `native/blas.cc`): it carries that file's hash (`sourceHash`, set by native/build.js),
 * and one built from another version (whose functions may take other arguments) is refused with
 * the command that rebuilds it.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What `native/blas.cc` exports. */
export interface NativeBlas {
  /** The hash of the blas.cc it was built from (absent in builds older than the stamp). */
  sourceHash?: string;
  /**
   * For each batch entry `i`: `c[i*m*n ..] = op(a @ aOffsets[i]) @ op(b @ bOffsets[i])`, row-major,
   * then `+ bias` (length n) and the activation (codes in `ACTIVATION_CODES`).
   */
  gemm(
    a: Float32Array, b: Float32Array, c: Float32Array,
    aOffsets: Int32Array, bOffsets: Int32Array,
    m: number, n: number, k: number, transposeA: boolean, transposeB: boolean,
    bias: Float32Array | null, activation: number, leakyreluAlpha: number,
  ): void;
  /** Threads per product; 0 = all processors. Returns the value in force. */
  setThreads(n: number): number;
  info(): { threads: number; blas: string };
  /** `out[o, i] = sum_r x[o, r, i]`. */
  sumAxis(x: Float32Array, out: Float32Array, outer: number, r: number, inner: number): void;
  /** Fused elementwise passes (see native/blas.cc); sizes in elements, rows of `cols` on the last axis. */
  gelu(x: Float32Array, y: Float32Array, n: number): void;
  geluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, n: number): void;
  softmax(x: Float32Array, y: Float32Array, rows: number, cols: number): void;
  softmaxGrad(dy: Float32Array, y: Float32Array, dx: Float32Array, rows: number, cols: number): void;
  layerNorm(x: Float32Array, gamma: Float32Array, beta: Float32Array, y: Float32Array, mean: Float32Array, rstd: Float32Array,
    rows: number, cols: number, epsilon: number): void;
  layerNormGrad(dy: Float32Array, x: Float32Array, mean: Float32Array, rstd: Float32Array, gamma: Float32Array,
    dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array, rows: number, cols: number): void;
  /** R_mlp of one `[rows, cols]` matrix: returns the value; with `grad`, writes `scale * dR/dw`. */
  regMlp?(w: Float32Array, grad: Float32Array | null, rows: number, cols: number, eps: number, scale: number): number;
  /** R_attn of one block (Q, K, V share `cols`): returns the value; with the gradients, writes `scale * dR/dw`. */
  regAttn?(q: Float32Array, k: Float32Array, v: Float32Array, gq: Float32Array | null, gk: Float32Array | null, gv: Float32Array | null,
    rowsQ: number, rowsK: number, rowsV: number, cols: number, delta: number, scale: number): number;
  /** One torch AdamW update of p, m, v in place (`weightDecay` 0 for none). */
  adamw?(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, n: number,
    lr: number, beta1: number, beta2: number, epsilon: number, weightDecay: number, step: number): void;
  /**
   * `out = a op b` with NumPy broadcasting (op 0 add, 1 sub, 2 mul, 3 div); the shapes are padded
   * with leading 1s to one rank.
   */
  binary(a: Float32Array, b: Float32Array, out: Float32Array, op: number, outShape: Int32Array, aShape: Int32Array, bShape: Int32Array): void;
  /** `out` = `x` (of `shape`) with its dims permuted: out dim i is x dim perm[i]. 4-byte elements. */
  transpose(x: Float32Array, out: Float32Array, shape: Int32Array, perm: Int32Array): void;
  /** `y[i] = keep(seed, i) ? x[i] * scale : 0` (see kernels/dropout.ts for `keep`). */
  dropout(x: Float32Array, y: Float32Array, n: number, seed: number, threshold: number, scale: number): void;
  /** `out` = zeros, then `out[rows[u], :] += updates[u, :]`; throws on a row outside `[0, numSlices)`. */
  scatterAddRows(rows: Int32Array, updates: Float32Array, out: Float32Array, sliceSize: number, numSlices: number): void;
}

export const ACTIVATION_CODES: Record<string, number> = {
  linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5,
};

/** `deliberate`: switched off by the environment, not missing or broken. */
export type NativeLoad = { ok: true; blas: NativeBlas; file: string } | { ok: false; reason: string; deliberate?: boolean };

const ADDON_NAME = 'neuroprune_blas.node';
const REBUILD = 'npm run build:native';

/** The package root: the nearest folder above this file that holds `native/`. */
function packageRoot(): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    if (fs.existsSync(path.join(dir, 'native', 'blas.cc')) || fs.existsSync(path.join(dir, 'native', 'build', ADDON_NAME))) return dir;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** The stamp of a blas.cc: the first 16 hex digits of its SHA-256 (as native/build.js computes it). */
export function nativeSourceHash(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex').slice(0, 16);
}

/**
 * Accepts a loaded addon only if its stamp is `expected` (the hash of the blas.cc it must have
 * been built from); `expected` undefined (no source shipped) accepts any stamped build.
 */
export function checkNativeAddon(blas: NativeBlas, file: string, expected: string | undefined): NativeLoad {
  const stamp = typeof blas.sourceHash === 'string' && blas.sourceHash !== 'unknown' ? blas.sourceHash : undefined;
  if (stamp === undefined || (expected !== undefined && stamp !== expected)) {
    const what = stamp === undefined ? 'carries no source stamp (built by an older version)' : `was built from another native/blas.cc (${stamp}, the source is ${expected})`;
    return { ok: false, reason: `native addon ${file} ${what}: rebuild it with ${REBUILD}` };
  }
  return { ok: true, blas, file };
}

let cached: { key: string; load: NativeLoad } | undefined;

/** The addon, loaded once per setting of the environment variables that choose it. */
export function loadNativeBlas(): NativeLoad {
  const key = [process.env.NEUROPRUNE_NATIVE, process.env.NEUROPRUNE_NATIVE_ADDON].join('\0');
  if (cached?.key !== key) cached = { key, load: load() };
  return cached.load;
}

function load(): NativeLoad {
  const flag = (process.env.NEUROPRUNE_NATIVE ?? '').trim().toLowerCase();
  if (flag === '0' || flag === 'off' || flag === 'false') return { ok: false, reason: 'disabled by NEUROPRUNE_NATIVE', deliberate: true };
  const explicit = process.env.NEUROPRUNE_NATIVE_ADDON || undefined;
  const root = packageRoot();
  const file = explicit ?? (root ? path.join(root, 'native', 'build', ADDON_NAME) : undefined);
  if (!file || !fs.existsSync(file)) return { ok: false, reason: `native addon not built (${REBUILD})` };
  // The source it must match: the blas.cc beside its build folder, else the package's.
  const sources = [path.join(path.dirname(path.dirname(file)), 'blas.cc'), ...(root ? [path.join(root, 'native', 'blas.cc')] : [])];
  const source = sources.find((f) => fs.existsSync(f));
  try {
    // process.dlopen instead of require: works the same under CommonJS, tsx and vitest.
    const mod = { exports: {} as NativeBlas };
    process.dlopen(mod, file);
    const checked = checkNativeAddon(mod.exports, file, source ? nativeSourceHash(source) : undefined);
    if (!checked.ok) return checked;
    const threads = Number(process.env.NEUROPRUNE_THREADS ?? '0');
    checked.blas.setThreads(Number.isFinite(threads) && threads > 0 ? Math.floor(threads) : 0);
    return checked;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `native addon did not load: ${msg.split('\n')[0]} (${REBUILD})` };
  }
}
