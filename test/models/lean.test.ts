import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { loadNativeBlas } from '../../src/backend/kernels';
import { BertForSequenceClassification, bertLoss } from '../../src/models/bert';
import { tinyBertConfig } from '../train/tinyBert';
import * as lean from '../../src/models/lean';
import { activate, activationGrad } from '../../src/models/layers';
import { dropout } from '../../src/backend/kernels/dropout';
import { values } from '../backend/values';

interface TapeNode { saved?: tf.Tensor[] }
interface TapeEngine { startTape(): void; endTape(): void; tidy<T extends tf.TensorContainer>(name: string, f: () => T): T; state: { activeTape: TapeNode[] | null } }

/**
 * The distinct buffers the tape keeps for the backward pass while `f` runs (what
 * `engine.gradients` would hold until its backward pass), except those of `exclude` (the inputs,
 * alive anyway). Returns their shapes.
 */
function savedBuffers(f: () => tf.Tensor, exclude: tf.Tensor[] = []): number[][] {
  const engine = tf.engine() as unknown as TapeEngine;
  engine.startTape();
  let out: tf.Tensor | undefined;
  try {
    out = engine.tidy('forward', f);
  } finally {
    engine.endTape();
  }
  const tape = engine.state.activeTape ?? [];
  engine.state.activeTape = null;
  const skip = new Set(exclude.map((t) => t.dataId));
  const seen = new Map<object, number[]>();
  for (const node of tape) {
    for (const t of node.saved ?? []) {
      if (!skip.has(t.dataId) && !seen.has(t.dataId)) seen.set(t.dataId, t.shape);
      t.dispose();
    }
  }
  out?.dispose();
  return [...seen.values()];
}

function t(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(values(shape.reduce((a, b) => a * b, 1), seed), shape);
}

