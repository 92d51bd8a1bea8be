/**
 * T5 (`T5ForConditionalGeneration`, v1.0 and v1.1 layouts) against transformers 4.57 (fixtures:
 * scripts/make_t5_fixtures.py): encoder and decoder hidden states and logits within 1e-4 on
 * every backend, with padding in both batches, and the loss of the labels and the gradient of
 * every parameter through one training step.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { expectGradientsMatch, maxAbsDiff } from './helpers';
import { loadCheckpoint } from '../../src/checkpoint';
import { loadNativeBlas } from '../../src/backend/kernels';
import { relativePositionBucket, type T5Model } from '../../src/models/t5';
import { tokenNll } from '../../src/models/losses';
import { removeHeads } from '../../src/neuroprune';
import type { AttentionBlock } from '../../src/models/blocks';

const nativeBuilt = loadNativeBlas().ok;
const FIXTURES = path.join(__dirname, '..', 'fixtures');

interface Reference {
  input_ids: number[][];
  attention_mask: number[][];
  decoder_input_ids: number[][];
  decoder_attention_mask: number[][];
  labels: number[][];
  encoder_hidden_states: number[][][][];
  decoder_hidden_states: number[][][][];
  logits: number[][][];
  loss: number;
  grads: Record<string, number[]>;
  pruned_heads?: Record<string, number[]>;
  pruned_logits?: number[][][];
  masked_decoder_heads?: Record<'self' | 'cross', Record<string, number[]>>;
  masked_logits?: number[][][];
}

const measured: string[] = [];
afterAll(() => { if (measured.length) console.log(measured.join('\n')); });

const FIXTURE_NAMES = ['tiny-t5', 'tiny-t5-v11'];

function load(fixture: string) {
  const dir = path.join(FIXTURES, fixture);
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as Reference;
  const { model } = loadCheckpoint(dir);
  const int = (x: number[][]) => tf.tensor2d(x, undefined, 'int32');
  const inputs = {
    inputIds: int(ref.input_ids), attentionMask: int(ref.attention_mask),
    decoderInputIds: int(ref.decoder_input_ids), decoderAttentionMask: int(ref.decoder_attention_mask),
  };
  return { model: model as unknown as T5Model, ref, inputs, release: () => tf.dispose(Object.values(inputs)) };
}

/** Hugging Face's loss: mean cross-entropy over the label positions that are not padding (-100). */
/** Removes the given original heads from a block outright (no merge): the masked reference's reading. */
function dropHeads(block: AttentionBlock, heads: number[]): void {
  const survivor = block.headIds.findIndex((h) => !heads.includes(h));
  removeHeads(block, block.headIds.map((h, i) => (heads.includes(h) ? survivor : i)), { merge: false });
}

/** Logits of the batch after a structural change, checked against a transformers reference within 1e-4. */
function expectLogits(model: T5Model, inputs: Parameters<T5Model['forward']>[0], expected: number[][][], label: string): void {
  const { logits } = model.forward(inputs);
  const diff = maxAbsDiff(logits, expected);
  measured.push(`${label}: max|diff| logits ${diff.toExponential(2)}`);
  expect(diff).toBeLessThanOrEqual(1e-4);
  logits.dispose();
}

function labelLoss(logits: tf.Tensor3D, labels: number[][], mask: number[][]): tf.Scalar {
  return tf.tidy(() => {
    const [b, t, v] = logits.shape;
    const nll = tokenNll(logits.reshape([b * t, v]) as tf.Tensor2D, tf.tensor1d(labels.flat(), 'int32'));
    const w = tf.tensor1d(mask.flat(), 'float32');
    return tf.div(tf.sum(tf.mul(nll, w)), tf.sum(w)) as tf.Scalar;
  });
}

