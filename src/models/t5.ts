/**
 * T5 (`T5ForConditionalGeneration`) as transformers 4.57 computes it, with teacher forcing
 * (`decoder_input_ids` given, `forward`) or one decoder position at a time over a key/value cache
 * (`encode` then `decodeStep`, the `EncoderDecoderModel` that `generation.ts` searches with).
 *
 * An encoder and a decoder stack over one shared token embedding. Every sublayer is
 * pre-normalised by T5's RMS LayerNorm (a gain only: no mean subtraction, no bias) and added back
 * to the stream; no linear layer has a bias. Attention is not scaled by 1/sqrt(d_kv) (the scale
 * is folded into the initialisation) and adds a learned relative-position bias, one scalar per
 * head and distance bucket, owned by the first layer of each stack and shared by the others
 * (buckets are bidirectional in the encoder and causal in the decoder). Decoder layers
 * cross-attend to the encoder output (no position bias). The MLP is ReLU (`DenseReluDense.wi`/`wo`,
 * v1.0) or gated (`act(wi_0 x) * wi_1 x` then `wo`, v1.1 with gelu_new). The output embedding is
 * the shared one, with the decoder output rescaled by d_model**-0.5 (`tie_word_embeddings`), or
 * an untied `lm_head`.
 *
 * The blocks are listed stack by stack: `attentionBlocks()` gives the encoder's self-attentions,
 * then per decoder layer its self- and cross-attention; `mlpBlocks()` the encoder's MLPs then the
 * decoder's. Each block carries its stack, kind and layer.
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation, AttentionBlock, Linear, MlpBlock } from './blocks';
import { embeddingLookup } from './bert';
import { causalAdditiveMask } from './decoder';
import { activate, attention, linear, mlp, paddingToAdditiveMask, runLayer } from './layers';
import * as lean from './lean';
import type { DecoderState, EncoderDecoderModel } from './generation';
import { attendCached, projectKeyValues } from './generationAttention';
import { attentionBlock, mlpBlock } from './layout';
import { attentionRole, getVariable, linearOf, mlpRole, TableBuilder, tableInit, type ParameterInit, type ParamSpec } from './parameters';
import { TableModelBase } from './tableModel';

/** The fields of Hugging Face's `T5Config` that the model uses, with their JSON names. */
export interface T5Config {
  /**
   * Never set on a parsed config: a file's `pruned_heads` (the encoder's self-attentions, the only
   * heads transformers' T5 classes mean by it) is read into `neuroprune.encoder.self`.
   */
  pruned_heads?: Record<string, number[]>;
  /** Everything else a pruned or compacted T5 changed, per stack and kind (see `T5Layout`). */
  neuroprune?: T5Layout;
  vocab_size: number;
  d_model: number;
  d_kv: number;
  d_ff: number;
  num_layers: number;
  num_decoder_layers: number;
  num_heads: number;
  relative_attention_num_buckets: number;
  relative_attention_max_distance: number;
  dropout_rate: number;
  layer_norm_epsilon: number;
  /** `relu` (v1.0) or `gated-gelu` (v1.1), as Hugging Face writes it. */
  feed_forward_proj: string;
  initializer_factor: number;
  tie_word_embeddings: boolean;
  pad_token_id: number;
  eos_token_id: number;
  decoder_start_token_id: number;
}

/** `feed_forward_proj` read as Hugging Face reads it: `[gated-]act`, where gated GELU means gelu_new. */
export function t5FeedForward(proj: string): { gated: boolean; activation: Activation } {
  const parts = proj.split('-');
  const gated = parts.length === 2 && parts[0] === 'gated';
  const name = parts[parts.length - 1];
  if (parts.length > 2 || (parts.length === 2 && !gated)) throw new Error(`feed_forward_proj '${proj}' is not 'act' or 'gated-act'`);
  const activation = gated && name === 'gelu' ? 'gelu_new' : name;
  if (activation !== 'relu' && activation !== 'gelu' && activation !== 'gelu_new') {
    throw new Error(`feed_forward_proj '${proj}': activation '${name}' is not supported (relu, gelu, gelu_new)`);
  }
  return { gated, activation };
}

const ENC = 'encoder';
const DEC = 'decoder';
const BIAS = 'relative_attention_bias.weight';

