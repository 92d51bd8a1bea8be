/** Small random attention / MLP blocks for the NeuroPrune tests (cpu backend, float32). */
import * as tf from '@tensorflow/tfjs';
import { mulberry32 } from '../../src/util/random';
import type { Activation, AttentionBlock, Linear, MlpBlock, PrunableModel } from '../../src/models/blocks';

/** Deterministic uniform(-1, 1) numbers (mulberry32). */
export function rng(seed: number): () => number {
  const r = mulberry32(seed);
  return () => r.next() * 2 - 1;
}

export function randomTensor(shape: number[], r: () => number, scale = 0.5): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(Array.from({ length: n }, () => r() * scale), shape);
}

let counter = 0;
export function randomLinear(out: number, inp: number, r: () => number, bias = true): Linear {
  const name = `t${counter++}`;
  return {
    weight: tf.variable(randomTensor([out, inp], r), true, `${name}/weight`),
    bias: bias ? tf.variable(randomTensor([out], r, 0.1), true, `${name}/bias`) : null,
  };
}

export function randomAttention(opts: { d: number; heads: number; headSize: number; seed: number; layer?: number }): AttentionBlock {
  const r = rng(opts.seed);
  const inner = opts.heads * opts.headSize;
  return {
    name: `layer.${opts.layer ?? 0}.attention`,
    stack: 'encoder',
    kind: 'self',
    layer: opts.layer ?? 0,
    numHeads: opts.heads,
    headSize: opts.headSize,
    headIds: Array.from({ length: opts.heads }, (_, i) => i),
    originalNumHeads: opts.heads,
    query: randomLinear(inner, opts.d, r),
    key: randomLinear(inner, opts.d, r),
    value: randomLinear(inner, opts.d, r),
    output: randomLinear(opts.d, inner, r),
    inputIndex: null,
  };
}

export function randomMlp(opts: { d: number; de: number; seed: number; layer?: number; activation?: Activation }): MlpBlock {
  const r = rng(opts.seed);
  return {
    name: `layer.${opts.layer ?? 0}.mlp`,
    stack: 'encoder',
    kind: 'mlp',
    layer: opts.layer ?? 0,
    activation: opts.activation ?? 'gelu',
    input: randomLinear(opts.de, opts.d, r),
    output: randomLinear(opts.d, opts.de, r),
  };
}

export function modelOf(attn: AttentionBlock[], mlps: MlpBlock[], hiddenSize: number): PrunableModel {
  return { attentionBlocks: () => attn, mlpBlocks: () => mlps, hiddenSize };
}

/** Sets rows `rows` of a variable to `value` (a row of another tensor, or zeros). */
export function setRows(v: tf.Variable, rows: number[], source: tf.Tensor | null, sourceRows?: number[]): void {
  const next = tf.tidy(() => {
    const data = v.arraySync() as number[][];
    const src = source ? (source.arraySync() as number[][] | number[]) : null;
    rows.forEach((r, i) => {
      if (Array.isArray(data[r])) {
        const row = src ? (src[sourceRows![i]] as number[]) : (data[r] as number[]).map(() => 0);
        data[r] = row.slice();
      } else {
        (data as unknown as number[])[r] = src ? (src as number[])[sourceRows![i]] : 0;
      }
    });
    return tf.tensor(data as number[][], v.shape);
  });
  v.assign(next);
  next.dispose();
}

/** Makes head `dup` an exact copy of head `src` (Q/K/V rows and biases). */
export function duplicateHead(block: AttentionBlock, src: number, dup: number): void {
  const dh = block.headSize;
  const from = Array.from({ length: dh }, (_, i) => src * dh + i);
  const to = Array.from({ length: dh }, (_, i) => dup * dh + i);
  for (const l of [block.query, block.key, block.value]) {
    setRows(l.weight, to, l.weight, from);
    if (l.bias) setRows(l.bias, to, l.bias, from);
  }
}

export function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

export function disposeBlocks(attn: AttentionBlock[], mlps: MlpBlock[]): void {
  for (const b of attn) for (const l of [b.query, b.key, b.value, b.output]) { l.weight.dispose(); l.bias?.dispose(); }
  for (const b of mlps) for (const l of [b.input, b.output]) { l.weight.dispose(); l.bias?.dispose(); }
}
