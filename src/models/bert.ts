/**
 * BERT for sequence classification and regression, in one readable file.
 *
 * Every parameter is a `tf.Variable` with the name Hugging Face gives it
 * (`bert.encoder.layer.3.attention.self.query.weight`, ...), so a checkpoint maps one to one.
 * The attention and MLP weights live in the mutable block records of `blocks.ts` and are read at
 * every forward pass: code that removes heads or compacts a block (src/neuroprune) changes the
 * model without the model knowing. Layers may therefore differ in head count, MLP width and the
 * model input dimensions their Q/K/V read.
 *
 * Orientation is PyTorch's: `weight[out, in]`, `y = x @ weight^T + bias`.
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation, AttentionBlock, Linear, MlpBlock, PrunableModel } from './blocks';
import { mulberry32 } from '../data/random';
import { attention, dropout, layerNorm, linear, mlp, paddingToAdditiveMask } from './layers';
import * as lean from './lean';

/**
 * NeuroPrune's per-layer layout, stored in `config.json` under `"neuroprune"` beside Hugging
 * Face's `pruned_heads`, for models whose layers no longer share one shape after compaction.
 * Both fields are optional; an absent field means "as the dense config says". The config's own
 * sizes (`hidden_size`, `num_attention_heads`, `intermediate_size`) stay those of the dense model
 * before any pruning: sparsity is counted against them, by the library and the CLI alike.
 */
export interface NeuroPruneLayout {
  /** Per layer: the MLP width (rows of `intermediate.dense.weight`); default `intermediate_size`. */
  intermediate_sizes?: number[];
  /**
   * Per layer: the model input dimensions that Q/K/V still read (their weights are then
   * `[heads*dh, index.length]`, the columns of the dense weights at those dimensions), or null
   * when they read all `hidden_size` dimensions.
   */
  attention_input_index?: (number[] | null)[];
}

export type BertProblemType = 'regression' | 'single_label_classification' | 'multi_label_classification';

/** The fields of Hugging Face's `BertConfig` that the model uses, with their JSON names. */
export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: Activation;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  initializer_range: number;
  layer_norm_eps: number;
  pad_token_id: number;
  /** Size of the task head: classes, or 1 for regression (STS-B). */
  num_labels: number;
  /** Loss of the task head; when absent, regression iff `num_labels === 1` (as in HF). */
  problem_type?: BertProblemType | null;
  /** Dropout before the classifier; null or absent: `hidden_dropout_prob` (as in HF). */
  classifier_dropout?: number | null;
  /** Hugging Face's record of removed heads: layer (as a string key) to original head indices. */
  pruned_heads?: Record<string, number[]>;
  /** Per-layer sizes after compaction, see `NeuroPruneLayout`. */
  neuroprune?: NeuroPruneLayout;
  /** Class names, as Hugging Face stores them (their count is `num_labels`). */
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
}

/** Hugging Face's defaults for the optional fields (their `BertConfig.__init__`). */
export const BERT_CONFIG_DEFAULTS = {
  hidden_act: 'gelu' as Activation,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  initializer_range: 0.02,
  layer_norm_eps: 1e-12,
  pad_token_id: 0,
  num_labels: 2,
} as const;

/** The fields without a sensible default: a config that lacks one is refused. */
export const BERT_CONFIG_REQUIRED = [
  'vocab_size', 'hidden_size', 'num_hidden_layers', 'num_attention_heads',
  'intermediate_size', 'max_position_embeddings', 'type_vocab_size',
] as const;

/** The effective problem type (HF's rule when `problem_type` is unset). */
export function problemType(config: Pick<BertConfig, 'num_labels' | 'problem_type'>): BertProblemType {
  if (config.problem_type) return config.problem_type;
  return config.num_labels === 1 ? 'regression' : 'single_label_classification';
}

/** Per-layer shape facts derived from a config (pruned heads and NeuroPrune layout applied). */
export interface BertLayerLayout {
  /** Original indices of the surviving heads, ascending. */
  headIds: number[];
  headSize: number;
  intermediateSize: number;
  inputIndex: number[] | null;
}

