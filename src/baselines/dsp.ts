/**
 * Differentiable Subset Pruning (Li, Cotterell & Sachan, 2021): one logit per head of the whole
 * model, a Gumbel-soft top-K mask over all of them (src/baselines/gumbelTopK.ts) that multiplies
 * each head's output during training, so that exactly K heads are on in expectation at every
 * step, and the K largest logits kept at the end. Gates and weights train jointly.
 *
 * As the authors' code: logits initialised Xavier-uniform over the `[layers, heads]` matrix
 * (bound `sqrt(6 / (layers + heads))`), their own learning rate (0.5 there, with the model's
 * linear decay), and a temperature annealed geometrically from 1000 to 1e-8 over the cooldown
 * steps (25,000 of MNLI's 36,816 there, about two thirds: the default cooldown here is 2/3 of the
 * run's steps).
 */
import * as tf from '@tensorflow/tfjs';
import type { PrunableModel } from '../models/blocks';
import { deriveSeed, mulberry32, type Rng } from '../util/random';
import type { ModelGates } from './gates';
import { gumbelNoise, gumbelSoftTopK, topK } from './gumbelTopK';

let counter = 0;

export class DspGates {
  /** One logit per head, all layers in block order, `[sum of heads]`. */
  readonly logits: tf.Variable;
  /** Heads per attention block when the gates were made. */
  readonly heads: number[];

  constructor(model: PrunableModel, readonly k: number, options: { seed?: number } = {}) {
    this.heads = model.attentionBlocks().map((b) => b.numHeads);
    const total = this.heads.reduce((a, b) => a + b, 0);
    if (!(Number.isInteger(k) && k >= 1 && k <= total)) throw new Error(`DSP: the number of heads to keep must be an integer in [1, ${total}] (the model has ${total} heads), got ${k}`);
    const rng = mulberry32(deriveSeed(options.seed ?? 0, 0xd5b));
    const maxHeads = Math.max(...this.heads);
    const bound = Math.sqrt(6 / (this.heads.length + maxHeads));
    const init = tf.tensor1d(Array.from({ length: total }, () => (2 * rng.next() - 1) * bound));
    this.logits = tf.variable(init, true, `dsp${++counter}/w`);
    init.dispose();
  }

  gateVariables(): Map<string, tf.Variable> {
    return new Map([['dsp.w', this.logits]]);
  }

  /** The relaxed mask at a temperature, split per block as head gates. */
  sample(temperature: number, rng: Rng): ModelGates {
    return tf.tidy(() => this.split(gumbelSoftTopK(this.logits as tf.Tensor1D, this.k, temperature, gumbelNoise(this.logits.shape[0], rng))) as unknown as tf.TensorContainer) as unknown as ModelGates;
  }

  /** The hard mask: 1 on the K largest logits. */
  hard(): ModelGates {
    const keep = new Set(topK(this.logits.dataSync(), this.k));
    return tf.tidy(() => this.split(tf.tensor1d(Array.from({ length: this.logits.shape[0] }, (_, i) => (keep.has(i) ? 1 : 0)))) as unknown as tf.TensorContainer) as unknown as ModelGates;
  }

  /** Positions of the K heads kept, per attention block. */
  keptHeads(): number[][] {
    const keep = new Set(topK(this.logits.dataSync(), this.k));
    let offset = 0;
    return this.heads.map((h) => {
      const kept = Array.from({ length: h }, (_, i) => i).filter((i) => keep.has(offset + i));
      offset += h;
      return kept;
    });
  }

  /** Per-block head gates from one mask over all heads; run inside a tidy. */
  private split(mask: tf.Tensor1D): ModelGates {
    const parts = this.heads.some((h) => h === 0)
      ? this.heads.map((h, i) => tf.slice(mask, [this.heads.slice(0, i).reduce((a, b) => a + b, 0)], [h]))
      : tf.split(mask, this.heads);
    return { attention: parts.map((heads) => ({ heads })), mlp: [] };
  }

  dispose(): void {
    this.logits.dispose();
  }
}
