/**
 * The `native` backend (src/backend/nativeBackend.ts) against the cpu backend: every kernel it
 * replaces, values and gradients, over several shapes (transposes, broadcasting, 1-row and empty
 * tensors); a product over tensors larger than the wasm heap could hold; one training step of a
 * tiny BERT. Each case runs the same function on `cpu` and on `native` and checks, through
 * `tf.profile`, that the native kernel actually ran (a silent fallback to the cpu kernel would
 * otherwise pass every comparison).
 *
 * Skipped, with the reason in the name, where the addon is not built (no `native` backend).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../../src/backend';
import { PooledCpuBackend } from '../../src/backend/bufferPool';
import { dropout, dropoutMask, gelu, layerNorm, loadNativeBlas, softmaxLastAxis, trainingKernelCalls } from '../../src/backend/kernels';
import { nativeBackendKernels } from '../../src/backend/nativeBackend';
import { BertForSequenceClassification, bertLoss, embeddingLookup, type BertConfig } from '../../src/models/bert';
import { attentionGroupL12, mlpPreferentialL1 } from '../../src/neuroprune/regularizers';
import { AdamW } from '../../src/train/adamw';
import { values } from './values';

const load = loadNativeBlas();
const built = load.ok;
const skipReason = built ? '' : ` (skipped: ${load.reason})`;

const size = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

interface Run { out: Float32Array[]; kernels: string[] }

/**
 * Runs `f` on `backend` over fresh inputs from `make` and returns its outputs as arrays and the
 * names of the kernels that ran. Inputs are rebuilt per backend so none is moved between them.
 */
async function runOn(backend: 'cpu' | 'native', f: () => tf.Tensor | tf.Tensor[]): Promise<Run> {
  await tf.setBackend(backend);
  let out: Float32Array[] = [];
  const profile = await tf.profile(() => {
    const r = tf.tidy(f);
    const list = Array.isArray(r) ? r : [r];
    out = list.map((t) => Float32Array.from(t.dataSync() as Float32Array));
    tf.dispose(list);
  });
  return { out, kernels: profile.kernelNames };
}

/** max |a - b| / max(1, max |b|): an error relative to the scale of the values. */
function relErr(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let m = 0, scale = 1;
  for (let i = 0; i < a.length; i++) {
    m = Math.max(m, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return m / scale;
}

/**
 * `f` on cpu (or `reference`, where the cpu backend gets `f` wrong) and on native agree to `tol` (relative to the values' scale: products and sums
 * accumulate in other orders, OpenBLAS blocks its sums), and native ran `kernel` (when given).
 */
async function agree(f: () => tf.Tensor | tf.Tensor[], tol: number, kernel?: string, reference = f): Promise<void> {
  const ref = await runOn('cpu', reference);
  const got = await runOn('native', f);
  expect(got.out.length).toBe(ref.out.length);
  got.out.forEach((o, i) => expect(relErr(o, ref.out[i]), `output ${i}`).toBeLessThanOrEqual(tol));
  if (kernel) expect(got.kernels).toContain(kernel);
}

const t = (shape: number[], seed: number, dtype: 'float32' | 'int32' = 'float32') => tf.tensor(values(size(shape), seed), shape, dtype);

/** `sum(f(xs) * dy)` and its gradients with respect to every input: values and gradients in one run. */
function withGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: () => tf.Tensor[], seed = 99): () => tf.Tensor[] {
  return () => {
    const xs = inputs();
    const y = f(...xs);
    const dy = t(y.shape, seed);
    const g = tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(f(...args), dy)))(xs);
    return [y, ...g];
  };
}

