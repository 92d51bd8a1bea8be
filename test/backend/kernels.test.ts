/**
 * The wasm kernels of src/backend/kernels against references: products against a plain
 * triple loop with NumPy broadcasting, GELU, softmax and LayerNorm (values and gradients)
 * against float64 computations written out here, the other gradients against TF.js's own
 * compositions on the cpu backend. Runs for the native (OpenBLAS) kernels when the addon is
 * built (else those tests are listed as skipped, with the reason), and for the pure-wasm kernels
 * always.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { describeBackend, initBackend } from '../../src/backend';
import { values } from './values';
import {
  gelu, installWasmKernels, layerNorm, loadNativeBlas, softmaxLastAxis, uninstallWasmKernels, wasmKernelReport,
} from '../../src/backend/kernels';

const nativeLoad = loadNativeBlas();
const nativeAvailable = nativeLoad.ok;
const modes = ['native', 'wasm'] as const;
const firstMode = nativeAvailable ? 'native' : 'wasm';


const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** matmul with NumPy batch broadcasting, in float64. */
function refMatMul(a: Float32Array, as: number[], b: Float32Array, bs: number[], ta: boolean, tb: boolean): { data: Float64Array; shape: number[] } {
  const ra = as.length, rb = bs.length;
  const m = ta ? as[ra - 1] : as[ra - 2], k = ta ? as[ra - 2] : as[ra - 1];
  const n = tb ? bs[rb - 2] : bs[rb - 1];
  const ba = as.slice(0, -2), bb = bs.slice(0, -2);
  const rank = Math.max(ba.length, bb.length);
  const pad = (s: number[]) => [...Array(rank - s.length).fill(1), ...s];
  const pa = pad(ba), pb = pad(bb);
  const out = pa.map((d, i) => Math.max(d, pb[i]));
  const total = size(out);
  const data = new Float64Array(total * m * n);
  for (let t = 0; t < total; t++) {
    let rem = t, ia = 0, ib = 0, sa = 1, sb = 1;
    for (let i = rank - 1; i >= 0; i--) {
      const idx = rem % out[i];
      rem = Math.floor(rem / out[i]);
      ia += (pa[i] === 1 ? 0 : idx) * sa;
      ib += (pb[i] === 1 ? 0 : idx) * sb;
      sa *= pa[i];
      sb *= pb[i];
    }
    const ao = ia * m * k, bo = ib * k * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = ta ? a[ao + p * m + i] : a[ao + i * k + p];
          const bv = tb ? b[bo + j * k + p] : b[bo + p * n + j];
          s += av * bv;
        }
        data[t * m * n + i * n + j] = s;
      }
    }
  }
  return { data, shape: [...out, m, n] };
}

/** erf in float64: its Taylor series (|x| <= 6 keeps the cancellation under 1e-9), else +-1. */
function erf64(x: number): number {
  if (Math.abs(x) > 6) return Math.sign(x);
  let term = x, sum = x;
  for (let n = 1; n < 200 && Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
    term *= (-x * x) / n;
    sum += term / (2 * n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

/**
 * GELU, softmax over the last axis and LayerNorm over the last axis, with the gradients of
 * `sum(f(x) * dy)`, in float64 from their definitions: independent of TF.js and of the kernels.
 */
function reference64(x: Float32Array, dy: Float32Array, cols: number, gamma: Float32Array, beta: Float32Array, eps: number): Float64Array[] {
  const n = x.length, rows = n / cols;
  const gelu = new Float64Array(n), geluGrad = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const cdf = 0.5 * (1 + erf64(x[i] / Math.SQRT2));
    gelu[i] = x[i] * cdf;
    geluGrad[i] = dy[i] * (cdf + (x[i] * Math.exp(-0.5 * x[i] * x[i])) / Math.sqrt(2 * Math.PI));
  }
  const soft = new Float64Array(n), softGrad = new Float64Array(n);
  const ln = new Float64Array(n), lnDx = new Float64Array(n), lnDgamma = new Float64Array(cols), lnDbeta = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, x[o + j]);
    let z = 0;
    for (let j = 0; j < cols; j++) z += Math.exp(x[o + j] - max);
    let dot = 0;
    for (let j = 0; j < cols; j++) {
      soft[o + j] = Math.exp(x[o + j] - max) / z;
      dot += dy[o + j] * soft[o + j];
    }
    for (let j = 0; j < cols; j++) softGrad[o + j] = soft[o + j] * (dy[o + j] - dot);
    let mean = 0;
    for (let j = 0; j < cols; j++) mean += x[o + j];
    mean /= cols;
    let variance = 0;
    for (let j = 0; j < cols; j++) variance += (x[o + j] - mean) ** 2;
    variance /= cols;
    const rstd = 1 / Math.sqrt(variance + eps);
    // d/dx of sum(dy * (xhat * gamma + beta)) with xhat = (x - mean) * rstd:
    // rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma.
    let meanG = 0, meanGX = 0;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[o + j] - mean) * rstd, g = dy[o + j] * gamma[j];
      ln[o + j] = xhat * gamma[j] + beta[j];
      lnDgamma[j] += dy[o + j] * xhat;
      lnDbeta[j] += dy[o + j];
      meanG += g / cols;
      meanGX += (g * xhat) / cols;
    }
    for (let j = 0; j < cols; j++) {
      const xhat = (x[o + j] - mean) * rstd;
      lnDx[o + j] = rstd * (dy[o + j] * gamma[j] - meanG - xhat * meanGX);
    }
  }
  return [gelu, geluGrad, soft, softGrad, ln, lnDx, lnDgamma, lnDbeta];
}