/** Reads the per-layer layout from a config; throws on indices out of range. */
export function layerLayouts(config: BertConfig): BertLayerLayout[] {
  const { num_hidden_layers: n, num_attention_heads: k, hidden_size: d } = config;
  const headSize = d / k;
  const out: BertLayerLayout[] = [];
  for (let l = 0; l < n; l++) {
    const pruned = new Set(config.pruned_heads?.[String(l)] ?? []);
    for (const h of pruned) {
      if (!Number.isInteger(h) || h < 0 || h >= k) throw new Error(`pruned_heads[${l}] names head ${h}, but layers have ${k} heads`);
    }
    const headIds = Array.from({ length: k }, (_, h) => h).filter((h) => !pruned.has(h));
    const intermediateSize = config.neuroprune?.intermediate_sizes?.[l] ?? config.intermediate_size;
    const inputIndex = config.neuroprune?.attention_input_index?.[l] ?? null;
    if (inputIndex) {
      for (const j of inputIndex) {
        if (!Number.isInteger(j) || j < 0 || j >= d) throw new Error(`neuroprune.attention_input_index[${l}] holds ${j}, outside 0..${d - 1}`);
      }
    }
    out.push({ headIds, headSize, intermediateSize, inputIndex: inputIndex ? [...inputIndex] : null });
  }
  return out;
}

/**
 * The name and shape of every parameter, in Hugging Face's names and order, for a config
 * (pruned heads and per-layer widths applied). The checkpoint loader checks files against it
 * before it creates a single tensor.
 */
export function bertParameterShapes(config: BertConfig): Map<string, number[]> {
  const d = config.hidden_size;
  const shapes = new Map<string, number[]>();
  const add = (name: string, shape: number[]) => shapes.set(name, shape);
  const e = 'bert.embeddings';
  add(`${e}.word_embeddings.weight`, [config.vocab_size, d]);
  add(`${e}.position_embeddings.weight`, [config.max_position_embeddings, d]);
  add(`${e}.token_type_embeddings.weight`, [config.type_vocab_size, d]);
  add(`${e}.LayerNorm.weight`, [d]);
  add(`${e}.LayerNorm.bias`, [d]);
  layerLayouts(config).forEach((lay, l) => {
    const p = `bert.encoder.layer.${l}`;
    const a = lay.headIds.length * lay.headSize;
    const inDim = lay.inputIndex ? lay.inputIndex.length : d;
    for (const m of ['query', 'key', 'value']) {
      add(`${p}.attention.self.${m}.weight`, [a, inDim]);
      add(`${p}.attention.self.${m}.bias`, [a]);
    }
    add(`${p}.attention.output.dense.weight`, [d, a]);
    add(`${p}.attention.output.dense.bias`, [d]);
    add(`${p}.attention.output.LayerNorm.weight`, [d]);
    add(`${p}.attention.output.LayerNorm.bias`, [d]);
    add(`${p}.intermediate.dense.weight`, [lay.intermediateSize, d]);
    add(`${p}.intermediate.dense.bias`, [lay.intermediateSize]);
    add(`${p}.output.dense.weight`, [d, lay.intermediateSize]);
    add(`${p}.output.dense.bias`, [d]);
    add(`${p}.output.LayerNorm.weight`, [d]);
    add(`${p}.output.LayerNorm.bias`, [d]);
  });
  add('bert.pooler.dense.weight', [d, d]);
  add('bert.pooler.dense.bias', [d]);
  add('classifier.weight', [config.num_labels, d]);
  add('classifier.bias', [config.num_labels]);
  return shapes;
}

/** Supplies the initial value of one parameter; the model takes ownership of the tensor. */
export type ParameterInit = (name: string, shape: number[]) => tf.Tensor;

interface LayerNormParams { weight: tf.Variable; bias: tf.Variable }

interface BertLayer {
  attention: AttentionBlock;
  attentionLayerNorm: LayerNormParams;
  mlp: MlpBlock;
  outputLayerNorm: LayerNormParams;
}

/** Model inputs; all `[batch, seq]`. */
export interface BertInputs {
  /** Token ids, int32. */
  inputIds: tf.Tensor2D;
  /** 1 = token, 0 = padding; default all ones. */
  attentionMask?: tf.Tensor2D;
  /** Segment ids, int32; default all zeros. */
  tokenTypeIds?: tf.Tensor2D;
}

export interface BertForwardOptions {
  /** Apply dropout (training). Default false: evaluation, deterministic. */
  training?: boolean;
  /** Also return the embedding output and every layer's output. Default false. */
  outputHiddenStates?: boolean;
  /**
   * Seed of this call's dropout masks. Default: the next seeds of the model's own stream. A
   * trainer passes a function of (run seed, step), so a resumed run draws the same masks.
   */
  dropoutSeed?: number;
}