/**
 * One attention's shape in a pruned or compacted T5, as `config.json` records it under
 * `neuroprune.<stack>.<kind>`; per layer of the stack, absent = as the dense config says.
 */
export interface T5AttentionLayout {
  /** Heads removed per layer. */
  pruned_heads?: Record<string, number[]>;
  /** Per layer: the input dimensions Q (and, in a self-attention, K and V) still read, or null for all. */
  attention_input_index?: (number[] | null)[];
  /** Cross-attention only, per layer: the encoder dimensions K and V still read, or null for all. */
  context_input_index?: (number[] | null)[];
}

/** One stack's shapes: its MLP widths per layer and its attentions' layouts. */
export interface T5StackLayout {
  intermediate_sizes?: number[];
  self?: T5AttentionLayout;
  /** Decoder only. */
  cross?: T5AttentionLayout;
}

/**
 * NeuroPrune's layout of a T5 (`neuroprune` in `config.json`): a record per stack and kind,
 * because T5's layers are not of one kind (a decoder layer has a self- and a cross-attention).
 * Removed heads are recorded here too, not in Hugging Face's `pruned_heads`: that field covers
 * only the encoder's self-attentions, and no T5 class of transformers 4.57 loads a checkpoint that
 * sets it (`from_pretrained` fails in `_prune_heads`). The config's sizes (`num_heads`, `d_ff`)
 * stay the dense model's: sparsity is counted against them.
 */
export interface T5Layout {
  encoder?: T5StackLayout;
  decoder?: T5StackLayout;
}

/** The shape of one attention block of a T5, in `attentionBlocks()` order. */
export interface T5BlockLayout {
  stack: 'encoder' | 'decoder';
  kind: 'self' | 'cross';
  layer: number;
  /** Original indices of the surviving heads, ascending. */
  headIds: number[];
  inputIndex: number[] | null;
  contextInputIndex: number[] | null;
}

/**
 * Per attention block (encoder self, then decoder self and cross per layer) and per MLP block
 * (encoder, then decoder), the shapes the config's `neuroprune` layout records. Throws on an
 * index out of range.
 */
export function t5Layouts(config: T5Config): { attention: T5BlockLayout[]; mlp: number[] } {
  const k = config.num_heads;
  const d = config.d_model;
  const np = config.neuroprune ?? {};
  const heads = (pruned: Record<string, number[]> | undefined, l: number, where: string): number[] => {
    const gone = new Set(pruned?.[String(l)] ?? []);
    for (const h of gone) if (!Number.isInteger(h) || h < 0 || h >= k) throw new Error(`${where}[${l}] names head ${h}, but layers have ${k} heads`);
    return Array.from({ length: k }, (_, h) => h).filter((h) => !gone.has(h));
  };
  const index = (list: (number[] | null)[] | undefined, l: number, where: string): number[] | null => {
    const x = list?.[l] ?? null;
    if (x) for (const j of x) if (!Number.isInteger(j) || j < 0 || j >= d) throw new Error(`${where}[${l}] holds ${j}, outside 0..${d - 1}`);
    return x ? [...x] : null;
  };
  const block = (stack: 'encoder' | 'decoder', kind: 'self' | 'cross', l: number): T5BlockLayout => {
    const a = np[stack]?.[kind];
    const where = `neuroprune.${stack}.${kind}`;
    if (config.pruned_heads && Object.keys(config.pruned_heads).length > 0) throw new Error(`T5 config: 'pruned_heads' must be read into neuroprune.encoder.self.pruned_heads (parseT5Config does)`);
    return {
      stack, kind, layer: l,
      headIds: heads(a?.pruned_heads, l, `${where}.pruned_heads`),
      inputIndex: index(a?.attention_input_index, l, `${where}.attention_input_index`),
      contextInputIndex: kind === 'cross' ? index(a?.context_input_index, l, `${where}.context_input_index`) : null,
    };
  };
  const widths = (stack: 'encoder' | 'decoder', n: number) => Array.from({ length: n }, (_, l) => np[stack]?.intermediate_sizes?.[l] ?? config.d_ff);
  const ne = config.num_layers;
  const nd = config.num_decoder_layers;
  return {
    attention: [
      ...Array.from({ length: ne }, (_, l) => block('encoder', 'self', l)),
      ...Array.from({ length: nd }, (_, l) => [block('decoder', 'self', l), block('decoder', 'cross', l)]).flat(),
    ],
    mlp: [...widths('encoder', ne), ...widths('decoder', nd)],
  };
}

