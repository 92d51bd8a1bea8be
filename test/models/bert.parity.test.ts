import * as path from 'node:path';
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { maxAbsDiff } from './helpers';
import { loadBertCheckpoint } from '../../src/checkpoint';
import { loadNativeBlas } from '../../src/backend/kernels';
import { webgpuAvailability } from '../backend/webgpuAvailable';

// The native backend exists only where the addon is built; elsewhere its cases are listed as skipped.
const nativeBuilt = loadNativeBlas().ok;
// webgpu runs wherever Dawn finds an adapter (lavapipe in CI); elsewhere the reason is printed.
const webgpu = webgpuAvailability('bert.parity');

const FIXTURES = path.join(__dirname, '..', 'fixtures');

interface Reference {
  input_ids: number[][];
  attention_mask: number[][];
  token_type_ids: number[][];
  hidden_states: number[][][][];
  logits: number[][];
}


/** Measured differences, printed at the end so that the closing note can quote them. */
const measured: string[] = [];
afterAll(() => { if (measured.length) console.log(measured.join('\n')); });

for (const backend of ['native', 'webgpu', 'wasm', 'cpu'] as const) {
  for (const fixture of ['tiny-bert', 'tiny-bert-pruned']) {
    describe.skipIf((backend === 'native' && !nativeBuilt) || (backend === 'webgpu' && !webgpu.ok))(`${fixture} on ${backend}`, () => {
      it('matches transformers: hidden states and logits within 1e-4', async () => {
        await initBackend({ force: backend });
        expect(tf.getBackend()).toBe(backend);
        const dir = path.join(FIXTURES, fixture);
        const ref = JSON.parse(fs.readFileSync(path.join(dir, 'reference.json'), 'utf8')) as Reference;
        const before = tf.memory().numTensors;
        const { model } = loadBertCheckpoint(dir);
        if (fixture === 'tiny-bert-pruned') {
          expect(model.attentionBlocks().map((b) => b.headIds)).toEqual([[0, 3], [1, 2, 3]]);
        }
        const inputIds = tf.tensor2d(ref.input_ids, undefined, 'int32');
        const attentionMask = tf.tensor2d(ref.attention_mask, undefined, 'int32');
        const tokenTypeIds = tf.tensor2d(ref.token_type_ids, undefined, 'int32');
        const out = model.forward({ inputIds, attentionMask, tokenTypeIds }, { outputHiddenStates: true });
        const hs = out.hiddenStates!;
        expect(hs.length).toBe(ref.hidden_states.length);
        const hiddenDiff = Math.max(...hs.map((h, i) => maxAbsDiff(h, ref.hidden_states[i])));
        const logitDiff = maxAbsDiff(out.logits, ref.logits);
        measured.push(`parity ${fixture} on ${backend}: max|diff| hidden ${hiddenDiff.toExponential(2)}, logits ${logitDiff.toExponential(2)}`);
        expect(hiddenDiff).toBeLessThanOrEqual(1e-4);
        expect(logitDiff).toBeLessThanOrEqual(1e-4);
        tf.dispose([inputIds, attentionMask, tokenTypeIds, out.logits, ...hs]);
        model.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });
    });
  }
}