function maxDiff(x: ArrayLike<number>, y: ArrayLike<number>): number {
  expect(x.length).toBe(y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i] - y[i]));
  return d;
}

/** Runs `f` on the cpu backend (TF.js reference kernels), then returns to wasm. */
async function onCpu<T>(f: () => T): Promise<T> {
  await tf.setBackend('cpu');
  try {
    return f();
  } finally {
    await tf.setBackend('wasm');
  }
}

beforeAll(async () => {
  await initBackend({ force: 'wasm' });
});
afterAll(() => {
  installWasmKernels();
});

for (const mode of modes) {
const unavailable = mode === 'native' && !nativeLoad.ok ? ` (skipped: ${nativeLoad.ok ? '' : nativeLoad.reason})` : '';
describe.skipIf(unavailable !== '')(`${mode} kernels${unavailable}`, () => {
  beforeAll(() => {
    expect(installWasmKernels(mode).mode).toBe(mode);
  });

  const productCases: [string, number[], number[]][] = [
    ['plain 2-D', [7, 5], [5, 9]],
    ['large enough to be split over threads', [300, 170], [170, 260]],
    ['batched, equal batch', [3, 4, 6], [3, 6, 5]],
    ['batch broadcast (b has none)', [2, 3, 4, 6], [6, 5]],
    ['batch broadcast (1 vs n)', [1, 4, 6], [3, 6, 5]],
    ['batch broadcast both ways', [2, 1, 4, 6], [1, 3, 6, 5]],
    ['1xN row vector', [1, 8], [8, 16]],
    ['Nx1 column result', [16, 8], [8, 1]],
    ['empty output rows', [0, 4], [4, 3]],
    ['empty inner dim', [3, 0], [0, 2]],
    ['empty batch', [0, 3, 4], [0, 4, 2]],
  ];
  const transposes: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

  for (const [name, as0, bs0] of productCases) {
    for (const [ta, tb] of transposes) {
      // On the wasm fallback, broadcasting across both operands' batch dims is the backend's own
      // (it supports equal or single batches only): not tested there.
      if (mode === 'wasm' && name === 'batch broadcast both ways') continue;
      it(`matMul ${name} transposeA=${ta} transposeB=${tb}`, () => {
        const swap = (s: number[], t: boolean) => (t ? [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]] : s);
        const as = swap(as0, ta), bs = swap(bs0, tb);
        const a = values(size(as), 11), b = values(size(bs), 23);
        const ref = refMatMul(a, as, b, bs, ta, tb);
        const got = tf.tidy(() => {
          const y = tf.matMul(tf.tensor(a, as), tf.tensor(b, bs), ta, tb);
          return { shape: y.shape, data: y.dataSync() };
        });
        expect(got.shape).toEqual(ref.shape);
        const k = ta ? as[as.length - 2] : as[as.length - 1];
        expect(maxDiff(got.data, ref.data)).toBeLessThanOrEqual(1e-6 * Math.max(1, k));
      });
    }
  }

  const activations = ['linear', 'relu', 'relu6', 'leakyrelu', 'sigmoid', 'elu', 'prelu'] as const;
  for (const activation of activations) {
    for (const [ta, tb] of [[false, true], [true, false]] as [boolean, boolean][]) {
      it(`fused matMul + bias + ${activation} (transposeA=${ta}, transposeB=${tb}): value and gradients match cpu`, async () => {
        const m = 33, k = 20, n = 17;
        const as = ta ? [1, k, m] : [1, m, k], bs = tb ? [1, n, k] : [1, k, n];
        const a = values(size(as), 3), b = values(size(bs), 5), bias = values(n, 7), dy = values(m * n, 9);
        const alpha = values(n, 13);
        const compute = () => tf.tidy(() => {
          const f = (x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) => tf.fused.matMul({
            a: x, b: w, transposeA: ta, transposeB: tb, bias: c, activation,
            preluActivationWeights: activation === 'prelu' ? tf.tensor1d(alpha) : undefined, leakyreluAlpha: 0.1,
          });
          const args = [tf.tensor(a, as), tf.tensor(b, bs), tf.tensor1d(bias)];
          const value = f(args[0], args[1], args[2]).dataSync();
          const grads = tf.grads((x: tf.Tensor, w: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(x, w, c), tf.tensor(dy, [1, m, n]))))(args);
          return [value, ...grads.map((g) => g.dataSync())] as Float32Array[];
        });
        const ref = await onCpu(compute);
        const got = compute();
        got.forEach((g, i) => expect(maxDiff(g, ref[i])).toBeLessThanOrEqual(2e-5));
      });
    }
  }

  it('fused GELU, softmax and LayerNorm: values and gradients match a float64 computation', () => {
    const shape = [3, 5, 70];
    const x = values(size(shape), 17).map((v) => v * 4);
    const dy = values(size(shape), 19);
    const gam = values(70, 29).map((v) => 1 + v), bet = values(70, 31);
    // Which implementation runs: one native pass per op with the addon, TF.js ops without it.
    expect(tf.getKernel('NeuropruneLayerNorm', 'wasm') !== undefined).toBe(mode === 'native');
    const got = tf.tidy(() => {
      const xt = tf.tensor(x, shape), dyt = tf.tensor(dy, shape), g = tf.tensor1d(gam), b = tf.tensor1d(bet);
      const out: Float32Array[] = [];
      for (const f of [gelu, softmaxLastAxis]) {
        out.push(f(xt).dataSync() as Float32Array);
        out.push(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), dyt)))(xt).dataSync() as Float32Array);
      }
      out.push(layerNorm(xt, g, b, 1e-12).dataSync() as Float32Array);
      const lg = tf.grads((t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(layerNorm(t, gg, bb, 1e-12), dyt)))([xt, g, b]);
      for (const t of lg) out.push(t.dataSync() as Float32Array);
      return out;
    });
    const ref = reference64(x, dy, 70, gam, bet, 1e-12);
    const names = ['gelu', 'gelu grad', 'softmax', 'softmax grad', 'layerNorm', 'layerNorm dx', 'layerNorm dgamma', 'layerNorm dbeta'];
    // dgamma and dbeta sum 15 rows each.
    got.forEach((g, i) => expect(maxDiff(g, ref[i]), names[i]).toBeLessThanOrEqual(i >= 6 ? 5e-5 : 2e-5));
    // The comparison can fail: a LayerNorm with another epsilon is far from the reference.
    const off = tf.tidy(() => layerNorm(tf.tensor(x, shape), tf.tensor1d(gam), tf.tensor1d(bet), 1).dataSync());
    expect(maxDiff(off, ref[4])).toBeGreaterThan(1e-2);
  });

  it('sum over any axes (contiguous blocks natively, others by TF.js) matches cpu; clones share no state', async () => {
    const shape = [3, 40, 5, 7];
    const x = values(size(shape), 37);
    const axesList: (number | number[] | undefined)[] = [undefined, 0, 1, 2, 3, -1, [0, 1], [1, 2], [2, 3], [0, 1, 2, 3], [0, 2], [1, 3]];
    const compute = () => tf.tidy(() => {
      const t = tf.tensor(x, shape);
      const out: Float32Array[] = [];
      for (const axis of axesList) for (const keepDims of [false, true]) out.push(tf.sum(t, axis, keepDims).dataSync() as Float32Array);
      out.push(tf.sum(tf.zeros([0, 4]), 0).dataSync() as Float32Array);
      return out;
    });
    const ref = await onCpu(compute);
    // Up to 4200 float32 terms per sum, in different orders: 1e-4 relative to the largest.
    compute().forEach((g, i) => expect(maxDiff(g, ref[i])).toBeLessThanOrEqual(1e-4 * Math.max(1, ...Array.from(ref[i], Math.abs))));
    tf.tidy(() => {
      const a = tf.tensor1d([1, 2, 3]);
      const b = a.clone();
      a.dispose();
      expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    });
  });

  it('scatterND adds rows that share an index, as on cpu', async () => {
    const compute = () => tf.tidy(() => {
      const idx = tf.tensor2d([[1], [3], [1], [0]], [4, 1], 'int32');
      const upd = tf.tensor(values(4 * 2 * 3, 41), [4, 2, 3]);
      const idx2 = tf.tensor2d([[0, 1], [2, 0], [0, 1]], [3, 2], 'int32');
      return [tf.scatterND(idx, upd, [5, 2, 3]).dataSync(), tf.scatterND(idx2, tf.tensor2d([[1, 2], [3, 4], [5, 6]]), [3, 2, 2]).dataSync()] as Float32Array[];
    });
    const ref = await onCpu(compute);
    compute().forEach((g, i) => expect(maxDiff(g, ref[i])).toBeLessThanOrEqual(1e-6));
  });

  it('fused ops handle a single row, a single column and empty tensors', () => {
    tf.tidy(() => {
      expect(Array.from(softmaxLastAxis(tf.tensor2d([[3]])).dataSync())).toEqual([1]);
      // [1, 2, 3, 4]: mean 2.5, variance 1.25.
      const row = tf.tensor2d([[1, 2, 3, 4]]);
      const expected = [-1.5, -0.5, 0.5, 1.5].map((d) => d / Math.sqrt(1.25 + 1e-5));
      expect(maxDiff(layerNorm(row, tf.ones([4]), tf.zeros([4]), 1e-5).dataSync(), expected)).toBeLessThan(1e-6);
      expect(gelu(tf.zeros([0, 3])).shape).toEqual([0, 3]);
      expect(softmaxLastAxis(tf.zeros([0, 3])).shape).toEqual([0, 3]);
      const g = tf.grads((t: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(layerNorm(t, gg, bb, 1e-5)))([tf.zeros([0, 4]), tf.ones([4]), tf.zeros([4])]);
      expect(g[1].shape).toEqual([4]);
      // TF.js's wasm Sum over an empty axis returns uninitialised memory: only the fused kernel
      // is held to zeros here.
      if (mode === 'native') expect(Array.from(g[1].dataSync())).toEqual([0, 0, 0, 0]);
    });
  });

  it('leaves no tensors behind across forward and backward', () => {
    const x = tf.tensor(values(2 * 6 * 8, 3), [2, 6, 8]);
    const w = tf.variable(tf.tensor(values(8 * 8, 5), [8, 8]));
    const g = tf.variable(tf.ones([8])), b = tf.variable(tf.zeros([8]));
    const step = () => tf.tidy(() => {
      const { grads } = tf.variableGrads(() => {
        const h = tf.matMul(x.reshape([12, 8]), w, false, true).reshape([2, 6, 8]);
        return tf.sum(softmaxLastAxis(gelu(layerNorm(h, g, b, 1e-12))));
      });
      Object.values(grads).forEach((t) => t.dataSync());
    });
    step();
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, g, b]);
  });
});
}

