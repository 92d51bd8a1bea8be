/**
 * AdamW with decoupled weight decay, as `torch.optim.AdamW` (and so `transformers`' Trainer):
 *   p <- p * (1 - lr * wd);  m <- b1 m + (1-b1) g;  v <- b2 v + (1-b2) g^2;
 *   p <- p - lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 *
 * The state lives in plain named tensors (not inside a tf.train.Optimizer) so that it can be
 * checkpointed exactly and can follow structural pruning: when a parameter loses rows or
 * columns, `remap` applies the same gather to its moments.
 *
 * On the wasm backend with the native addon, and on the native backend, each parameter's update
 * is one pass in C++ over the parameter, its moments and its gradient, in place (on native the
 * parameter through a fresh buffer: see src/backend/kernels/training.ts); elsewhere it is the
 * chain of TF.js ops below. Both follow torch's order of operations.
 */
import * as tf from '@tensorflow/tfjs';
import { nativeAdamWUpdate } from '../backend/kernels/training';

export interface AdamWOptions {
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Default 1e-8 (torch's default; transformers' Trainer uses the same). */
  epsilon?: number;
  /** Decoupled weight decay; default 0.01. */
  weightDecay?: number;
  /**
   * Which parameters get weight decay. Default: all but biases and LayerNorm weights, as the
   * `transformers` Trainer groups them.
   */
  decays?: (name: string) => boolean;
}

export interface AdamWMoments { m: tf.Tensor; v: tf.Tensor }

export const defaultDecays = (name: string): boolean => !/(\.bias$|LayerNorm\.|layer_norm\.|\.ln_)/i.test(name);

export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  private readonly decays: (name: string) => boolean;
  /** Number of updates applied so far (Adam's t). */
  step = 0;
  private readonly state = new Map<string, AdamWMoments>();

  constructor(options: AdamWOptions = {}) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.decays = options.decays ?? defaultDecays;
    if (!(this.beta1 >= 0 && this.beta1 < 1)) throw new Error(`AdamW beta1 must be in [0, 1), got ${this.beta1}`);
    if (!(this.beta2 >= 0 && this.beta2 < 1)) throw new Error(`AdamW beta2 must be in [0, 1), got ${this.beta2}`);
    if (!(this.epsilon > 0)) throw new Error(`AdamW epsilon must be > 0, got ${this.epsilon}`);
    if (!(this.weightDecay >= 0)) throw new Error(`AdamW weightDecay must be >= 0, got ${this.weightDecay}`);
  }

  /** Applies one update to every parameter that has a gradient. `grads` is keyed like `params`. */
  apply(params: Map<string, tf.Variable>, grads: Map<string, tf.Tensor>, lr: number): void {
    this.step += 1;
    const t = this.step;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) continue;
      if (!p.shape.every((d, i) => d === g.shape[i]) || p.rank !== g.rank) {
        throw new Error(`AdamW: gradient of ${name} has shape [${g.shape}], parameter is [${p.shape}]`);
      }
      const prev = this.state.get(name) ?? { m: tf.zerosLike(p), v: tf.zerosLike(p) };
      if (prev.m.rank !== p.rank || !p.shape.every((d, i) => d === prev.m.shape[i])) {
        // A structural change replaced the parameter without a remap record for it: its moments
        // would land on the wrong rows (or fail), so the step stops here.
        throw new Error(`AdamW: the moments of ${name} have shape [${prev.m.shape}], the parameter is [${p.shape}]; the change that reshaped it returned no record for the optimizer to follow`);
      }
      const decay = this.decays(name) && this.weightDecay > 0;
      const native = nativeAdamWUpdate(p, prev.m, prev.v, g, {
        lr, beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, weightDecay: decay ? this.weightDecay : 0, step: t,
      });
      if (native) {
        if (native.m !== prev.m) prev.m.dispose();
        if (native.v !== prev.v) prev.v.dispose();
        this.state.set(name, native);
        continue;
      }
      const next = tf.tidy(() => {
        const m = tf.add(tf.mul(prev.m, this.beta1), tf.mul(g, 1 - this.beta1));
        const v = tf.add(tf.mul(prev.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2));
        const decayed = decay ? tf.mul(p, 1 - lr * this.weightDecay) : p;
        const denom = tf.add(tf.sqrt(tf.div(v, c2)), this.epsilon);
        const updated = tf.sub(decayed, tf.mul(tf.div(tf.div(m, c1), denom), lr));
        p.assign(updated);
        return { m, v };
      });
      prev.m.dispose();
      prev.v.dispose();
      this.state.set(name, next);
    }
  }

  moments(name: string): AdamWMoments | undefined {
    return this.state.get(name);
  }

  names(): string[] {
    return [...this.state.keys()];
  }

  /**
   * Re-shapes a parameter's moments after a structural change: `fn` receives each moment and
   * returns its new value (e.g. the same row gather that was applied to the weight). `fn` must
   * not dispose its input. A parameter that disappeared is dropped with `drop`.
   */
  remap(name: string, fn: (moment: tf.Tensor) => tf.Tensor): void {
    const s = this.state.get(name);
    if (!s) return;
    const m = tf.tidy(() => fn(s.m));
    const v = tf.tidy(() => fn(s.v));
    s.m.dispose();
    s.v.dispose();
    this.state.set(name, { m, v });
  }

  /** Moves a parameter's state to a new name (a variable renamed by a structural change). */
  rename(from: string, to: string): void {
    const s = this.state.get(from);
    if (!s || from === to) return;
    this.state.delete(from);
    this.state.set(to, s);
  }

  drop(name: string): void {
    const s = this.state.get(name);
    if (!s) return;
    s.m.dispose();
    s.v.dispose();
    this.state.delete(name);
  }

  /** The state as named tensors (`m.<name>`, `v.<name>`) for a checkpoint; the caller must not dispose them. */
  toTensors(): Map<string, tf.Tensor> {
    const out = new Map<string, tf.Tensor>();
    for (const [name, s] of this.state) {
      out.set(`m.${name}`, s.m);
      out.set(`v.${name}`, s.v);
    }
    return out;
  }

  /** Restores from `toTensors()` output; takes ownership of the tensors. */
  loadTensors(step: number, tensors: Map<string, tf.Tensor>): void {
    this.dispose();
    this.step = step;
    for (const [key, t] of tensors) {
      const kind = key.slice(0, 2);
      const name = key.slice(2);
      if (kind !== 'm.' && kind !== 'v.') throw new Error(`AdamW state: unexpected tensor ${key}`);
      const s = this.state.get(name) ?? ({} as AdamWMoments);
      if (kind === 'm.') s.m = t; else s.v = t;
      this.state.set(name, s);
    }
    for (const [name, s] of this.state) {
      if (!s.m || !s.v) throw new Error(`AdamW state: ${name} has ${s.m ? 'm' : 'v'} but not ${s.m ? 'v' : 'm'}`);
    }
  }

  dispose(): void {
    for (const s of this.state.values()) {
      s.m.dispose();
      s.v.dispose();
    }
    this.state.clear();
  }
}