export interface BertOutput {
  /** `[batch, num_labels]`. */
  logits: tf.Tensor2D;
  /** With `outputHiddenStates`: `num_hidden_layers + 1` tensors `[batch, seq, hidden]`, embeddings first. */
  hiddenStates?: tf.Tensor3D[];
}

export interface BertRandomOptions {
  /** Seed of the weights. Default 0. */
  seed?: number;
}

export interface BertModelOptions {
  /** Seed of the dropout masks; the same seed and call sequence gives the same masks. Default 0. */
  dropoutSeed?: number;
}

let modelCounter = 0;

/** A seeded stream in [0, 1) (mulberry32), used only to draw a fresh seed per dropout mask. */
function seededRandom(seed: number): () => number {
  const rng = mulberry32(seed);
  return () => rng.next();
}

/** `BertForSequenceClassification`: encoder, pooler, classifier (or regression head). */
export class BertForSequenceClassification implements PrunableModel {
  readonly config: BertConfig;
  readonly hiddenSize: number;

  readonly embeddings: {
    wordEmbeddings: tf.Variable;
    positionEmbeddings: tf.Variable;
    tokenTypeEmbeddings: tf.Variable;
    layerNorm: LayerNormParams;
  };
  readonly layers: BertLayer[];
  readonly pooler: Linear;
  readonly classifier: Linear;

  private readonly uid = `m${++modelCounter}`;
  private nextDropoutSeed: () => number;
  private disposed = false;

  /**
   * Builds the model, asking `init` for every parameter of `bertParameterShapes(config)`.
   * If `init` throws, the variables made so far are disposed before the error propagates.
   */
  constructor(config: BertConfig, init: ParameterInit, options: BertModelOptions = {}) {
    this.config = structuredClone(config);
    this.hiddenSize = config.hidden_size;
    this.nextDropoutSeed = seededRandom(options.dropoutSeed ?? 0);
    if (config.hidden_size % config.num_attention_heads !== 0) {
      throw new Error(`hidden_size ${config.hidden_size} is not a multiple of num_attention_heads ${config.num_attention_heads}`);
    }
    const shapes = bertParameterShapes(config);
    const made: tf.Variable[] = [];
    const v = (name: string): tf.Variable => {
      const shape = shapes.get(name);
      if (!shape) throw new Error(`BERT has no parameter ${name}`);
      const value = init(name, shape);
      try {
        if (!sameShape(value.shape, shape)) {
          throw new Error(`parameter ${name}: expected shape [${shape}], got [${value.shape}]`);
        }
        const variable = tf.variable(value, true, `${name}_${this.uid}`);
        made.push(variable);
        return variable;
      } finally {
        value.dispose();
      }
    };
    const lin = (prefix: string): Linear => ({ weight: v(`${prefix}.weight`), bias: v(`${prefix}.bias`) });
    const ln = (prefix: string): LayerNormParams => ({ weight: v(`${prefix}.weight`), bias: v(`${prefix}.bias`) });
    try {
      this.embeddings = {
        wordEmbeddings: v('bert.embeddings.word_embeddings.weight'),
        positionEmbeddings: v('bert.embeddings.position_embeddings.weight'),
        tokenTypeEmbeddings: v('bert.embeddings.token_type_embeddings.weight'),
        layerNorm: ln('bert.embeddings.LayerNorm'),
      };
      this.layers = layerLayouts(config).map((lay, l) => {
        const p = `bert.encoder.layer.${l}`;
        const attentionBlock: AttentionBlock = {
          name: `${p}.attention`,
          layer: l,
          numHeads: lay.headIds.length,
          headSize: lay.headSize,
          headIds: lay.headIds,
          originalNumHeads: config.num_attention_heads,
          query: lin(`${p}.attention.self.query`),
          key: lin(`${p}.attention.self.key`),
          value: lin(`${p}.attention.self.value`),
          output: lin(`${p}.attention.output.dense`),
          inputIndex: lay.inputIndex,
        };
        const attentionLayerNorm = ln(`${p}.attention.output.LayerNorm`);
        const mlpBlock: MlpBlock = {
          name: p,
          layer: l,
          activation: config.hidden_act,
          input: lin(`${p}.intermediate.dense`),
          output: lin(`${p}.output.dense`),
          // The config's sizes are the dense model's (compaction writes its widths to `neuroprune`
          // and never rewrites them): the one source of the widths that sparsity is counted against.
          originalIntermediateSize: config.intermediate_size,
        };
        return { attention: attentionBlock, attentionLayerNorm, mlp: mlpBlock, outputLayerNorm: ln(`${p}.output.LayerNorm`) };
      });
      this.pooler = lin('bert.pooler.dense');
      this.classifier = lin('classifier');
    } catch (err) {
      for (const m of made) m.dispose();
      throw err;
    }
  }