/**
 * The `neuroprune` layout that describes `blocks` as they are now (absent when nothing differs
 * from the dense shape): the inverse of `t5Layouts`.
 */
export function t5CurrentLayout(config: T5Config, attention: readonly AttentionBlock[], mlp: readonly MlpBlock[]): { neuroprune?: T5Layout } {
  const out: { neuroprune?: T5Layout } = {};
  const layout: T5Layout = {};
  const k = config.num_heads;
  for (const stack of ['encoder', 'decoder'] as const) {
    const s: T5StackLayout = {};
    for (const kind of ['self', 'cross'] as const) {
      const blocks = attention.filter((b) => b.stack === stack && b.kind === kind);
      if (blocks.length === 0) continue;
      const a: T5AttentionLayout = {};
      const pruned: Record<string, number[]> = {};
      blocks.forEach((b, l) => {
        const kept = new Set(b.headIds);
        const gone = Array.from({ length: k }, (_, h) => h).filter((h) => !kept.has(h));
        if (gone.length > 0) pruned[String(l)] = gone;
      });
      if (Object.keys(pruned).length > 0) a.pruned_heads = pruned;
      const inputs = blocks.map((b) => (b.inputIndex ? [...b.inputIndex] : null));
      if (inputs.some((x) => x !== null)) a.attention_input_index = inputs;
      const contexts = blocks.map((b) => (b.contextInputIndex ? [...b.contextInputIndex] : null));
      if (kind === 'cross' && contexts.some((x) => x !== null)) a.context_input_index = contexts;
      if (Object.keys(a).length > 0) s[kind] = a;
    }
    const widths = mlp.filter((b) => b.stack === stack).map((b) => b.input.weight.shape[0] as number);
    if (widths.some((w) => w !== config.d_ff)) s.intermediate_sizes = widths;
    if (Object.keys(s).length > 0) layout[stack] = s;
  }
  if (Object.keys(layout).length > 0) out.neuroprune = layout;
  return out;
}

/**
 * T5's parameter table in Hugging Face's names (module order). Attention roles index the blocks
 * as `attentionBlocks()` lists them (encoder self, then decoder self and cross per layer); MLP
 * roles as `mlpBlocks()` (encoder, then decoder). A gated MLP's `wi_0` is the block's gate, `wi_1` its input.
 */
