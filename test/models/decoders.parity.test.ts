/**
 * OPT and GPT-2 against transformers 4.57 (fixtures: scripts/make_decoder_fixtures.py): hidden
 * states and logits within 1e-4 on every backend, and the task loss and the gradient of every
 * parameter through one training step.
 */
import * as path from 'node:path';
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { expectGradientsMatch, maxAbsDiff } from './helpers';
import { loadCheckpoint, toFileLayout } from '../../src/checkpoint';
import { loadNativeBlas } from '../../src/backend/kernels';
import type { DecoderModel } from '../../src/models/decoder';
import { causalLmLoss, sequenceClassificationLoss } from '../../src/models/losses';
import { removeHeads } from '../../src/neuroprune';

const nativeBuilt = loadNativeBlas().ok;
const FIXTURES = path.join(__dirname, '..', 'fixtures');

interface Reference {
  input_ids: number[][];
  attention_mask: number[][];
  labels?: number[];
  hidden_states: number[][][][];
  logits: number[][] | number[][][];
  loss: number;
  grads: Record<string, number[]>;
  masked_heads?: Record<string, number[]>;
  masked_logits?: number[][][];
}


const measured: string[] = [];
afterAll(() => { if (measured.length) console.log(measured.join('\n')); });

const FIXTURE_NAMES = ['tiny-opt', 'tiny-opt-proj', 'tiny-opt-cls', 'tiny-gpt2', 'tiny-gpt2-cls', 'tiny-gpt2-pruned'];

function load(fixture: string): { model: DecoderModel; ref: Reference; inputIds: tf.Tensor2D; attentionMask: tf.Tensor2D } {
  const dir = path.join(FIXTURES, fixture);
  const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as Reference;
  const { model } = loadCheckpoint(dir);
  return {
    model: model as unknown as DecoderModel,
    ref,
    inputIds: tf.tensor2d(ref.input_ids, undefined, 'int32'),
    attentionMask: tf.tensor2d(ref.attention_mask, undefined, 'int32'),
  };
}

for (const backend of ['native', 'wasm', 'cpu'] as const) {
  describe.skipIf(backend === 'native' && !nativeBuilt)(`decoders on ${backend}`, () => {
    for (const fixture of FIXTURE_NAMES) {
      it(`${fixture}: hidden states and logits within 1e-4 of transformers`, async () => {
        await initBackend({ force: backend });
        expect(tf.getBackend()).toBe(backend);
        const before = tf.memory().numTensors;
        const { model, ref, inputIds, attentionMask } = load(fixture);
        if (fixture === 'tiny-gpt2-pruned') expect(model.attentionBlocks().map((b) => b.headIds)).toEqual([[0, 3], [1, 2, 3]]);
        const out = model.forward({ inputIds, attentionMask }, { outputHiddenStates: true });
        const hs = out.hiddenStates!;
        expect(hs.length).toBe(ref.hidden_states.length);
        const hiddenDiff = Math.max(...hs.map((h, i) => maxAbsDiff(h, ref.hidden_states[i])));
        const logitDiff = maxAbsDiff(out.logits, ref.logits);
        measured.push(`parity ${fixture} on ${backend}: max|diff| hidden ${hiddenDiff.toExponential(2)}, logits ${logitDiff.toExponential(2)}`);
        expect(hiddenDiff).toBeLessThanOrEqual(1e-4);
        expect(logitDiff).toBeLessThanOrEqual(1e-4);
        tf.dispose([inputIds, attentionMask, out.logits, ...hs]);
        model.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });

      it(`${fixture}: loss and every parameter's gradient as PyTorch computes them`, async () => {
        await initBackend({ force: backend });
        const before = tf.memory().numTensors;
        const { model, ref, inputIds, attentionMask } = load(fixture);
        const labels = ref.labels ? tf.tensor1d(ref.labels, 'int32') : null;
        const named = model.namedParameters();
        const { value, grads } = tf.variableGrads(() => {
          const { logits } = model.forward({ inputIds, attentionMask }, { training: true });
          return labels
            ? sequenceClassificationLoss(logits as tf.Tensor2D, labels, { problemType: 'single_label_classification' })
            : causalLmLoss(logits as tf.Tensor3D, inputIds, attentionMask);
        }, [...named.values()]);
        expect(Math.abs(value.dataSync()[0] - ref.loss)).toBeLessThanOrEqual(1e-5);
        // Gradients by the name PyTorch gives them, in the file's layout (GPT-2's Conv1D and c_attn).
        const byVariable = new Map([...named].map(([name, v]) => [v.name, name]));
        const mine = new Map<string, { shape: number[]; data: Float32Array }>();
        for (const [vname, g] of Object.entries(grads)) mine.set(byVariable.get(vname)!, { shape: g.shape, data: g.dataSync() as Float32Array });
        const fileGrads = new Map(toFileLayout(model.parameterTable, mine).map((t) => [t.name, t.data]));
        const worst = expectGradientsMatch(fileGrads, ref.grads);
        measured.push(`gradients ${fixture} on ${backend}: loss diff ${Math.abs(value.dataSync()[0] - ref.loss).toExponential(2)}, max over tensors of max|diff|/max|g| ${worst.toExponential(2)}`);
        tf.dispose([value, ...Object.values(grads), inputIds, attentionMask, ...(labels ? [labels] : [])]);
        model.dispose();
        // Forward, loss and backward leave nothing behind (the custom gradients included).
        expect(tf.memory().numTensors).toBe(before);
      });
    }

    it('tiny-opt with heads removed in neuroprune equals transformers with those heads masked', async () => {
      await initBackend({ force: backend });
      const { model, ref, inputIds, attentionMask } = load('tiny-opt');
      for (const [layer, heads] of Object.entries(ref.masked_heads!)) {
        const block = model.attentionBlocks()[Number(layer)];
        removeHeads(block, block.headIds.map((h) => (heads.includes(h) ? block.headIds.find((x) => !heads.includes(x))! : h)).map((h) => block.headIds.indexOf(h)), { merge: false });
      }
      expect(model.attentionBlocks().map((b) => b.headIds)).toEqual([[0, 3], [1, 2, 3]]);
      const { logits } = model.forward({ inputIds, attentionMask });
      const diff = maxAbsDiff(logits, ref.masked_logits);
      measured.push(`parity tiny-opt heads removed on ${backend}: max|diff| logits ${diff.toExponential(2)}`);
      expect(diff).toBeLessThanOrEqual(1e-4);
      tf.dispose([logits, inputIds, attentionMask]);
      model.dispose();
    });
  });
}
