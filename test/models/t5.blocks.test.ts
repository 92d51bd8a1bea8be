/**
 * What the NeuroPrune core sees of T5: gated MLP blocks (the gate's rows die with the neuron, and
 * the regularizers, sparsity counts and neuron degrees count the gate) and compaction of a T5,
 * checked against transformers with the same weights zeroed (scripts/make_t5_fixtures.py).
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { maxAbsDiff } from './helpers';
import * as os from 'node:os';
import { loadCheckpoint, saveModelDir, t5Architecture } from '../../src/checkpoint';
import { removeHeads } from '../../src/neuroprune';
import { loadNativeBlas } from '../../src/backend/kernels';
import type { T5Model } from '../../src/models/t5';
import type { Linear, MlpBlock } from '../../src/models/blocks';
import { attentionGroupL12Value, compactMlp, compactModel, mlpPreferentialL1Value, plainL1Value, sparsityReport } from '../../src/neuroprune';
import { mlpDegrees, neuronGraph } from '../../src/graph/neuronGraph';
import { mlp } from '../../src/models/layers';
import { exportParameters } from '../../src/models/parameters';

const nativeBuilt = loadNativeBlas().ok;
const DIR = path.join(__dirname, '..', 'fixtures', 'tiny-t5-v11');

interface Dead { stack: 'encoder' | 'decoder'; layer: number; what: 'wi_0' | 'wi_1' | 'wo' | 'qkv' | 'q' | 'kv'; index: number[] }
interface Reference {
  input_ids: number[][]; attention_mask: number[][]; decoder_input_ids: number[][]; decoder_attention_mask: number[][];
  dead: Dead[]; dead_logits: number[][][];
}

const measured: string[] = [];
afterAll(() => { if (measured.length) console.log(measured.join('\n')); });

function load() {
  const ref = JSON.parse(fs.readFileSync(path.join(DIR, 'reference.json'), 'utf8')) as Reference;
  const model = loadCheckpoint(DIR).model as unknown as T5Model;
  const int = (x: number[][]) => tf.tensor2d(x, undefined, 'int32');
  const inputs = {
    inputIds: int(ref.input_ids), attentionMask: int(ref.attention_mask),
    decoderInputIds: int(ref.decoder_input_ids), decoderAttentionMask: int(ref.decoder_attention_mask),
  };
  return { model, ref, inputs, release: () => tf.dispose(Object.values(inputs)) };
}

/** Zeroes rows (axis 0) or columns (axis 1) of a weight in place. */
function zero(l: Linear, index: number[], axis: 0 | 1): void {
  const [r, c] = l.weight.shape;
  const keep = tf.tidy(() => {
    const n = axis === 0 ? r : c;
    const m = tf.sub(1, tf.sum(tf.oneHot(index, n), 0));
    return tf.mul(l.weight, axis === 0 ? m.reshape([n, 1]) : m.reshape([1, n]));
  });
  l.weight.assign(keep);
  keep.dispose();
}

function applyDead(model: T5Model, dead: Dead[]): void {
  const mlps = model.mlpBlocks();
  for (const d of dead) {
    if (d.what === 'qkv' || d.what === 'q' || d.what === 'kv') {
      const block = model.attentionBlocks().find((b) => b.stack === d.stack && b.kind === 'cross' && b.layer === d.layer)!;
      const maps = { qkv: [block.query, block.key, block.value], q: [block.query], kv: [block.key, block.value] }[d.what];
      for (const l of maps) zero(l, d.index, 1);
      continue;
    }
    const block = mlps.find((b) => b.stack === d.stack && b.layer === d.layer)!;
    if (d.what === 'wo') zero(block.output, d.index, 1);
    else zero(d.what === 'wi_0' ? block.gate! : block.input, d.index, 0);
  }
}

/** Eq. 1's term of one map, from plain numbers: `sum_i frac(|W[i, :]| < eps) * sum_j |W[i, j]|`. */
function preferential(w: tf.Tensor, eps: number): number {
  const [rows, cols] = w.shape;
  const a = w.dataSync();
  let total = 0;
  for (let i = 0; i < rows; i++) {
    let small = 0, sum = 0;
    for (let j = 0; j < cols; j++) {
      const v = Math.abs(a[i * cols + j]);
      if (v < Math.fround(eps)) small++;
      sum += v;
    }
    total += (small / cols) * sum;
  }
  return total;
}

