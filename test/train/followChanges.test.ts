import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/backend';
import { compactAttentionInputs, compactMlp, removeHeads } from '../../src/neuroprune';
import { AdamW } from '../../src/train/adamw';
import { remapFromChanges } from '../../src/train/neuropruneOps';
import { tinyBertTaskModel } from './tinyBert';

beforeAll(async () => { await initBackend({ force: 'cpu' }); });

/** Gradients of a simple function of every parameter, so each moment entry is distinct. */
function step(model: ReturnType<typeof tinyBertTaskModel>, opt: AdamW): void {
  const params = model.namedVariables();
  const grads = new Map<string, tf.Tensor>();
  let i = 0;
  for (const [name, v] of params) grads.set(name, tf.tidy(() => tf.add(tf.mul(v, 3), ++i)));
  opt.apply(params, grads, 1e-3);
  tf.dispose([...grads.values()]);
}

const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('optimizer state follows structural changes by variable', () => {
  it('head removal then input compaction compose; MLP compaction gathers rows and columns', () => {
    const model = tinyBertTaskModel(20, { hidden_size: 8, num_attention_heads: 4, intermediate_size: 6 });
    const opt = new AdamW();
    step(model, opt);
    const attn = model.attentionBlocks()[0];
    const mlp = model.mlpBlocks()[0];
    const names = model.namedVariables();
    const qName = [...names].find(([, v]) => v === attn.query.weight)![0];
    const oName = [...names].find(([, v]) => v === attn.output.weight)![0];
    const inName = [...names].find(([, v]) => v === mlp.input.weight)![0];
    const mq = opt.moments(qName)!.m.clone();
    const mo = opt.moments(oName)!.m.clone();
    const mIn = opt.moments(inName)!.m.clone();

    const changes = [...removeHeads(attn, [0, 0, 2, 3], { merge: false })]; // head 1 goes: rows 2..3 (dh = 2)
    // Zero input dims 1 and 5 of Q/K/V, and MLP neuron 4's incoming row and outgoing column.
    for (const l of [attn.query, attn.key, attn.value]) {
      const z = tf.tidy(() => tf.mul(l.weight, tf.tensor1d([1, 0, 1, 1, 1, 0, 1, 1])));
      l.weight.assign(z); z.dispose();
    }
    const rowMask = tf.tensor2d([1, 1, 1, 1, 0, 1], [6, 1]);
    const zin = tf.mul(mlp.input.weight, rowMask); mlp.input.weight.assign(zin);
    const zout = tf.mul(mlp.output.weight, tf.reshape(rowMask, [1, 6])); mlp.output.weight.assign(zout);
    tf.dispose([rowMask, zin, zout]);
    changes.push(...compactAttentionInputs(attn).changes, ...compactMlp(mlp).changes);

    const remap = remapFromChanges(names, changes);
    for (const [name, fn] of remap) opt.remap(name, fn!);
    const rows = [0, 1, 4, 5, 6, 7];
    const cols = [0, 2, 3, 4, 6, 7];
    const expectQ = tf.tidy(() => tf.gather(tf.gather(mq, rows, 0), cols, 1));
    const expectO = tf.tidy(() => tf.gather(mo, rows, 1));
    const expectIn = tf.tidy(() => tf.gather(mIn, [0, 1, 2, 3, 5], 0));
    expect(values(opt.moments(qName)!.m)).toEqual(values(expectQ));
    expect(values(opt.moments(oName)!.m)).toEqual(values(expectO));
    expect(values(opt.moments(inName)!.m)).toEqual(values(expectIn));
    // The next step runs with every moment in the shape of its parameter.
    step(model, opt);
    tf.dispose([mq, mo, mIn, expectQ, expectO, expectIn]);
    opt.dispose();
    model.dispose();
  });

  it('a moment whose variable changed shape without a record is an error, not a silent skip', () => {
    const model = tinyBertTaskModel(20, { hidden_size: 8, num_attention_heads: 4 });
    const opt = new AdamW();
    step(model, opt);
    removeHeads(model.attentionBlocks()[0], [0, 0, 2, 3]); // record dropped on purpose
    expect(() => step(model, opt)).toThrow(/moments of bert\.encoder\.layer\.0\.attention\.self\.query\.weight have shape \[8,8\], the parameter is \[6,8\]/);
    opt.dispose();
    model.dispose();
  });

  it('refuses a change of a variable the model does not name', () => {
    const model = tinyBertTaskModel(20);
    const stray = tf.variable(tf.zeros([2]));
    expect(() => remapFromChanges(model.namedVariables(), [{ variable: stray, replacement: stray, axis: 0, kept: [0] }])).toThrow(/not a named parameter/);
    stray.dispose();
    model.dispose();
  });
});
