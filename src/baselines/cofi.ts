/**
 * CoFI (Xia, Zhong & Chen, 2022, "Structured Pruning Learns Compact and Accurate Models"): hard-
 * concrete L0 gates (src/baselines/hardConcrete.ts) on five structures of a transformer encoder,
 * and a Lagrangian that drives the expected sparsity of the gated model to a target.
 *
 * Gates (CoFI's names): `head` (each head of each layer), `head_layer` (a whole attention layer),
 * `intermediate` (each MLP neuron), `mlp` (a whole MLP layer), `hidden` (each model dimension).
 * Initial locations as CoFI's code: 10 for heads, layers and hidden dimensions (clamped to
 * log 100 after the first step), `log(1 - p) - log p` with droprate p = 0.5 (0) for neurons, with
 * N(0, 0.01^2) jitter.
 *
 * Expected size (CoFI's `get_num_parameters_and_constraint_for_hidden`), with `P` the open
 * probability of a gate, `d` the model width, `dh` the head size:
 *   E[size] = sum_j P(hidden_j) * ( sum_{l,h} P(head_lh) P(layer_l) * (4 d dh + 4 dh) / d
 *                                   + sum_{l,i} P(neuron_li) P(mlp_l) * 2 )
 * against the prunable size `sum_l (heads_l (4 d dh + 4 dh) + 2 d de_l + 5 d)` (CoFI counts the
 * biases and LayerNorm of a layer in the prunable size, not in the per-dimension terms). The
 * expected sparsity is `s = 1 - E[size] / prunable`, and the Lagrangian term
 *   lambda_1 (s - t) + lambda_2 (s - t)^2
 * is minimised by the weights and gates and maximised by the multipliers, with the target `t`
 * warmed up linearly from 0 over the first pruning steps.
 */
import * as tf from '@tensorflow/tfjs';
import type { PrunableModel } from '../models/blocks';
import { deriveSeed, mulberry32, type Rng } from '../util/random';
import type { ModelGates } from './gates';
import { deterministicGates, HARD_CONCRETE, openProbabilityTensor, sampleGates, uniformNoise } from './hardConcrete';

export interface CofiGateOptions {
  /** Seed of the initial jitter. */
  seed?: number;
  /** Initial droprate of the neuron gates (CoFI's `droprate_init`, default 0.5). */
  droprateInit?: number;
  /** Which structures are gated; default all five. */
  structures?: Partial<Record<CofiStructure, boolean>>;
}

export type CofiStructure = 'head' | 'headLayer' | 'intermediate' | 'mlp' | 'hidden';

/** The gate locations of one model, and the Lagrange multipliers. */
export class CofiGates {
  readonly head: tf.Variable[];
  readonly headLayer: tf.Variable | null;
  readonly intermediate: tf.Variable[];
  readonly mlp: tf.Variable | null;
  readonly hidden: tf.Variable | null;
  readonly lambda1: tf.Variable;
  readonly lambda2: tf.Variable;
  /** Per attention block: its heads and head size, per MLP block its width, when the gates were made. */
  readonly shape: { heads: number[]; headSize: number[]; widths: number[]; hiddenSize: number };