export function t5ParameterTable(config: T5Config): ParamSpec[] {
  const d = config.d_model;
  const layouts = t5Layouts(config);
  const f = config.initializer_factor;
  const normal = (std: number) => ({ kind: 'normal', std: f * std } as const);
  const t = new TableBuilder(normal(1));
  const { gated } = t5FeedForward(config.feed_forward_proj);
  const ne = config.num_layers;
  t.add('shared.weight', [config.vocab_size, d], normal(1));
  // The initial draws keep the dense model's scales (a pruned table is only ever loaded).
  const denseInner = config.num_heads * config.d_kv;
  const attn = (p: string, index: number, first: boolean) => {
    const role = attentionRole(index);
    const lay = layouts.attention[index];
    const inner = lay.headIds.length * config.d_kv;
    const inQ = lay.inputIndex?.length ?? d;
    const inKV = (lay.kind === 'cross' ? lay.contextInputIndex : lay.inputIndex)?.length ?? d;
    t.add(`${p}.q.weight`, [inner, inQ], normal((d * config.d_kv) ** -0.5), role('query', 'weight'));
    t.add(`${p}.k.weight`, [inner, inKV], normal(d ** -0.5), role('key', 'weight'));
    t.add(`${p}.v.weight`, [inner, inKV], normal(d ** -0.5), role('value', 'weight'));
    t.add(`${p}.o.weight`, [d, inner], normal(denseInner ** -0.5), role('output', 'weight'));
    // The position bias keeps every original head (transformers does not prune it either): the layers of a stack share it.
    if (first) t.add(`${p}.${BIAS}`, [config.relative_attention_num_buckets, config.num_heads], normal(d ** -0.5));
  };
  const ff = (p: string, index: number) => {
    const role = mlpRole(index);
    const de = layouts.mlp[index];
    if (gated) {
      t.add(`${p}.DenseReluDense.wi_0.weight`, [de, d], normal(d ** -0.5), role('gate', 'weight'));
      t.add(`${p}.DenseReluDense.wi_1.weight`, [de, d], normal(d ** -0.5), role('input', 'weight'));
    } else {
      t.add(`${p}.DenseReluDense.wi.weight`, [de, d], normal(d ** -0.5), role('input', 'weight'));
    }
    t.add(`${p}.DenseReluDense.wo.weight`, [d, de], normal(config.d_ff ** -0.5), role('output', 'weight'));
    t.add(`${p}.layer_norm.weight`, [d], { kind: 'ones' });
  };
  for (let l = 0; l < ne; l++) {
    const p = `${ENC}.block.${l}.layer`;
    attn(`${p}.0.SelfAttention`, l, l === 0);
    t.add(`${p}.0.layer_norm.weight`, [d], { kind: 'ones' });
    ff(`${p}.1`, l);
  }
  t.add(`${ENC}.final_layer_norm.weight`, [d], { kind: 'ones' });
  for (let l = 0; l < config.num_decoder_layers; l++) {
    const p = `${DEC}.block.${l}.layer`;
    attn(`${p}.0.SelfAttention`, ne + 2 * l, l === 0);
    t.add(`${p}.0.layer_norm.weight`, [d], { kind: 'ones' });
    attn(`${p}.1.EncDecAttention`, ne + 2 * l + 1, false);
    t.add(`${p}.1.layer_norm.weight`, [d], { kind: 'ones' });
    ff(`${p}.2`, ne + l);
  }
  t.add(`${DEC}.final_layer_norm.weight`, [d], { kind: 'ones' });
  if (!config.tie_word_embeddings) t.add('lm_head.weight', [config.vocab_size, d], normal(1));
  return t.specs;
}

/**
 * Hugging Face's `T5Attention._relative_position_bucket` for `relative = key - query`, in float32
 * steps as PyTorch computes it (the bucket of a large distance is a truncated float32 logarithm).
 */
export function relativePositionBucket(relative: number, bidirectional: boolean, numBuckets: number, maxDistance: number): number {
  let bucket = 0;
  let n = numBuckets;
  let r = relative;
  if (bidirectional) {
    n = Math.floor(n / 2);
    if (r > 0) bucket += n;
    r = Math.abs(r);
  } else {
    r = -Math.min(r, 0);
  }
  const maxExact = Math.floor(n / 2);
  if (r < maxExact) return bucket + r;
  const f = Math.fround;
  const ratio = f(Math.log(f(f(r) / maxExact)));
  const large = maxExact + Math.trunc(f(f(f(ratio / f(Math.log(maxDistance / maxExact))) * (n - maxExact))));
  return bucket + Math.min(large, n - 1);
}

/** The `[Tq*Tk]` bucket of each (query, key) pair, row-major. */
function bucketGrid(tq: number, tk: number, bidirectional: boolean, numBuckets: number, maxDistance: number): Int32Array {
  const out = new Int32Array(tq * tk);
  for (let i = 0; i < tq; i++) for (let j = 0; j < tk; j++) out[i * tk + j] = relativePositionBucket(j - i, bidirectional, numBuckets, maxDistance);
  return out;
}

/** T5's RMS LayerNorm: `weight * x / sqrt(mean(x^2) + eps)` over the last dimension. */
export function rmsNorm(x: tf.Tensor, weight: tf.Tensor, eps: number): tf.Tensor {
  return tf.tidy(() => tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), weight));
}

/** A T5 MLP: the block (`wi` or `wi_1` as input, `wo` as output, `wi_0` as gate) and its LayerNorm gain. */
interface T5Mlp { block: MlpBlock; norm: tf.Variable }

interface T5EncoderLayer { selfNorm: tf.Variable; self: AttentionBlock; ff: T5Mlp }
interface T5DecoderLayer extends T5EncoderLayer { crossNorm: tf.Variable; cross: AttentionBlock }

export interface T5Inputs {
  /** Encoder token ids `[B, Ts]`, int32. */
  inputIds: tf.Tensor2D;
  /** 1 = token, 0 = padding, `[B, Ts]`; default all ones. */
  attentionMask?: tf.Tensor2D;
  /** Decoder token ids `[B, Tt]` (teacher forcing: the labels shifted right behind `decoder_start_token_id`). */
  decoderInputIds: tf.Tensor2D;
  /** `[B, Tt]`; default all ones (the decoder is causal either way). */
  decoderAttentionMask?: tf.Tensor2D;
}