  /**
   * A freshly initialised model, as Hugging Face's `_init_weights`: linear weights and embeddings
   * from N(0, initializer_range), the padding token's embedding row zero, biases zero,
   * LayerNorm gains one. The same seed gives the same weights on every backend.
   */
  static random(config: BertConfig, options: BertRandomOptions & BertModelOptions = {}): BertForSequenceClassification {
    return new BertForSequenceClassification(config, randomInit(config, options.seed ?? 0), options);
  }

  attentionBlocks(): AttentionBlock[] {
    return this.layers.map((l) => l.attention);
  }

  mlpBlocks(): MlpBlock[] {
    return this.layers.map((l) => l.mlp);
  }

  /**
   * Every parameter with its Hugging Face name, in checkpoint order. Read from the block records
   * on each call, so it follows head removal and compaction.
   */
  namedParameters(): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    const e = this.embeddings;
    out.set('bert.embeddings.word_embeddings.weight', e.wordEmbeddings);
    out.set('bert.embeddings.position_embeddings.weight', e.positionEmbeddings);
    out.set('bert.embeddings.token_type_embeddings.weight', e.tokenTypeEmbeddings);
    out.set('bert.embeddings.LayerNorm.weight', e.layerNorm.weight);
    out.set('bert.embeddings.LayerNorm.bias', e.layerNorm.bias);
    const lin = (prefix: string, l: Linear) => {
      out.set(`${prefix}.weight`, l.weight);
      if (l.bias) out.set(`${prefix}.bias`, l.bias);
    };
    this.layers.forEach((layer, i) => {
      const p = `bert.encoder.layer.${i}`;
      lin(`${p}.attention.self.query`, layer.attention.query);
      lin(`${p}.attention.self.key`, layer.attention.key);
      lin(`${p}.attention.self.value`, layer.attention.value);
      lin(`${p}.attention.output.dense`, layer.attention.output);
      out.set(`${p}.attention.output.LayerNorm.weight`, layer.attentionLayerNorm.weight);
      out.set(`${p}.attention.output.LayerNorm.bias`, layer.attentionLayerNorm.bias);
      lin(`${p}.intermediate.dense`, layer.mlp.input);
      lin(`${p}.output.dense`, layer.mlp.output);
      out.set(`${p}.output.LayerNorm.weight`, layer.outputLayerNorm.weight);
      out.set(`${p}.output.LayerNorm.bias`, layer.outputLayerNorm.bias);
    });
    lin('bert.pooler.dense', this.pooler);
    lin('classifier', this.classifier);
    return out;
  }

  /** The trainable variables (for `optimizer.minimize` / `tf.variableGrads`). */
  trainableVariables(): tf.Variable[] {
    return [...this.namedParameters().values()].filter((v) => v.trainable);
  }

  /**
   * The config that describes the model as it is now: `pruned_heads` from the blocks' `headIds`
   * and, when a layer differs from the dense shape, the `neuroprune` layout. Used by save.
   */
  currentConfig(): BertConfig {
    const cfg: BertConfig = structuredClone(this.config);
    const k = cfg.num_attention_heads;
    const pruned: Record<string, number[]> = {};
    const sizes: number[] = [];
    const inputIndex: (number[] | null)[] = [];
    this.layers.forEach((layer, l) => {
      const kept = new Set(layer.attention.headIds);
      const gone = Array.from({ length: k }, (_, h) => h).filter((h) => !kept.has(h));
      if (gone.length > 0) pruned[String(l)] = gone;
      sizes.push(layer.mlp.input.weight.shape[0]);
      inputIndex.push(layer.attention.inputIndex ? [...layer.attention.inputIndex] : null);
    });
    if (Object.keys(pruned).length > 0) cfg.pruned_heads = pruned; else delete cfg.pruned_heads;
    const layout: NeuroPruneLayout = {};
    if (sizes.some((s) => s !== cfg.intermediate_size)) layout.intermediate_sizes = sizes;
    if (inputIndex.some((x) => x !== null)) layout.attention_input_index = inputIndex;
    if (Object.keys(layout).length > 0) cfg.neuroprune = layout; else delete cfg.neuroprune;
    return cfg;
  }

  private drawDropoutSeed(): number {
    return Math.floor(this.nextDropoutSeed() * 2 ** 31);
  }

  private dropout(x: tf.Tensor, rate: number, training: boolean): tf.Tensor {
    if (!training || rate <= 0) return x;
    return dropout(x, rate, this.drawDropoutSeed());
  }

  /** Embedding output `[batch, seq, hidden]`: word + position + token type, LayerNorm, dropout. */
  embed(inputs: BertInputs, training = false): tf.Tensor3D {
    return tf.tidy(() => {
      const t = inputs.inputIds.shape[1];
      if (t > this.config.max_position_embeddings) {
        throw new Error(`sequence length ${t} exceeds max_position_embeddings ${this.config.max_position_embeddings}`);
      }
      const e = this.embeddings;
      const words = embeddingLookup(e.wordEmbeddings, inputs.inputIds);
      // Positions are the same for every row: one [1, T, d] slice broadcast over the batch.
      const positions = tf.slice(e.positionEmbeddings, [0, 0], [t, -1]).expandDims(0);
      const types = inputs.tokenTypeIds
        ? embeddingLookup(e.tokenTypeEmbeddings, inputs.tokenTypeIds)
        : tf.slice(e.tokenTypeEmbeddings, [0, 0], [1, -1]).expandDims(0);
      let h = lean.add(lean.add(words, positions), types);
      h = layerNorm(h, e.layerNorm.weight, e.layerNorm.bias, this.config.layer_norm_eps);
      return this.dropout(h, this.config.hidden_dropout_prob, training) as tf.Tensor3D;
    });
  }

  /** One post-LN encoder layer. */
  private layer(layer: BertLayer, h: tf.Tensor, additiveMask: tf.Tensor | undefined, training: boolean): tf.Tensor {
    const cfg = this.config;
    const block = layer.attention;
    let a: tf.Tensor;
    if (block.numHeads === 0) {
      // Every head removed: the block contributes only its output bias (as HF with all heads pruned).
      a = block.output.bias ? tf.add(tf.zerosLike(h), block.output.bias) : tf.zerosLike(h);
    } else {
      const rate = cfg.attention_probs_dropout_prob;
      a = attention(block, { x: h, additiveMask }, training && rate > 0 ? { rate, seed: this.drawDropoutSeed() } : undefined);
    }
    a = this.dropout(a, cfg.hidden_dropout_prob, training);
    h = layerNorm(lean.add(a, h), layer.attentionLayerNorm.weight, layer.attentionLayerNorm.bias, cfg.layer_norm_eps);
    let m = mlp(layer.mlp, h);
    m = this.dropout(m, cfg.hidden_dropout_prob, training);
    return layerNorm(lean.add(m, h), layer.outputLayerNorm.weight, layer.outputLayerNorm.bias, cfg.layer_norm_eps);
  }

  /** Logits `[batch, num_labels]` and, on request, all hidden states. */
  forward(inputs: BertInputs, options: BertForwardOptions = {}): BertOutput {
    if (this.disposed) throw new Error('BertForSequenceClassification: forward after dispose()');
    const training = options.training ?? false;
    if (options.dropoutSeed !== undefined) this.nextDropoutSeed = seededRandom(options.dropoutSeed);
    const result = tf.tidy(() => {
      const additiveMask = inputs.attentionMask ? paddingToAdditiveMask(inputs.attentionMask) : undefined;
      let h: tf.Tensor = this.embed(inputs, training);
      const hidden: tf.Tensor[] = [h];
      for (const layer of this.layers) {
        // Each layer's temporaries go as soon as its output exists, instead of at the end of the
        // outer tidy. Under a gradient tape this frees only what the backward pass does not read:
        // the tape holds its own references to the tensors it saved. In evaluation the layer's
        // input goes too (as under PyTorch's no_grad).
        const input = h;
        h = tf.tidy(() => this.layer(layer, input, additiveMask, training));
        if (options.outputHiddenStates) hidden.push(h);
        else if (input !== h) input.dispose();
      }
      const [b, , d] = h.shape;
      const first = tf.slice(h, [0, 0, 0], [b, 1, d]).reshape([b, d]);
      const pooled = tf.tanh(linear(first, this.pooler));
      const rate = this.config.classifier_dropout ?? this.config.hidden_dropout_prob;
      const logits = linear(this.dropout(pooled, rate, training), this.classifier) as tf.Tensor2D;
      return options.outputHiddenStates ? { logits, hiddenStates: hidden as tf.Tensor3D[] } : { logits };
    });
    return result;
  }

  /** Frees every variable. The model is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const v of this.namedParameters().values()) v.dispose();
    this.disposed = true;
  }
}

/**
 * `table[ids]` (`[...ids.shape, d]`) whose gradient is a scatter-add of the upstream rows
 * (`scatterND` sums rows that share an index). TF.js's own gradient of `gather` is
 * `UnsortedSegmentSum`, which the cpu backend runs as one masked reduction per table row:
 * minutes per step for a 30k-token vocabulary, against milliseconds for the scatter.
 */