describe.skipIf(!built)(`native backend${skipReason}`, () => {
  // Kernel outputs come unzeroed from the buffer pool (bufferPool.ts): here every output array
  // starts as NaN, so a kernel that leaves an element unwritten fails its comparison.
  const allocate = PooledCpuBackend.prototype.allocateFloat32;
  beforeAll(async () => {
    PooledCpuBackend.prototype.allocateFloat32 = function (this: PooledCpuBackend, n: number) { return allocate.call(this, n).fill(NaN); };
    await initBackend({ force: 'cpu' }); // initialises the reference backend without its banner
    const report = await initBackend({ force: 'native' });
    expect(report.picked).toBe('native');
  });
  afterAll(async () => {
    PooledCpuBackend.prototype.allocateFloat32 = allocate;
    await tf.setBackend('native');
  });

  it('registers every cpu kernel, and reports OpenBLAS and its threads', async () => {
    const cpu = tf.getKernelsForBackend('cpu').map((k) => k.kernelName);
    const native = new Set(tf.getKernelsForBackend('native').map((k) => k.kernelName));
    expect(cpu.filter((k) => !native.has(k))).toEqual([]);
    for (const k of nativeBackendKernels()) expect(native.has(k), k).toBe(true);
    const report = await initBackend({ force: 'native' });
    expect(describeBackend(report)[0]).toMatch(/^backend: native \(OpenBLAS [0-9.]+, \d+ threads?\) \(forced\)$/);
  });

  describe('BatchMatMul and _FusedMatMul', () => {
    const cases: [number[], number[], boolean, boolean][] = [
      [[5, 7], [7, 3], false, false],
      [[7, 5], [7, 3], true, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [3, 7], true, true],
      [[3, 6, 4], [3, 6, 5], true, false],
      [[1, 9], [9, 4], false, false], // one row
      [[0, 4], [4, 3], false, false], // empty
      [[3, 0], [0, 2], false, false], // empty inner dimension: zeros
    ];
    for (const [as, bs, ta, tb] of cases) {
      it(`[${as}]${ta ? 'T' : ''} @ [${bs}]${tb ? 'T' : ''}: values and gradients`, async () => {
        await agree(withGrads((a, b) => tf.matMul(a, b, ta, tb), () => [t(as, 1), t(bs, 2)]), 1e-5, size(as) && size(bs) ? 'BatchMatMul' : undefined);
      });
    }
    // Batch broadcasting: values only (TF.js 4.22's gradient of BatchMatMul does not reduce over
    // broadcast batch dims, on any backend). The cpu backend broadcasts only one side ([2,1] with
    // [1,3] gives 2 entries, not 6): the reference tiles both sides first.
    it('[2,1,4,6] @ [1,3,6,5] (batch broadcast both ways): values', async () => {
      await agree(() => tf.matMul(t([2, 1, 4, 6], 1), t([1, 3, 6, 5], 2)), 1e-5, 'BatchMatMul',
        () => tf.matMul(tf.tile(t([2, 1, 4, 6], 1), [1, 3, 1, 1]), tf.tile(t([1, 3, 6, 5], 2), [2, 1, 1, 1])));
    });
    it('[3,6,4]T @ [6,5] (rank 3 against rank 2): values', async () => {
      await agree(() => tf.matMul(t([3, 6, 4], 1), t([6, 5], 2), true, false), 1e-5, 'BatchMatMul');
    });
    for (const activation of ['linear', 'relu', 'elu', 'sigmoid'] as const) {
      it(`fused with a bias broadcast over rows and ${activation}: values and gradients`, async () => {
        const f = (a: tf.Tensor, b: tf.Tensor, bias: tf.Tensor) =>
          tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeB: true, bias, activation });
        // relu and elu have gradients only for linear and relu in TF.js's fused op: values only for the others.
        const inputs = () => [t([6, 8], 3), t([5, 8], 4), t([5], 5)];
        const g = activation === 'linear' || activation === 'relu' ? withGrads(f, inputs) : () => f(...(inputs() as [tf.Tensor, tf.Tensor, tf.Tensor]));
        await agree(g, 1e-5, '_FusedMatMul');
      });
    }
    it('refuses operands whose inner dimensions differ, naming both shapes', async () => {
      await tf.setBackend('native');
      expect(() => tf.matMul(tf.zeros([2, 3]), tf.zeros([4, 5]))).toThrow(/3.*4|\[2,3\].*\[4,5\]/);
    });
  });

  describe('fused GELU, softmax and LayerNorm (the kernels the models call)', () => {
    for (const shape of [[4, 6], [2, 3, 16], [1, 5], [0, 4]]) {
      it(`[${shape}]: values and gradients`, async () => {
        const n = size(shape) > 0;
        await agree(withGrads((x) => gelu(x), () => [t(shape, 6)]), 1e-5, n ? 'NeuropruneGeluGrad' : undefined);
        await agree(withGrads((x) => softmaxLastAxis(tf.mul(x, 4)), () => [t(shape, 7)]), 1e-5, n ? 'NeuropruneSoftmaxGrad' : undefined);
        const d = shape[shape.length - 1];
        await agree(withGrads((x, g, b) => layerNorm(x, g, b, 1e-12), () => [t(shape, 8), t([d], 9), t([d], 10)]), 1e-4,
          n ? 'NeuropruneLayerNormGrad' : undefined);
      });
    }
  });

  describe('Sum', () => {
    const cases: [number[], number | number[] | null, boolean][] = [
      [[6, 5], 0, false], [[6, 5], 1, true], [[3, 4, 5], [0, 1], false], [[3, 4, 5], [1], false],
      [[3, 4, 5], [0, 2], false] /* not contiguous: the cpu kernel */, [[3, 4, 5], null, false], [[0, 4], 0, false], [[4, 0], 1, false],
    ];
    for (const [shape, axis, keepDims] of cases) {
      it(`[${shape}] over ${JSON.stringify(axis)}${keepDims ? ', keepDims' : ''}`, async () => {
        await agree(() => tf.sum(t(shape, 11), axis ?? undefined, keepDims), 1e-5);
      });
    }
  });

  describe('Add, Sub, Mul, RealDiv with broadcasting, and their gradients', () => {
    const cases: [number[], number[]][] = [
      [[4, 5], [4, 5]], [[4, 5], [5]], [[4, 5], [4, 1]], [[4, 5], []], [[2, 3, 4, 4], [2, 1, 1, 4]],
      [[3, 1, 5], [1, 4, 1]], [[1, 6], [6]], [[0, 5], [5]], [[5], [2, 3, 5]],
    ];
    for (const [as, bs] of cases) {
      it(`[${as}] and [${bs}]`, async () => {
        for (const [name, op] of [['Add', tf.add], ['Sub', tf.sub], ['Multiply', tf.mul]] as const) {
          await agree(withGrads((a, b) => op(a, b), () => [t(as, 12), t(bs, 13)]), 1e-6, size(as) && size(bs) ? name : undefined);
        }
        // Divisors away from 0, so that the relative comparison means something.
        await agree(withGrads((a, b) => tf.div(a, b), () => [t(as, 14), tf.add(tf.abs(t(bs, 15)), 0.5)]), 1e-5, size(as) && size(bs) ? 'RealDiv' : undefined);
      });
    }
    it('int32 operands keep the cpu kernels (exact integer results)', async () => {
      await agree(() => tf.cast(tf.add(tf.tensor([1, 2, 3], [3], 'int32'), tf.tensor([[10], [20]], [2, 1], 'int32')), 'float32'), 0);
    });
  });

  describe('Transpose', () => {
    const cases: [number[], number[]][] = [
      [[2, 3, 4, 5], [0, 2, 1, 3]], [[2, 3, 4, 5], [3, 0, 2, 1]], [[7, 9], [1, 0]], [[1, 4, 1, 3], [3, 2, 1, 0]], [[0, 3], [1, 0]], [[5], [0]],
    ];
    for (const [shape, perm] of cases) {
      it(`[${shape}] by [${perm}]: values and gradient`, async () => {
        // TF.js returns a rank-1 tensor as it is, without a kernel.
        await agree(withGrads((x) => tf.transpose(x, perm), () => [t(shape, 16)]), 0, shape.length > 1 ? 'Transpose' : undefined);
      });
    }
    it('int32 values are moved bit for bit', async () => {
      await agree(() => tf.cast(tf.transpose(tf.tensor([1 << 30, -7, 3, 2 ** 31 - 1, 0, -(2 ** 31)], [2, 3], 'int32')), 'float32'), 0, 'Transpose');
    });
  });

  describe('GatherV2 and the embedding gradient (ScatterNd)', () => {
    it('gathers along axis 0 and 1, and scatter-adds repeated rows', async () => {
      const ids = () => tf.tensor2d([[1, 2, 5], [1, 0, 1]], [2, 3], 'int32');
      await agree(() => tf.gather(t([6, 4], 17), ids()), 0, 'GatherV2');
      await agree(() => tf.gather(t([3, 6, 2], 18), tf.tensor1d([5, 0, 5], 'int32'), 1), 0, 'GatherV2');
      await agree(withGrads((w) => embeddingLookup(w, ids()), () => [t([6, 4], 19)]), 1e-6, 'ScatterNd');
    });
    it("tf.gather's own gradient (UnsortedSegmentSum) along the first and the last axis, repeated indices summed", async () => {
      await agree(withGrads((w) => tf.gather(w, tf.tensor1d([2, 0, 2, 5], 'int32')), () => [t([6, 4], 26)]), 1e-6, 'UnsortedSegmentSum');
      await agree(withGrads((w) => tf.gather(w, tf.tensor1d([3, 1, 3], 'int32'), -1), () => [t([2, 5, 4], 27)]), 1e-6, 'UnsortedSegmentSum');
    });
    it('refuses an index outside the table, naming it', async () => {
      await tf.setBackend('native');
      expect(() => tf.gather(tf.zeros([3, 2]), tf.tensor1d([0, 3], 'int32'))).toThrow(/index 3.*\[0, 2\]/);
    });
  });

  describe('dropout (counter-based hash: the same mask on every backend)', () => {
    for (const [shape, rate] of [[[64, 50], 0.1], [[3, 7, 5], 0.5], [[1, 9], 0.9], [[0, 3], 0.1]] as [number[], number][]) {
      it(`[${shape}] at rate ${rate}: the cpu backend's values and gradient, the kept fraction near 1 - rate`, async () => {
        await agree(withGrads((x) => dropout(x, rate, 12345), () => [t(shape, 25)]), 0, size(shape) > 0 ? 'NeuropruneDropout' : undefined);
        const n = size(shape);
        if (n >= 1000) {
          const kept = dropoutMask(n, rate, 12345).filter((v) => v !== 0).length / n;
          // Binomial: 4 standard deviations.
          expect(Math.abs(kept - (1 - rate))).toBeLessThan(4 * Math.sqrt((rate * (1 - rate)) / n));
        }
      });
    }
    it('another seed draws another mask; the gradient is the mask times 1 / (1 - rate)', async () => {
      await tf.setBackend('native');
      const a = dropoutMask(1000, 0.3, 1), b = dropoutMask(1000, 0.3, 2);
      expect(a.some((v, i) => (v === 0) !== (b[i] === 0))).toBe(true);
      const g = tf.grad((x: tf.Tensor) => tf.sum(dropout(x, 0.3, 1)))(tf.ones([1000])).dataSync();
      g.forEach((v, i) => expect(v).toBe(a[i]));
      expect(new Set(a)).toEqual(new Set([0, Math.fround(1 / 0.7)]));
    });
  });

  it('the regularizers run in the addon and match the cpu backend (values and gradients)', async () => {
    const attn = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) => attentionGroupL12([{ query: { weight: q }, key: { weight: k }, value: { weight: v } }] as never);
    const mlp = (wi: tf.Tensor, wo: tf.Tensor) => mlpPreferentialL1([{ input: { weight: wi }, output: { weight: wo } }] as never, { eps: 0.3 });
    const before = { ...trainingKernelCalls };
    await agree(withGrads(attn, () => [t([8, 6], 20), t([8, 6], 21), t([8, 6], 22)]), 1e-5);
    await agree(withGrads(mlp, () => [t([12, 6], 23), t([6, 12], 24)]), 1e-5);
    expect(trainingKernelCalls.regAttnGrad).toBeGreaterThan(before.regAttnGrad);
    expect(trainingKernelCalls.regMlpGrad).toBeGreaterThan(before.regMlpGrad);
  });

  it('a matmul over tensors totalling more than 4.5 GiB (beyond any wasm heap)', async () => {
    await tf.setBackend('native');
    // Tall and skinny, so that the product costs a pass over memory: a [M, 2] @ [2, 2] -> c [M, 2],
    // 2 x 2.4 GiB. Rows at the start, middle and end of `a` are set apart and checked in `c`.
    const m = 320_000_000;
    const a = tf.ones([m, 2]);
    const av = a.dataSync() as Float32Array; // the tensor's own array on this backend
    const rows = [0, m >> 1, m - 1];
    rows.forEach((r, i) => { av[2 * r] = i + 2; av[2 * r + 1] = -(i + 5); });
    const b = tf.tensor2d([[1, 2], [3, 4]]);
    const c = tf.matMul(a, b);
    expect((a.size + c.size) * 4).toBeGreaterThan(4.5 * 2 ** 30);
    const cv = c.dataSync() as Float32Array;
    rows.forEach((r, i) => {
      const x = i + 2, y = -(i + 5);
      expect([cv[2 * r], cv[2 * r + 1]]).toEqual([x + 3 * y, 2 * x + 4 * y]);
    });
    // An ordinary row just before the last one: [1, 1] @ b.
    expect([cv[2 * (m - 2)], cv[2 * (m - 2) + 1]]).toEqual([4, 6]);
    tf.dispose([a, b, c]);
  });

  it('one training step of a tiny BERT (dropout, task loss + R_attn + R_mlp, AdamW) equals the cpu backend\'s', async () => {
    const config: BertConfig = {
      vocab_size: 50, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 32,
      hidden_act: 'gelu', hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 16,
      type_vocab_size: 2, initializer_range: 0.02, layer_norm_eps: 1e-12, pad_token_id: 0, num_labels: 2,
    };
    const lr = 1e-3;
    const step = async (backend: 'cpu' | 'native') => {
      await tf.setBackend(backend);
      const model = BertForSequenceClassification.random(config, { seed: 5, dropoutSeed: 6 });
      const params = model.namedParameters();
      const before = new Map([...params].map(([n, v]) => [n, Float32Array.from(v.dataSync() as Float32Array)]));
      const inputIds = tf.tensor2d([[2, 7, 9, 11, 3, 0], [2, 5, 3, 0, 0, 0]], undefined, 'int32');
      const attentionMask = tf.tensor2d([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]], undefined, 'int32');
      const labels = tf.tensor1d([0, 1], 'int32');
      const byVar = new Map([...params].map(([n, v]) => [v.name, n]));
      const { value, grads } = tf.variableGrads(() => {
        const task = bertLoss(model, model.forward({ inputIds, attentionMask }, { training: true }).logits, labels);
        return tf.add(task, tf.add(tf.mul(attentionGroupL12(model.attentionBlocks()), 1e-3), tf.mul(mlpPreferentialL1(model.mlpBlocks()), 1e-3))) as tf.Scalar;
      }, [...params.values()]);
      const named = new Map(Object.entries(grads).map(([v, g]) => [byVar.get(v)!, g]));
      const gradArrays = new Map([...named].map(([n, g]) => [n, Float32Array.from(g.dataSync() as Float32Array)]));
      const calls = trainingKernelCalls.adamw;
      const opt = new AdamW({ weightDecay: 0.01 });
      opt.apply(params, named, lr);
      const adamwNative = trainingKernelCalls.adamw - calls;
      const delta = new Map([...params].map(([n, v]) => {
        const now = v.dataSync() as Float32Array, was = before.get(n)!;
        return [n, now.map((x, i) => x - was[i])];
      }));
      const loss = value.dataSync()[0];
      opt.dispose();
      tf.dispose([value, inputIds, attentionMask, labels, ...Object.values(grads)]);
      model.dispose();
      return { loss, gradArrays, delta, adamwNative };
    };
    const cpu = await step('cpu');
    const nat = await step('native');
    expect(nat.adamwNative).toBe(nat.delta.size);
    expect(cpu.adamwNative).toBe(0);
    // The loss and every gradient agree to float32 reassociation (sums in other orders: relative
    // 1e-4 over two layers of products, softmax and LayerNorm).
    expect(Math.abs(nat.loss - cpu.loss)).toBeLessThanOrEqual(1e-5 * Math.abs(cpu.loss));
    for (const [name, g] of cpu.gradArrays) expect(relErr(nat.gradArrays.get(name)!, g), name).toBeLessThanOrEqual(1e-4);
    // AdamW's first step moves each weight by about lr * g / |g|: where |g| is at rounding level the
    // sign may differ between backends (a move of up to 2 lr), nowhere else. So: every move within
    // 2 lr + rounding of the cpu backend's, at most 1% of them further than 1e-6 apart, and the moves
    // themselves of size about lr (the update happened).
    let far = 0, total = 0, sumAbs = 0;
    for (const [name, d] of cpu.delta) {
      const e = nat.delta.get(name)!;
      d.forEach((x, i) => {
        const diff = Math.abs(x - e[i]);
        expect(diff, name).toBeLessThanOrEqual(2 * lr + 1e-6);
        if (diff > 1e-6) far++;
        total++;
        sumAbs += Math.abs(e[i]);
      });
    }
    expect(far / total).toBeLessThan(0.01);
    expect(sumAbs / total).toBeGreaterThan(0.5 * lr);
  });
});