export interface T5ForwardOptions {
  training?: boolean;
  /** Also return every stack's hidden states, as Hugging Face does. Default false. */
  outputHiddenStates?: boolean;
  dropoutSeed?: number;
}

export interface T5Output {
  /** `[B, Tt, vocab]`. */
  logits: tf.Tensor3D;
  /** With `outputHiddenStates`: embedding output, outputs of layers 0..n-2, final normalised output (per stack). */
  encoderHiddenStates?: tf.Tensor3D[];
  decoderHiddenStates?: tf.Tensor3D[];
}

let modelCounter = 0;

/**
 * The decoder's cache between generation steps: per decoder layer the self-attention keys/values
 * of the positions decoded so far (`[rows, heads, t, dh]`, grown each step) and the
 * cross-attention keys/values of the encoder output (computed once per example), plus the
 * encoder's padding mask. Each layer has its own head count when heads were removed.
 */
class T5DecoderCache implements DecoderState {
  constructor(
    public encMask: tf.Tensor,
    public self: ({ k: tf.Tensor; v: tf.Tensor } | null)[],
    public cross: { k: tf.Tensor; v: tf.Tensor }[],
    public length = 0,
  ) {}

  get rows(): number {
    return this.encMask.shape[0];
  }

  private tensors(): tf.Tensor[] {
    return [this.encMask, ...this.self.flatMap((c) => (c ? [c.k, c.v] : [])), ...this.cross.flatMap((c) => [c.k, c.v])];
  }

  select(rows: readonly number[]): void {
    const old = this.tensors();
    const index = tf.tensor1d(Int32Array.from(rows), 'int32');
    const take = (t: tf.Tensor) => tf.gather(t, index);
    this.encMask = take(this.encMask);
    this.self = this.self.map((c) => (c ? { k: take(c.k), v: take(c.v) } : null));
    this.cross = this.cross.map((c) => ({ k: take(c.k), v: take(c.v) }));
    index.dispose();
    tf.dispose(old);
  }

  dispose(): void {
    tf.dispose(this.tensors());
  }
}

export class T5Model extends TableModelBase<T5Config, { attention: AttentionBlock; mlp: MlpBlock }> implements EncoderDecoderModel {
  readonly shared: tf.Variable;
  readonly lmHead: tf.Variable | null;
  readonly encoder: T5EncoderLayer[];
  readonly decoder: T5DecoderLayer[];
  readonly encoderBias: tf.Variable;
  readonly decoderBias: tf.Variable;
  readonly encoderFinalNorm: tf.Variable;
  readonly decoderFinalNorm: tf.Variable;
  /** Unused by T5 (two attentions per decoder layer): the blocks are listed by `attentionBlocks()`. */
  readonly layers: { attention: AttentionBlock; mlp: MlpBlock }[] = [];