export function embeddingLookup(table: tf.Tensor, ids: tf.Tensor): tf.Tensor {
  const [rows, d] = table.shape;
  // The typings want a variadic function; the one input is the table (ids get no gradient).
  const lookup = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const t = args[0] as tf.Tensor;
    // Saved, not captured: the caller may dispose `ids` (e.g. in a tidy) before the backward pass runs.
    const save = args[args.length - 1] as tf.GradSaveFunc;
    save([ids]);
    const value = tf.gather(t, ids);
    const gradFunc = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
      tf.scatterND(tf.reshape(saved[0], [-1, 1]), tf.reshape(dy as tf.Tensor, [-1, d]), [rows, d]);
    return { value, gradFunc };
  }) as Parameters<typeof tf.customGrad>[0]);
  return lookup(table);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** FNV-1a hash of a name, to give each parameter its own reproducible random stream. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** HF's `_init_weights` as a `ParameterInit`; seeds derive from the model seed and the name. */
export function randomInit(config: BertConfig, seed: number): ParameterInit {
  return (name, shape) => tf.tidy(() => {
    if (name.endsWith('LayerNorm.weight')) return tf.ones(shape);
    if (name.endsWith('.bias')) return tf.zeros(shape);
    const w = tf.randomNormal(shape, 0, config.initializer_range, 'float32', (seed * 1_000_003 + hashName(name)) % 2 ** 31);
    if (name === 'bert.embeddings.word_embeddings.weight' && config.pad_token_id >= 0 && config.pad_token_id < shape[0]) {
      const keep = tf.oneHot([config.pad_token_id], shape[0]).reshape([shape[0], 1]);
      return tf.mul(w, tf.sub(1, keep));
    }
    return w;
  });
}