describe('installation', () => {
  it('restores the TF.js kernels on uninstall and reports the mode', () => {
    uninstallWasmKernels();
    const original = tf.getKernel('BatchMatMul', 'wasm');
    installWasmKernels(firstMode);
    expect(tf.getKernel('BatchMatMul', 'wasm')).not.toBe(original);
    expect(wasmKernelReport().mode).toBe(firstMode);
    uninstallWasmKernels();
    expect(tf.getKernel('BatchMatMul', 'wasm')).toBe(original);
    expect(tf.getKernel('NeuropruneGelu', 'wasm')).toBeUndefined();
    expect(wasmKernelReport().mode).toBe('off');
    // Without the fused kernels the same functions fall back to TF.js ops.
    tf.tidy(() => {
      expect(gelu(tf.tensor1d([0, 1])).dataSync()[1]).toBeCloseTo(0.8413447, 5);
    });
  });

  it('says in the backend report which kernels are active', async () => {
    const report = await initBackend({ force: 'wasm' });
    const line = describeBackend(report)[0];
    if (nativeAvailable && !process.env.NEUROPRUNE_KERNELS) expect(line).toMatch(/^backend: wasm \(\+ native OpenBLAS matmul.*threads?\)/);
    else expect(line).toMatch(/^backend: wasm/);
  });

  it('refuses an unknown NEUROPRUNE_KERNELS value', () => {
    expect(() => installWasmKernels('fast' as never)).not.toThrow(); // not parsed: a typed value
    const saved = process.env.NEUROPRUNE_KERNELS;
    process.env.NEUROPRUNE_KERNELS = 'fast';
    try {
      expect(() => installWasmKernels()).toThrow(/NEUROPRUNE_KERNELS=fast/);
    } finally {
      if (saved === undefined) delete process.env.NEUROPRUNE_KERNELS; else process.env.NEUROPRUNE_KERNELS = saved;
    }
  });
});