  constructor(config: T5Config, init: ParameterInit, options: { dropoutSeed?: number } = {}) {
    super(config, config.d_model, t5ParameterTable(config), init, `t5${++modelCounter}`, options.dropoutSeed);
    const vars = this.vars;
    const v = (name: string) => getVariable(vars, name);
    const lin = (name: string): Linear => linearOf(vars, name);
    const { gated, activation } = t5FeedForward(config.feed_forward_proj);
    const layouts = t5Layouts(config);
    const ne = config.num_layers;
    const heads = config.num_heads;
    const ff = (stack: 'encoder' | 'decoder', l: number, p: string): T5Mlp => ({
      block: mlpBlock(`${p}.DenseReluDense`, stack, l, activation, config.d_ff, {
        input: lin(`${p}.DenseReluDense.${gated ? 'wi_1' : 'wi'}`), output: lin(`${p}.DenseReluDense.wo`),
        ...(gated ? { gate: lin(`${p}.DenseReluDense.wi_0`) } : {}),
      }),
      norm: v(`${p}.layer_norm.weight`),
    });
    const attn = (stack: 'encoder' | 'decoder', kind: 'self' | 'cross', l: number, p: string): AttentionBlock => {
      const lay = layouts.attention[stack === 'encoder' ? l : ne + 2 * l + (kind === 'cross' ? 1 : 0)];
      const shape = { headIds: lay.headIds, headSize: config.d_kv, intermediateSize: config.d_ff, inputIndex: lay.inputIndex };
      return {
        ...attentionBlock(p, stack, l, shape, heads, { query: lin(`${p}.q`), key: lin(`${p}.k`), value: lin(`${p}.v`), output: lin(`${p}.o`) }),
        kind,
        ...(kind === 'cross' ? { contextInputIndex: lay.contextInputIndex } : {}),
      };
    };
    this.shared = v('shared.weight');
    this.lmHead = vars.get('lm_head.weight') ?? null;
    this.encoder = Array.from({ length: config.num_layers }, (_, l) => {
      const p = `${ENC}.block.${l}.layer`;
      return { selfNorm: v(`${p}.0.layer_norm.weight`), self: attn('encoder', 'self', l, `${p}.0.SelfAttention`), ff: ff('encoder', l, `${p}.1`) };
    });
    this.decoder = Array.from({ length: config.num_decoder_layers }, (_, l) => {
      const p = `${DEC}.block.${l}.layer`;
      return {
        selfNorm: v(`${p}.0.layer_norm.weight`), self: attn('decoder', 'self', l, `${p}.0.SelfAttention`),
        crossNorm: v(`${p}.1.layer_norm.weight`), cross: attn('decoder', 'cross', l, `${p}.1.EncDecAttention`),
        ff: ff('decoder', l, `${p}.2`),
      };
    });
    this.encoderBias = v(`${ENC}.block.0.layer.0.SelfAttention.${BIAS}`);
    this.decoderBias = v(`${DEC}.block.0.layer.0.SelfAttention.${BIAS}`);
    this.encoderFinalNorm = v(`${ENC}.final_layer_norm.weight`);
    this.decoderFinalNorm = v(`${DEC}.final_layer_norm.weight`);
  }

  /** A freshly initialised model, as Hugging Face's `_init_weights`. */
  static random(config: T5Config, options: { seed?: number; dropoutSeed?: number } = {}): T5Model {
    return new T5Model(config, tableInit(t5ParameterTable(config), options.seed ?? 0), options);
  }

  override attentionBlocks(): AttentionBlock[] {
    return [...this.encoder.map((l) => l.self), ...this.decoder.flatMap((l) => [l.self, l.cross])];
  }

  override mlpBlocks(): MlpBlock[] {
    return [...this.encoder.map((l) => l.ff.block), ...this.decoder.map((l) => l.ff.block)];
  }

  /** The config as the model is now: removed heads, MLP widths and input dimensions in the `neuroprune` layout (`T5Layout`). */
  currentConfig(): T5Config {
    const cfg = structuredClone(this.config);
    delete cfg.pruned_heads;
    delete cfg.neuroprune;
    return { ...cfg, ...t5CurrentLayout(this.config, this.attentionBlocks(), this.mlpBlocks()) };
  }

  /** `[1, heads, Tq, Tk]` relative-position bias of a stack's first layer. */
  private positionBias(weight: tf.Variable, tq: number, tk: number, bidirectional: boolean): tf.Tensor {
    const cfg = this.config;
    const buckets = tf.tensor1d(bucketGrid(tq, tk, bidirectional, cfg.relative_attention_num_buckets, cfg.relative_attention_max_distance), 'int32');
    const values = tf.gather(weight, buckets); // [Tq*Tk, heads]
    return values.reshape([tq, tk, weight.shape[1] as number]).transpose([2, 0, 1]).expandDims(0);
  }

  private feedForward(ff: T5Mlp, h: tf.Tensor, training: boolean): tf.Tensor {
    const cfg = this.config;
    const x = rmsNorm(h, ff.norm, cfg.layer_norm_epsilon);
    const rate = training ? cfg.dropout_rate : 0;
    const block = ff.block;
    let y: tf.Tensor;
    if (rate <= 0) {
      y = mlp(block, x);
    } else {
      // Hugging Face drops the hidden activations too (before `wo`).
      let a = activate(linear(x, block.gate ?? block.input), block.activation);
      if (block.gate) a = tf.mul(a, linear(x, block.input));
      y = linear(this.dropout(a, rate, training), block.output);
    }
    return lean.add(h, this.dropout(y, cfg.dropout_rate, training));
  }