/** Value and gradients of `sum(f(...xs) * w)` (a fixed random weighting), for comparing two versions of an op. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: tf.Tensor[]): Float32Array[] {
  return tf.tidy(() => {
    const y = f(...xs);
    const w = t(y.shape, 77);
    const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(...a), w)))(xs);
    return [y, ...grads].map((g) => g.dataSync() as Float32Array);
  });
}

function expectSame(a: Float32Array[], b: Float32Array[], tol: number): void {
  expect(a.length).toBe(b.length);
  a.forEach((x, i) => {
    expect(x.length).toBe(b[i].length);
    let max = 0;
    x.forEach((v, j) => { max = Math.max(max, Math.abs(v - b[i][j])); });
    expect(max, `output ${i}`).toBeLessThanOrEqual(tol);
  });
}

beforeAll(async () => { await initBackend({ force: 'cpu' }); });

for (const backend of ['cpu', 'wasm', 'native'] as const) describe.skipIf(backend === 'native' && !loadNativeBlas().ok)(`lean ops on ${backend}`, () => {
  beforeAll(async () => { await initBackend({ force: backend }); });
  afterAll(async () => { await initBackend({ force: 'cpu' }); });

  it('add (broadcasting either way), addConstant, scale and reshape equal the plain ops, values and gradients', () => {
    const a = t([2, 3, 4, 5], 1), b = t([3, 1, 5], 2), c = t([2, 1, 1, 5], 3);
    expectSame(valueAndGrads(lean.add, [a, b]), valueAndGrads(tf.add, [a, b]), 0);
    expectSame(valueAndGrads(lean.add, [b, a]), valueAndGrads(tf.add, [b, a]), 0);
    expectSame(valueAndGrads((x) => lean.addConstant(x, c), [a]), valueAndGrads((x) => tf.add(x, c), [a]), 0);
    expectSame(valueAndGrads((x) => lean.scale(x, 0.125), [a]), valueAndGrads((x) => tf.mul(x, 0.125), [a]), 0);
    expectSame(valueAndGrads((x) => lean.reshape(x, [6, 20]), [a]), valueAndGrads((x) => tf.reshape(x, [6, 20]), [a]), 0);
    tf.dispose([a, b, c]);
  });

  it('linear2d equals the fused product with and without bias, values and gradients', () => {
    const x = t([7, 6], 4), w = t([5, 6], 5), bias = t([5], 6);
    const plain = (xx: tf.Tensor, ww: tf.Tensor, bb?: tf.Tensor) => tf.add(tf.matMul(xx, ww, false, true), bb ?? 0);
    expectSame(valueAndGrads((xx, ww, bb) => lean.linear2d(xx as tf.Tensor2D, ww as tf.Tensor2D, bb), [x, w, bias]), valueAndGrads(plain, [x, w, bias]), 2e-6);
    expectSame(valueAndGrads((xx, ww) => lean.linear2d(xx as tf.Tensor2D, ww as tf.Tensor2D), [x, w]), valueAndGrads((xx, ww) => plain(xx, ww), [x, w]), 2e-6);
    tf.dispose([x, w, bias]);
  });

  it('activatedLinear2d equals act then the product (gelu, gelu_new, relu), and dropoutMatMul equals dropout then the product', () => {
    const x = t([9, 6], 8), w = t([5, 6], 9), bias = t([5], 10);
    for (const act of ['gelu', 'gelu_new', 'relu'] as const) {
      const ours = valueAndGrads((xx, ww, bb) => lean.activatedLinear2d(xx as tf.Tensor2D, ww as tf.Tensor2D, bb, (z) => activate(z, act), (z, dy) => activationGrad(z, dy, act)), [x, w, bias]);
      const plain = valueAndGrads((xx, ww, bb) => tf.add(tf.matMul(activate(xx, act), ww, false, true), bb), [x, w, bias]);
      expectSame(ours, plain, 2e-6);
    }
    const p = tf.softmax(t([2, 3, 7, 7], 11)), v = t([2, 3, 7, 4], 12);
    const ours = valueAndGrads((pp, vv) => lean.dropoutMatMul(pp, vv, 0.25, 1234), [p, v]);
    const plain = valueAndGrads((pp, vv) => tf.matMul(dropout(pp, 0.25, 1234), vv), [p, v]);
    expectSame(ours, plain, 1e-6);
    // The mask is the seed's: another seed gives another product.
    expect(ours[0]).not.toEqual(valueAndGrads((pp, vv) => lean.dropoutMatMul(pp, vv, 0.25, 99), [p, v])[0]);
    tf.dispose([x, w, bias, p, v]);
  });

  it('saves only what the backward pass reads', () => {
    const a = t([2, 3, 4, 5], 1), b = t([3, 1, 5], 2), x = t([7, 6], 4), w = t([5, 6], 5), bias = t([5], 6);
    // The plain ops keep buffers that nothing reads: the sum's inputs are excluded as alive anyway,
    // so what shows is a product's output (fused.matMul) and the input of a reshape of a new tensor.
    expect(savedBuffers(() => tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, transposeB: true, bias }), [x, w, bias])).toEqual([[1, 7, 5]]);
    // (`Mul` also keeps its scalar factor.)
    expect(savedBuffers(() => tf.reshape(tf.mul(a, 2), [6, 20]), [a])).toEqual([[], [2, 3, 4, 5]]);
    expect(savedBuffers(() => tf.add(tf.mul(a, 2), b), [a, b])).toEqual([[], [2, 3, 4, 5]]);
    expect(savedBuffers(() => lean.linear2d(x as tf.Tensor2D, w as tf.Tensor2D, bias), [x, w, bias])).toEqual([]);
    expect(savedBuffers(() => lean.reshape(lean.scale(a, 2), [6, 20]), [a])).toEqual([]);
    expect(savedBuffers(() => lean.add(lean.scale(a, 2), b), [a, b])).toEqual([]);
    expect(savedBuffers(() => lean.addConstant(lean.scale(a, 2), b), [a, b])).toEqual([]);
    // The activation and the dropped probabilities are recomputed, not kept.
    const g = (z: tf.Tensor) => activate(z, 'gelu');
    expect(savedBuffers(() => tf.matMul(g(x), w, false, true), [x, w])).toContainEqual([7, 6]);
    expect(savedBuffers(() => lean.activatedLinear2d(x as tf.Tensor2D, w as tf.Tensor2D, bias, g, (z, dy) => activationGrad(z, dy, 'gelu')), [x, w, bias])).toEqual([]);
    const p = t([2, 3, 4, 4], 13), v = t([2, 3, 4, 5], 14);
    expect(savedBuffers(() => tf.matMul(dropout(p, 0.1, 7), v), [p, v])).toEqual([[2, 3, 4, 4]]);
    expect(savedBuffers(() => lean.dropoutMatMul(p, v, 0.1, 7), [p, v])).toEqual([]);
    tf.dispose([a, b, x, w, bias, p, v]);
  });
});

// Where the fused GELU, softmax and LayerNorm kernels exist (the backends that train).
for (const backend of ['wasm', 'native'] as const) describe.skipIf(backend === 'native' && !loadNativeBlas().ok)(`saved activations on ${backend}`, () => {
  beforeAll(async () => { await initBackend({ force: backend }); });
  afterAll(async () => { await initBackend({ force: 'cpu' }); });

  it('a BERT training forward keeps 16 floats per token, layer and unit of width (was 37), for this shape', () => {
    // hidden 16, 4 heads, MLP 64, T 16: what a layer saves is, in units of hidden per token,
    // the input (1), q, k, v (3), the probabilities (heads*T/hidden = 4; the dropped ones are
    // redrawn), the context (1), two LayerNorm inputs and the first's output (3), the MLP's
    // pre-activation (4; the activation is recomputed) = 16; weights are not counted. PyTorch's
    // autograd keeps about 25 for the same layer (it also keeps the dropped probabilities, the
    // activation and the dropout masks).
    const cfg = tinyBertConfig(50, { hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 64, max_position_embeddings: 16 });
    const model = BertForSequenceClassification.random(cfg, { seed: 1 });
    const [batch, seq] = [3, 16];
    const inputIds = tf.tensor2d(Array.from({ length: batch * seq }, (_, i) => 1 + (i * 7) % 49), [batch, seq], 'int32');
    const attentionMask = tf.ones([batch, seq], 'int32') as tf.Tensor2D;
    const labels = tf.tensor1d([0, 1, 1], 'int32');
    const params = [...model.namedParameters().values()];
    const saved = savedBuffers(() => bertLoss(model, model.forward({ inputIds, attentionMask }, { training: true, dropoutSeed: 1 }).logits, labels), params);
    const floats = saved.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
    const perTokenLayerWidth = floats / (batch * seq * cfg.num_hidden_layers * cfg.hidden_size);
    console.log(`BERT forward under a tape: ${perTokenLayerWidth.toFixed(2)} floats saved per token, layer and unit of width`);
    // The embeddings' LayerNorm input and output, the pooler and the loss add a little.
    expect(perTokenLayerWidth).toBeGreaterThanOrEqual(16);
    expect(perTokenLayerWidth).toBeLessThan(18);
    tf.dispose([inputIds, attentionMask, labels]);
    model.dispose();
  });
});