  constructor(model: PrunableModel, options: CofiGateOptions = {}) {
    const attention = model.attentionBlocks();
    const mlps = model.mlpBlocks();
    if (attention.length !== mlps.length) throw new Error(`CoFI gates need one attention and one MLP block per layer; the model has ${attention.length} and ${mlps.length}`);
    const on = (s: CofiStructure) => options.structures?.[s] ?? true;
    const rng = mulberry32(deriveSeed(options.seed ?? 0, 0xc0f1));
    const p = options.droprateInit ?? 0.5;
    if (!(p > 0 && p < 1)) throw new Error(`CoFI droprateInit must be in (0, 1), got ${p}`);
    const neuronMean = Math.log(1 - p) - Math.log(p);
    const tag = `cofi${++counter}`;
    // tf.variable keeps its own reference to the data: the initial tensor is disposed after.
    const variable = (t: tf.Tensor, name: string) => { const v = tf.variable(t, true, `${tag}/${name}`); t.dispose(); return v; };
    const init = (n: number, mean: number, name: string) => variable(tf.tensor1d(jitter(n, mean, rng)), name);
    this.shape = { heads: attention.map((b) => b.numHeads), headSize: attention.map((b) => b.headSize), widths: mlps.map((b) => b.input.weight.shape[0]), hiddenSize: model.hiddenSize };
    // Gates of structures that are not pruned are fixed open: a constant 1, no variable.
    this.head = on('head') ? attention.map((b, l) => init(b.numHeads, 10, `head.${l}`)) : [];
    this.headLayer = on('headLayer') ? init(attention.length, 10, 'head_layer') : null;
    this.intermediate = on('intermediate') ? mlps.map((b, l) => init(b.input.weight.shape[0], neuronMean, `intermediate.${l}`)) : [];
    this.mlp = on('mlp') ? init(mlps.length, 10, 'mlp') : null;
    this.hidden = on('hidden') ? init(model.hiddenSize, 10, 'hidden') : null;
    this.lambda1 = variable(tf.scalar(0), 'lambda_1');
    this.lambda2 = variable(tf.scalar(0), 'lambda_2');
  }

  /** The gate locations under stable names (for the optimizer). */
  gateVariables(): Map<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    this.head.forEach((v, l) => m.set(`cofi.head.${l}`, v));
    if (this.headLayer) m.set('cofi.head_layer', this.headLayer);
    this.intermediate.forEach((v, l) => m.set(`cofi.intermediate.${l}`, v));
    if (this.mlp) m.set('cofi.mlp', this.mlp);
    if (this.hidden) m.set('cofi.hidden', this.hidden);
    return m;
  }

  lambdaVariables(): Map<string, tf.Variable> {
    return new Map([['cofi.lambda_1', this.lambda1], ['cofi.lambda_2', this.lambda2]]);
  }

  /** A sample of every gate (one per step, shared by the batch, as CoFI), differentiable in the locations. */
  sample(rng: Rng): ModelGates {
    return tf.tidy(() => this.gates((v) => sampleGates(v, uniformNoise(v.shape, rng))) as unknown as tf.TensorContainer) as unknown as ModelGates;
  }

  /** CoFI's deterministic gates (constants). */
  deterministic(): ModelGates {
    const det = (v: tf.Variable) => tf.tensor(deterministicGates(v.dataSync()), v.shape);
    // Layer gates are groups of one each.
    const perEntry = (v: tf.Variable) => tf.tensor1d(Array.from(v.dataSync(), (a) => deterministicGates([a])[0]));
    return tf.tidy(() => this.gates(det, perEntry) as unknown as tf.TensorContainer) as unknown as ModelGates;
  }

  /** Gates from `f` of each location variable (`layerF` for the one-gate-per-layer ones); run inside a tidy. */
  private gates(f: (v: tf.Variable) => tf.Tensor, layerF: (v: tf.Variable) => tf.Tensor = f): ModelGates {
    const L = this.shape.heads.length;
    const headLayer = this.headLayer ? layerF(this.headLayer) : null;
    const mlp = this.mlp ? layerF(this.mlp) : null;
    const pick = (t: tf.Tensor | null, l: number) => (t ? tf.tidy(() => tf.reshape(tf.slice(t, [l], [1]), [])) : undefined);
    const gates: ModelGates = {
      attention: Array.from({ length: L }, (_, l) => ({ heads: this.head[l] ? f(this.head[l]) : undefined, layer: pick(headLayer, l) })),
      mlp: Array.from({ length: L }, (_, l) => ({ neurons: this.intermediate[l] ? f(this.intermediate[l]) : undefined, layer: pick(mlp, l) })),
      hidden: this.hidden ? f(this.hidden) : undefined,
    };
    return gates;
  }

  /** The prunable size CoFI's sparsity is relative to (see the module comment). */
  prunableSize(): number {
    const d = this.shape.hiddenSize;
    return this.shape.heads.reduce((s, h, l) => s + h * perHead(d, this.shape.headSize[l]) + 2 * d * this.shape.widths[l] + 5 * d, 0);
  }

  /** The expected number of remaining parameters, differentiable in the locations. */
  expectedSize(): tf.Scalar {
    return tf.tidy(() => {
      const d = this.shape.hiddenSize;
      const P = (v: tf.Variable) => openProbabilityTensor(v);
      const layerP = (v: tf.Variable | null, l: number) => (v ? tf.reshape(tf.slice(P(v), [l], [1]), []) : tf.scalar(1));
      let perDim: tf.Tensor = tf.scalar(0);
      this.shape.heads.forEach((h, l) => {
        const heads = this.head[l] ? tf.sum(P(this.head[l])) : tf.scalar(h);
        perDim = tf.add(perDim, tf.mul(tf.mul(heads, layerP(this.headLayer, l)), perHead(d, this.shape.headSize[l]) / d));
        const neurons = this.intermediate[l] ? tf.sum(P(this.intermediate[l])) : tf.scalar(this.shape.widths[l]);
        perDim = tf.add(perDim, tf.mul(tf.mul(neurons, layerP(this.mlp, l)), 2));
      });
      const dims = this.hidden ? tf.sum(P(this.hidden)) : tf.scalar(d);
      return tf.mul(dims, perDim) as tf.Scalar;
    });
  }

  /** `1 - E[size] / prunable`. */
  expectedSparsity(): tf.Scalar {
    return tf.tidy(() => tf.sub(1, tf.div(this.expectedSize(), this.prunableSize())) as tf.Scalar);
  }

  /** `lambda_1 (s - t) + lambda_2 (s - t)^2` and `s`. */
  lagrangian(target: number): { loss: tf.Scalar; expectedSparsity: tf.Scalar } {
    const s = this.expectedSparsity();
    const loss = tf.tidy(() => {
      const gap = tf.sub(s, target);
      return tf.add(tf.mul(this.lambda1, gap), tf.mul(this.lambda2, tf.square(gap))) as tf.Scalar;
    });
    return { loss, expectedSparsity: s };
  }

  /** Clamps every location to CoFI's range after a step. */
  constrain(): void {
    for (const v of this.gateVariables().values()) {
      const c = tf.clipByValue(v, HARD_CONCRETE.logAlphaMin, HARD_CONCRETE.logAlphaMax);
      v.assign(c);
      c.dispose();
    }
  }

  dispose(): void {
    tf.dispose([...this.gateVariables().values(), this.lambda1, this.lambda2]);
  }
}