  /**
   * `block` over the RMS-normalised stream, added back. `bias` is the stack's position bias over
   * the original heads: a block with removed heads reads the columns of its surviving ones
   * (`headIds`), as transformers' `position_bias_masked` does. The table itself keeps every head
   * because the layers of a stack share it and may keep different heads.
   */
  private attend(block: AttentionBlock, norm: tf.Variable, h: tf.Tensor, mask: tf.Tensor, bias: tf.Tensor | null, training: boolean, context?: tf.Tensor): tf.Tensor {
    const cfg = this.config;
    const rate = cfg.dropout_rate;
    const x = rmsNorm(h, norm, cfg.layer_norm_epsilon);
    const positionBias = bias && block.numHeads < block.originalNumHeads ? tf.gather(bias, block.headIds, 1) : bias;
    const a = attention(block, { x, context, additiveMask: mask, scale: 1, ...(positionBias ? { positionBias } : {}) },
      training && rate > 0 ? { rate, seed: this.drawDropoutSeed() } : undefined);
    return lean.add(h, this.dropout(a, rate, training));
  }

  /** Vocabulary logits of the decoder's final normalised output. */
  private outputLogits(out: tf.Tensor): tf.Tensor {
    // Tied output embedding: the decoder output is rescaled by d_model**-0.5 first (Mesh TensorFlow's convention).
    const x = this.lmHead ? out : lean.scale(out, this.config.d_model ** -0.5);
    return linear(x, { weight: this.lmHead ?? this.shared, bias: null });
  }

  /** The encoder stack: its final normalised output, the additive padding mask, and (with `keep`) every hidden state. */
  private runEncoder(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D | undefined, training: boolean, keep: boolean): { encoded: tf.Tensor; encMask: tf.Tensor; encHidden: tf.Tensor[] } {
    const cfg = this.config;
    const rate = cfg.dropout_rate;
    const [b, ts] = inputIds.shape;
    const encMask = paddingToAdditiveMask(attentionMask ?? tf.ones([b, ts], 'int32'));
    const encBias = this.positionBias(this.encoderBias, ts, ts, true);
    let h: tf.Tensor = this.dropout(embeddingLookup(this.shared, inputIds), rate, training);
    const encHidden: tf.Tensor[] = [h];
    for (const layer of this.encoder) {
      h = runLayer(h, keep, (x) => this.feedForward(layer.ff, this.attend(layer.self, layer.selfNorm, x, encMask, encBias, training), training));
      if (keep) encHidden.push(h);
    }
    const encoded = this.dropout(rmsNorm(h, this.encoderFinalNorm, cfg.layer_norm_epsilon), rate, training);
    if (keep) encHidden[encHidden.length - 1] = encoded;
    return { encoded, encMask, encHidden };
  }

  generationDefaults(): { decoderStartTokenId: number; padTokenId: number; eosTokenId: number | null; vocabSize: number } {
    const c = this.config;
    return { decoderStartTokenId: c.decoder_start_token_id, padTokenId: c.pad_token_id, eosTokenId: c.eos_token_id, vocabSize: c.vocab_size };
  }

  /** Runs the encoder (eval mode) and projects each decoder layer's cross-attention keys/values once. */
  encode(inputIds: tf.Tensor2D, attentionMask: tf.Tensor2D): DecoderState {
    this.beginForward(undefined);
    const { encMask, cross } = tf.tidy(() => {
      const { encoded, encMask } = this.runEncoder(inputIds, attentionMask, false, false);
      return { encMask, cross: this.decoder.map((layer) => projectKeyValues(layer.cross, encoded)) };
    });
    return new T5DecoderCache(encMask, this.decoder.map(() => null), cross);
  }