describe('T5 relative position buckets', () => {
  // Tables printed by transformers 4.57: T5Attention._relative_position_bucket(r, bidirectional, buckets, max_distance).
  const rel = Array.from({ length: 41 }, (_, i) => i - 20);
  const wide = Array.from({ length: 86 }, (_, i) => -300 + 7 * i);
  const cases: [string, number[], boolean, number, number, number[]][] = [
    ['encoder, 32 buckets, 128', rel, true, 32, 128, [10, 10, 10, 10, 10, 9, 9, 9, 9, 8, 8, 8, 8, 7, 6, 5, 4, 3, 2, 1, 0, 17, 18, 19, 20, 21, 22, 23, 24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26, 26]],
    ['decoder, 32 buckets, 128', rel, false, 32, 128, [17, 17, 16, 16, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    ['encoder, 8 buckets, 12', rel, true, 8, 12, [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 1, 0, 5, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]],
    ['decoder, 8 buckets, 12', rel, false, 8, 12, [7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 6, 6, 6, 5, 4, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]],
    ['encoder, 32 buckets, 128, distances to 300', wide, true, 32, 128, [...Array(30).fill(15), 14, 14, 14, 14, 13, 13, 13, 12, 12, 11, 10, 9, 6, 17, 24, 25, 26, 27, 28, 28, 29, 29, 30, 30, 30, 30, ...Array(30).fill(31)]],
  ];
  for (const [label, positions, bidirectional, buckets, maxDistance, expected] of cases) {
    it(`${label}: as transformers computes them`, () => {
      expect(positions.map((r) => relativePositionBucket(r, bidirectional, buckets, maxDistance))).toEqual(expected);
    });
  }
});

for (const backend of ['native', 'wasm', 'cpu'] as const) {
  describe.skipIf(backend === 'native' && !nativeBuilt)(`T5 on ${backend}`, () => {
    for (const fixture of FIXTURE_NAMES) {
      it(`${fixture}: encoder and decoder hidden states and logits within 1e-4 of transformers`, async () => {
        await initBackend({ force: backend });
        expect(tf.getBackend()).toBe(backend);
        const before = tf.memory().numTensors;
        const { model, ref, inputs, release } = load(fixture);
        const out = model.forward(inputs, { outputHiddenStates: true });
        const enc = out.encoderHiddenStates!;
        const dec = out.decoderHiddenStates!;
        expect(enc.length).toBe(ref.encoder_hidden_states.length);
        expect(dec.length).toBe(ref.decoder_hidden_states.length);
        const encDiff = Math.max(...enc.map((h, i) => maxAbsDiff(h, ref.encoder_hidden_states[i])));
        const decDiff = Math.max(...dec.map((h, i) => maxAbsDiff(h, ref.decoder_hidden_states[i])));
        const logitDiff = maxAbsDiff(out.logits, ref.logits);
        measured.push(`parity ${fixture} on ${backend}: max|diff| encoder ${encDiff.toExponential(2)}, decoder ${decDiff.toExponential(2)}, logits ${logitDiff.toExponential(2)}`);
        expect(encDiff).toBeLessThanOrEqual(1e-4);
        expect(decDiff).toBeLessThanOrEqual(1e-4);
        expect(logitDiff).toBeLessThanOrEqual(1e-4);
        tf.dispose([out.logits, ...enc, ...dec]);
        release();
        model.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });

      it(`${fixture}: loss and every parameter's gradient as PyTorch computes them`, async () => {
        await initBackend({ force: backend });
        const before = tf.memory().numTensors;
        const { model, ref, inputs, release } = load(fixture);
        const named = model.namedParameters();
        const { value, grads } = tf.variableGrads(() => {
          const { logits } = model.forward(inputs, { training: true });
          return labelLoss(logits, ref.labels, ref.decoder_attention_mask);
        }, [...named.values()]);
        const lossDiff = Math.abs(value.dataSync()[0] - ref.loss);
        expect(lossDiff).toBeLessThanOrEqual(1e-5);
        const byVariable = new Map([...named].map(([name, v]) => [v.name, name]));
        const mine = new Map(Object.entries(grads).map(([vname, g]) => [byVariable.get(vname)!, g.dataSync() as Float32Array]));
        const worst = expectGradientsMatch(mine, ref.grads);
        measured.push(`gradients ${fixture} on ${backend}: loss diff ${lossDiff.toExponential(2)}, max over tensors of max|diff|/max|g| ${worst.toExponential(2)}`);
        tf.dispose([value, ...Object.values(grads)]);
        release();
        model.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });
    }

    it('tiny-t5 with encoder heads removed equals transformers after prune_heads (position bias read per surviving head)', async () => {
      await initBackend({ force: backend });
      const before = tf.memory().numTensors;
      const { model, ref, inputs, release } = load('tiny-t5');
      const encoder = model.attentionBlocks().filter((b) => b.stack === 'encoder');
      for (const [layer, heads] of Object.entries(ref.pruned_heads!)) dropHeads(encoder[Number(layer)], heads);
      expect(encoder.map((b) => b.headIds)).toEqual([[1, 3], [0, 2, 3]]);
      expectLogits(model, inputs, ref.pruned_logits!, `parity tiny-t5 encoder heads pruned on ${backend}`);
      release();
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });

    it('tiny-t5 with decoder self- and cross-attention heads removed equals transformers with those heads masked', async () => {
      await initBackend({ force: backend });
      const { model, ref, inputs, release } = load('tiny-t5');
      for (const kind of ['self', 'cross'] as const) {
        const blocks = model.attentionBlocks().filter((b) => b.stack === 'decoder' && b.kind === kind);
        for (const [layer, heads] of Object.entries(ref.masked_decoder_heads![kind])) dropHeads(blocks[Number(layer)], heads);
      }
      const heads = model.attentionBlocks().filter((b) => b.stack === 'decoder').map((b) => `${b.kind}${b.layer}:${b.headIds.join('')}`);
      expect(heads).toEqual(['self0:012', 'cross0:0123', 'self1:0123', 'cross1:013', 'self2:23', 'cross2:02']);
      expectLogits(model, inputs, ref.masked_logits!, `parity tiny-t5 decoder heads removed on ${backend}`);
      release();
      model.dispose();
    });
  });
}

describe('T5 configs the loader refuses, naming the file and the field', () => {
  const withConfig = (edit: (c: Record<string, unknown>) => void): string => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 't5-config-'));
    fs.cpSync(path.join(FIXTURES, 'tiny-t5'), dir, { recursive: true });
    const file = path.join(dir, 'config.json');
    const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
    edit(c);
    fs.writeFileSync(file, JSON.stringify(c));
    return dir;
  };
  const cases: [string, (c: Record<string, unknown>) => void, RegExp][] = [
    ['pruned_heads naming a head beyond num_heads', (c) => { c.pruned_heads = { 0: [4] }; }, /config\.json.*'pruned_heads'.*head indices in 0\.\.3/s],
    ['an unknown activation', (c) => { c.feed_forward_proj = 'gated-swish'; }, /config\.json.*'feed_forward_proj'.*'swish' is not supported/s],
    ['a missing d_kv', (c) => { delete c.d_kv; }, /config\.json.*'d_kv' is missing/s],
  ];
  for (const [label, edit, message] of cases) {
    it(label, () => {
      const dir = withConfig(edit);
      try {
        expect(() => loadCheckpoint(dir)).toThrow(message);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