let counter = 0;

/** CoFI's parameters per head: Q, K, V, O slices and their biases, `4 d dh + 4 dh`. */
function perHead(d: number, dh: number): number {
  return 4 * d * dh + 4 * dh;
}

/** `n` draws of N(mean, 0.01^2) (Box-Muller), as CoFI's `reset_loga`. */
function jitter(n: number, mean: number, rng: Rng): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u1 = Math.max(rng.next(), 1e-12);
    out[i] = mean + 0.01 * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * rng.next());
  }
  return out;
}

/** Disposes every gate tensor of a `ModelGates`. */
export function disposeGates(g: ModelGates): void {
  tf.dispose([...g.attention.flatMap((a) => [a?.heads ?? [], a?.layer ?? []]).flat(), ...g.mlp.flatMap((m) => [m?.neurons ?? [], m?.layer ?? []]).flat(), g.hidden ?? []]);
}

/**
 * Heads (current positions) whose effective deterministic gate (head times layer) is open, per
 * attention block; the positions to keep when the gates are made permanent.
 */
export function openHeads(g: ModelGates, heads: number[]): number[][] {
  return heads.map((h, l) => {
    const a = g.attention[l];
    const hv = a?.heads ? a.heads.dataSync() : new Float32Array(h).fill(1);
    const lv = a?.layer ? a.layer.dataSync()[0] : 1;
    return Array.from({ length: h }, (_, i) => i).filter((i) => hv[i] * lv !== 0);
  });
}