  /**
   * One decoder position for every row of `state` (eval mode): the logits of the next token,
   * `[rows, vocab]`. The self-attention of the new position reads the cached keys/values of the
   * earlier ones (no causal mask needed: they are all in the past) with the position bias of its
   * row of the causal bucket grid, sliced per surviving head as in `forward`.
   */
  decodeStep(tokens: tf.Tensor1D, state: DecoderState): tf.Tensor2D {
    if (!(state instanceof T5DecoderCache)) throw new Error('T5Model.decodeStep: the state was not made by this model\'s encode()');
    if (tokens.shape[0] !== state.rows) throw new Error(`T5Model.decodeStep: ${tokens.shape[0]} tokens for ${state.rows} rows of the decoder state`);
    this.beginForward(undefined);
    const cfg = this.config;
    const eps = cfg.layer_norm_epsilon;
    const t = state.length;
    const grown: { k: tf.Tensor; v: tf.Tensor }[] = [];
    const logits = tf.tidy(() => {
      const buckets = tf.tensor1d(Int32Array.from({ length: t + 1 }, (_, j) => relativePositionBucket(j - t, false, cfg.relative_attention_num_buckets, cfg.relative_attention_max_distance)), 'int32');
      const bias = tf.gather(this.decoderBias, buckets).transpose([1, 0]).reshape([1, cfg.num_heads, 1, t + 1]);
      let g: tf.Tensor = embeddingLookup(this.shared, tokens.reshape([-1, 1]));
      this.decoder.forEach((layer, l) => {
        const block = layer.self;
        const x = rmsNorm(g, layer.selfNorm, eps);
        const fresh = projectKeyValues(block, x);
        const past = state.self[l];
        const kv = past ? { k: tf.concat([past.k, fresh.k], 2), v: tf.concat([past.v, fresh.v], 2) } : fresh;
        grown.push({ k: tf.keep(kv.k), v: tf.keep(kv.v) });
        const positionBias = block.numHeads < block.originalNumHeads ? tf.gather(bias, block.headIds, 1) : bias;
        g = tf.add(g, attendCached(block, x, kv.k, kv.v, { scale: 1, positionBias }));
        const cross = state.cross[l];
        g = tf.add(g, attendCached(layer.cross, rmsNorm(g, layer.crossNorm, eps), cross.k, cross.v, { scale: 1, additiveMask: state.encMask }));
        g = this.feedForward(layer.ff, g, false);
      });
      const out = rmsNorm(g, this.decoderFinalNorm, eps);
      return this.outputLogits(out).reshape([tokens.shape[0], -1]) as tf.Tensor2D;
    });
    tf.dispose(state.self.flatMap((c) => (c ? [c.k, c.v] : [])));
    state.self = grown;
    state.length = t + 1;
    return logits;
  }

  /** Logits of the decoder inputs (teacher forcing) and, on request, every hidden state. */
  forward(inputs: T5Inputs, options: T5ForwardOptions = {}): T5Output {
    this.beginForward(options.dropoutSeed);
    const training = options.training ?? false;
    const keep = options.outputHiddenStates === true;
    const cfg = this.config;
    const rate = cfg.dropout_rate;
    return tf.tidy(() => {
      const b = inputs.inputIds.shape[0];
      const tt = inputs.decoderInputIds.shape[1];
      if (inputs.decoderInputIds.shape[0] !== b) throw new Error(`decoderInputIds has ${inputs.decoderInputIds.shape[0]} rows, inputIds ${b}`);
      const { encoded, encMask, encHidden } = this.runEncoder(inputs.inputIds, inputs.attentionMask, training, keep);

      const decMask = causalAdditiveMask(tt, inputs.decoderAttentionMask);
      const decBias = this.positionBias(this.decoderBias, tt, tt, false);
      let g: tf.Tensor = this.dropout(embeddingLookup(this.shared, inputs.decoderInputIds), rate, training);
      const decHidden: tf.Tensor[] = [g];
      for (const layer of this.decoder) {
        g = runLayer(g, keep, (x) => {
          const s = this.attend(layer.self, layer.selfNorm, x, decMask, decBias, training);
          const c = this.attend(layer.cross, layer.crossNorm, s, encMask, null, training, encoded);
          return this.feedForward(layer.ff, c, training);
        });
        if (keep) decHidden.push(g);
      }
      const out = this.dropout(rmsNorm(g, this.decoderFinalNorm, cfg.layer_norm_epsilon), rate, training);
      if (keep) decHidden[decHidden.length - 1] = out;
      const logits = this.outputLogits(out) as tf.Tensor3D;
      return keep
        ? { logits, encoderHiddenStates: encHidden as tf.Tensor3D[], decoderHiddenStates: decHidden as tf.Tensor3D[] }
        : { logits };
    });
  }
}