for (const backend of ['native', 'wasm', 'cpu'] as const) {
  describe.skipIf(backend === 'native' && !nativeBuilt)(`T5 blocks on ${backend}`, () => {
    it('compacting a T5 v1.1 with dead gate rows, input rows, output columns and cross-attention inputs equals transformers with them zeroed', async () => {
      await initBackend({ force: backend });
      const before = tf.memory().numTensors;
      const { model, ref, inputs, release } = load();
      applyDead(model, ref.dead);
      const masked = model.forward(inputs).logits;
      const maskedDiff = maxAbsDiff(masked, ref.dead_logits);
      const attentionSpecs = model.parameterTable.filter((s) => s.role?.block === 'attention');
      const named = model.namedParameters();
      const denseBefore = new Map(attentionSpecs.map((s) => [s.name, Array.from(named.get(s.name)!.dataSync())]));
      const result = compactModel(model);
      const widths = model.mlpBlocks().map((b) => `${b.stack}${b.layer}:${b.input.weight.shape[0]}/${b.gate!.weight.shape[0]}/${b.output.weight.shape[1]}`);
      expect(widths).toEqual(['encoder0:28/28/28', 'encoder1:29/29/29', 'decoder0:29/29/29', 'decoder1:32/32/32', 'decoder2:28/28/28']);
      // Neurons removed for a dead gate or input row (nothing to fold in a gated MLP), the rest for a dead output column.
      expect(result.mlp.map((m) => m.folded)).toEqual([4, 3, 0, 0, 3]);
      // Cross-attention: Q's (decoder) and K/V's (encoder) input dimensions are removed separately.
      const without = (gone: number[]) => Array.from({ length: 16 }, (_, j) => j).filter((j) => !gone.includes(j));
      const cross = model.attentionBlocks().filter((b) => b.kind === 'cross').map((b) => [b.inputIndex, b.contextInputIndex ?? null]);
      expect(cross).toEqual([[without([0, 9]), null], [without([3, 7, 15]), without([3, 7, 15])], [null, without([4, 5, 12])]]);
      expect(model.attentionBlocks().filter((b) => b.kind === 'self').every((b) => b.inputIndex === null)).toBe(true);
      // The dense export puts every kept Q/K/V column back at its own stream's dimension.
      const exported = new Map(exportParameters(model, true).map(({ tensor }) => [tensor.name, tensor.data]));
      // Exactly (zeroing by a product leaves -0 where the export writes +0: compared as numbers).
      for (const [name, values] of denseBefore) expect(maxAbsDiff(exported.get(name)!, values), name).toBe(0);
      const compacted = model.forward(inputs).logits;
      const diff = maxAbsDiff(compacted, ref.dead_logits);
      measured.push(`compaction tiny-t5-v11 on ${backend}: max|diff| logits masked ${maskedDiff.toExponential(2)}, compacted ${diff.toExponential(2)}`);
      expect(maskedDiff).toBeLessThanOrEqual(1e-4);
      expect(diff).toBeLessThanOrEqual(1e-4);
      tf.dispose([masked, compacted]);
      release();
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  });
}

describe('gated MLP blocks in the core', () => {
  it('R_mlp, plain l1, the sparsity report and the neuron degrees count the gate as a third map', async () => {
    await initBackend({ force: 'cpu' });
    const { model, release } = load();
    const block: MlpBlock = model.mlpBlocks()[0];
    // Small weights, so that the preferential weights (fractions below eps) are not all zero.
    const eps = 0.2;
    zero(block.gate!, [1, 2], 0);
    const maps = [block.gate!, block.input, block.output].map((l) => l.weight);
    const expected = maps.reduce((s, w) => s + preferential(w, eps), 0);
    const withoutGate = maps.slice(1).reduce((s, w) => s + preferential(w, eps), 0);
    expect(expected - withoutGate).toBeGreaterThan(0.1);
    for (const implementation of ['ops', 'fused'] as const) {
      const got = mlpPreferentialL1Value([block], { eps, implementation });
      expect(Math.abs(got - expected), implementation).toBeLessThanOrEqual(1e-4 * expected);
    }
    const l1 = maps.reduce((s, w) => s + (Array.from(w.dataSync()) as number[]).reduce((a, v) => a + Math.abs(v), 0), 0);
    expect(Math.abs(plainL1Value([], [block]) - l1)).toBeLessThanOrEqual(1e-4 * l1);

    const [de, d] = block.input.weight.shape;
    const report = sparsityReport(model);
    const entry = report.blocks.find((b) => b.kind === 'mlp' && b.name === block.name)!;
    expect(entry.total).toBe(3 * de * d);
    const small = maps.reduce((s, w) => s + Array.from(w.dataSync()).filter((v) => Math.abs(v) < Math.fround(1e-4)).length, 0);
    expect(small).toBeGreaterThanOrEqual(2 * d);
    expect(entry.zero).toBe(small);

    const deg = mlpDegrees(block, { eps: 1e-12 });
    expect(Array.from(deg.hiddenIn.slice(0, 4))).toEqual([2 * d, d, d, 2 * d]);
    expect(deg.edges).toBe(3 * de * d - 2 * d);
    expect(deg.density).toBeCloseTo((3 * de * d - 2 * d) / (3 * de * d), 10);
    expect(() => neuronGraph(block)).toThrow(/gated MLP/);
    release();
    model.dispose();
  });
});

describe('compacting a gated MLP with biases', () => {
  it('removes a neuron only when its product is zero for every input, and keeps the block\'s output', async () => {
    await initBackend({ force: 'cpu' });
    const d = 5, de = 6;
    const v = (t: tf.Tensor, name: string) => { const x = tf.variable(t, true, `${name}_gated_${Math.random()}`); t.dispose(); return x; };
    const rows = (w: tf.Tensor, idx: number[]) => tf.tidy(() => tf.mul(w, tf.sub(1, tf.sum(tf.oneHot(idx, de), 0)).reshape([de, 1])));
    const biasAt = (idx: number[], value: number) => tf.tidy(() => tf.mul(tf.sum(tf.oneHot(idx, de), 0), value));
    // Neuron 0: gate row and gate bias zero (dead). 1: gate row zero, gate bias 0.7 (emits gelu(0.7) * input(x): alive).
    // 2: input row and input bias zero (dead). 3: input row zero, input bias -0.4 (emits act(gate(x)) * -0.4: alive).
    // 4: output column zero (dead). 5: untouched.
    const block: MlpBlock = {
      name: 'gated', stack: 'decoder', kind: 'mlp', layer: 0, activation: 'gelu_new',
      gate: { weight: v(rows(tf.randomNormal([de, d], 0, 1, 'float32', 1), [0, 1]), 'g'), bias: v(biasAt([1], 0.7), 'gb') },
      input: { weight: v(rows(tf.randomNormal([de, d], 0, 1, 'float32', 2), [2, 3]), 'i'), bias: v(biasAt([3], -0.4), 'ib') },
      output: { weight: v(tf.tidy(() => tf.mul(tf.randomNormal([d, de], 0, 1, 'float32', 3), tf.sub(1, tf.oneHot([4], de)))), 'o'), bias: v(tf.randomNormal([d], 0, 1, 'float32', 4), 'ob') },
    };
    const x = tf.randomNormal([7, d], 0, 1, 'float32', 5);
    const y0 = mlp(block, x);
    const result = compactMlp(block);
    expect(result.kept).toEqual([1, 3, 5]);
    expect(block.gate!.weight.shape).toEqual([3, d]);
    expect(block.gate!.bias!.shape).toEqual([3]);
    const y1 = mlp(block, x);
    expect(maxAbsDiff(y1, Array.from(y0.dataSync()))).toBeLessThanOrEqual(1e-6);
    tf.dispose([x, y0, y1, ...[block.gate!, block.input, block.output].flatMap((l) => [l.weight, l.bias!])]);
  });
});

describe('R_attn on a cross-attention', () => {
  it('groups Q\'s input columns (decoder stream) and K/V\'s input columns (encoder stream) separately', async () => {
    const { model, release } = load();
    const colAbs = (ws: tf.Tensor[]) => {
      const [, cols] = ws[0].shape;
      const out = new Float64Array(cols);
      for (const w of ws) w.dataSync().forEach((v, i) => { out[i % cols] += Math.abs(v); });
      return out;
    };
    const groups = (sums: Float64Array, delta: number) => Array.from(sums).reduce((s, x) => s + Math.sqrt(x + delta), 0);
    const delta = 1e-3;
    for (const backend of ['cpu', 'wasm'] as const) {
      await initBackend({ force: backend });
      const cross = model.attentionBlocks().find((b) => b.kind === 'cross')!;
      const self = model.attentionBlocks().find((b) => b.kind === 'self')!;
      const separate = groups(colAbs([cross.query.weight]), delta) + groups(colAbs([cross.key.weight, cross.value.weight]), delta);
      const joint = groups(colAbs([cross.query.weight, cross.key.weight, cross.value.weight]), delta);
      expect(separate - joint).toBeGreaterThan(1);
      expect(Math.abs(attentionGroupL12Value([cross], { delta }) - separate)).toBeLessThanOrEqual(1e-4 * separate);
      // Self-attention keeps the joint Q/K/V groups.
      const selfJoint = groups(colAbs([self.query.weight, self.key.weight, self.value.weight]), delta);
      expect(Math.abs(attentionGroupL12Value([self], { delta }) - selfJoint)).toBeLessThanOrEqual(1e-4 * selfJoint);
    }
    release();
    model.dispose();
  });
});

describe('saving a pruned and compacted T5 dense', () => {
  it('reloads through the loader with the logits of the pruned model', async () => {
    await initBackend({ force: 'cpu' });
    const { model, ref, inputs, release } = load();
    applyDead(model, ref.dead);
    const blocks = model.attentionBlocks();
    // Head 1 of the encoder's layer 0 merged into head 0; heads 2 and 3 of a cross-attention dropped.
    removeHeads(blocks[0], [0, 0, 2, 3]);
    removeHeads(blocks.find((b) => b.kind === 'cross' && b.layer === 2)!, [0, 1, 0, 0], { merge: false });
    compactModel(model);
    const expected = model.forward(inputs).logits;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't5-dense-'));
    saveModelDir(t5Architecture, model, dir, { dense: true });
    const reloaded = loadCheckpoint(dir).model as unknown as T5Model;
    expect(reloaded.mlpBlocks().every((b) => b.input.weight.shape[0] === 32 && b.gate!.weight.shape[0] === 32)).toBe(true);
    const got = reloaded.forward(inputs).logits;
    expect(maxAbsDiff(got, Array.from(expected.dataSync()))).toBeLessThanOrEqual(1e-5);
    tf.dispose([expected, got]);
    reloaded.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
    release();
    model.dispose();
  });
});
