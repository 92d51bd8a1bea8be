/**
 * Loads the optional N-API addon built from `native/` (OpenBLAS sgemm over the wasm heap).
 *
 * The addon is built at `npm install` time when a compiler and OpenBLAS are present; when it is
 * absent or fails to load, `loadNativeBlas` returns the reason and the caller keeps the pure-wasm
 * kernels. `NEUROPRUNE_NATIVE=0` disables it; `NEUROPRUNE_NATIVE_ADDON=/path/x.node` points at a
 * build elsewhere; `NEUROPRUNE_THREADS=n` sets how many threads each product may use.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** What `native/blas.cc` exports. */
export interface NativeBlas {
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
}

export const ACTIVATION_CODES: Record<string, number> = {
  linear: 0, relu: 1, relu6: 2, leakyrelu: 3, sigmoid: 4, elu: 5,
};

export type NativeLoad = { ok: true; blas: NativeBlas; file: string } | { ok: false; reason: string };

const ADDON_NAME = 'neuroprune_blas.node';

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

let cached: NativeLoad | undefined;

export function loadNativeBlas(): NativeLoad {
  if (cached) return cached;
  cached = load();
  return cached;
}

function load(): NativeLoad {
  const flag = (process.env.NEUROPRUNE_NATIVE ?? '').trim().toLowerCase();
  if (flag === '0' || flag === 'off' || flag === 'false') return { ok: false, reason: 'disabled by NEUROPRUNE_NATIVE' };
  const explicit = process.env.NEUROPRUNE_NATIVE_ADDON;
  const root = packageRoot();
  const file = explicit ?? (root ? path.join(root, 'native', 'build', ADDON_NAME) : undefined);
  if (!file || !fs.existsSync(file)) return { ok: false, reason: 'native addon not built (npm run build:native)' };
  try {
    // process.dlopen instead of require: works the same under CommonJS, tsx and vitest.
    const mod = { exports: {} as NativeBlas };
    process.dlopen(mod, file);
    const blas = mod.exports;
    const threads = Number(process.env.NEUROPRUNE_THREADS ?? '0');
    blas.setThreads(Number.isFinite(threads) && threads > 0 ? Math.floor(threads) : 0);
    return { ok: true, blas, file };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    return { ok: false, reason: `native addon did not load: ${msg.split('\n')[0]}` };
  }
}