export interface LossOptions {
  /** Which loss; default from the config's rule (regression iff one label). */
  problemType: BertProblemType;
}

/**
 * The task loss of Hugging Face's `BertForSequenceClassification`, averaged over the batch:
 * regression: MSE between `logits[:, 0]` and float labels `[B]`;
 * single-label: cross-entropy of softmax(logits) against int32 class ids `[B]`;
 * multi-label: binary cross-entropy with logits against 0/1 targets `[B, num_labels]`.
 */
export function sequenceClassificationLoss(logits: tf.Tensor2D, labels: tf.Tensor, options: LossOptions): tf.Scalar {
  return tf.tidy(() => {
    const [b, n] = logits.shape;
    switch (options.problemType) {
      case 'regression': {
        if (n !== 1) throw new Error(`regression loss needs logits [B, 1], got [${logits.shape}]`);
        const y = tf.cast(labels, 'float32').reshape([b]);
        return tf.mean(tf.square(tf.sub(logits.reshape([b]), y))) as tf.Scalar;
      }
      case 'single_label_classification': {
        if (labels.size !== b) throw new Error(`classification labels must be [${b}], got [${labels.shape}]`);
        const logp = tf.logSoftmax(logits, -1);
        const onehot = tf.oneHot(tf.cast(labels, 'int32').reshape([b]), n);
        return tf.neg(tf.mean(tf.sum(tf.mul(onehot, logp), -1))) as tf.Scalar;
      }
      case 'multi_label_classification': {
        const y = tf.cast(labels, 'float32').reshape([b, n]);
        // BCE with logits, stable form: max(x,0) - x*y + log(1 + exp(-|x|)).
        const loss = tf.add(tf.sub(tf.relu(logits), tf.mul(logits, y)), tf.log1p(tf.exp(tf.neg(tf.abs(logits)))));
        return tf.mean(loss) as tf.Scalar;
      }
    }
  });
}

/** `sequenceClassificationLoss` with the problem type the config implies. */
export function bertLoss(model: BertForSequenceClassification, logits: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
  return sequenceClassificationLoss(logits, labels, { problemType: problemType(model.config) });
}
