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
import type { Activation, AttentionBlock, Linear, MlpBlock } from './blocks';
import { TableModelBase } from './tableModel';
import { attention, layerNorm, linear, mlp, paddingToAdditiveMask, runLayer } from './layers';
import { attentionBlock, layerLayouts as denseLayerLayouts, mlpBlock, type LayerLayout, type NeuroPruneLayout } from './layout';
import {
  attentionRole, getVariable, linearOf, mlpRole, parameterShapes, TableBuilder, tableInit, type ParameterInit, type ParamSpec,
} from './parameters';
import { problemType, sequenceClassificationLoss, type ProblemType } from './losses';
import * as lean from './lean';

export type { NeuroPruneLayout } from './layout';
export type { ParameterInit } from './parameters';
export { problemType, sequenceClassificationLoss, type LossOptions } from './losses';

export type BertProblemType = ProblemType;

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

export type BertLayerLayout = LayerLayout;

/** Reads the per-layer layout from a config; throws on indices out of range. */
export function layerLayouts(config: BertConfig): BertLayerLayout[] {
  return denseLayerLayouts({
    numLayers: config.num_hidden_layers, numHeads: config.num_attention_heads, hiddenSize: config.hidden_size,
    intermediateSize: config.intermediate_size, prunedHeads: config.pruned_heads, layout: config.neuroprune,
  });
}

/**
 * BERT's parameter table: every parameter in Hugging Face's names and order, with its shape for
 * this config (pruned heads and per-layer widths applied), its initialisation (HF's
 * `_init_weights`) and, for attention and MLP weights, its place among the blocks.
 */
export function bertParameterTable(config: BertConfig): ParamSpec[] {
  const d = config.hidden_size;
  const normal = { kind: 'normal', std: config.initializer_range } as const;
  const t = new TableBuilder(normal);
  const add = t.add.bind(t);
  const ln = (prefix: string) => t.layerNorm(prefix, d);
  const e = 'bert.embeddings';
  add(`${e}.word_embeddings.weight`, [config.vocab_size, d], { ...normal, zeroRow: config.pad_token_id });
  add(`${e}.position_embeddings.weight`, [config.max_position_embeddings, d]);
  add(`${e}.token_type_embeddings.weight`, [config.type_vocab_size, d]);
  ln(`${e}.LayerNorm`);
  layerLayouts(config).forEach((lay, l) => {
    const p = `bert.encoder.layer.${l}`;
    const a = lay.headIds.length * lay.headSize;
    const inDim = lay.inputIndex ? lay.inputIndex.length : d;
    const attn = attentionRole(l);
    const mlp = mlpRole(l);
    for (const m of ['query', 'key', 'value'] as const) {
      add(`${p}.attention.self.${m}.weight`, [a, inDim], normal, attn(m, 'weight'));
      add(`${p}.attention.self.${m}.bias`, [a], { kind: 'zeros' }, attn(m, 'bias'));
    }
    add(`${p}.attention.output.dense.weight`, [d, a], normal, attn('output', 'weight'));
    add(`${p}.attention.output.dense.bias`, [d], { kind: 'zeros' }, attn('output', 'bias'));
    ln(`${p}.attention.output.LayerNorm`);
    add(`${p}.intermediate.dense.weight`, [lay.intermediateSize, d], normal, mlp('input', 'weight'));
    add(`${p}.intermediate.dense.bias`, [lay.intermediateSize], { kind: 'zeros' }, mlp('input', 'bias'));
    add(`${p}.output.dense.weight`, [d, lay.intermediateSize], normal, mlp('output', 'weight'));
    add(`${p}.output.dense.bias`, [d], { kind: 'zeros' }, mlp('output', 'bias'));
    ln(`${p}.output.LayerNorm`);
  });
  add('bert.pooler.dense.weight', [d, d]);
  add('bert.pooler.dense.bias', [d], { kind: 'zeros' });
  add('classifier.weight', [config.num_labels, d]);
  add('classifier.bias', [config.num_labels], { kind: 'zeros' });
  return t.specs;
}

/**
 * The name and shape of every parameter, in Hugging Face's names and order, for a config
 * (pruned heads and per-layer widths applied). The checkpoint loader checks files against it
 * before it creates a single tensor.
 */
export function bertParameterShapes(config: BertConfig): Map<string, number[]> {
  return parameterShapes(bertParameterTable(config));
}

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

/** `BertForSequenceClassification`: encoder, pooler, classifier (or regression head). */
export class BertForSequenceClassification extends TableModelBase<BertConfig, BertLayer> {

  readonly embeddings: {
    wordEmbeddings: tf.Variable;
    positionEmbeddings: tf.Variable;
    tokenTypeEmbeddings: tf.Variable;
    layerNorm: LayerNormParams;
  };
  readonly layers: BertLayer[];
  readonly pooler: Linear;
  readonly classifier: Linear;


  /**
   * Builds the model, asking `init` for every parameter of `bertParameterShapes(config)`.
   * If `init` throws, the variables made so far are disposed before the error propagates.
   */
  constructor(config: BertConfig, init: ParameterInit, options: BertModelOptions = {}) {
    super(config, config.hidden_size, bertParameterTable(config), init, `m${++modelCounter}`, options.dropoutSeed);
    const vars = this.vars;
    const v = (name: string) => getVariable(vars, name);
    const lin = (prefix: string): Linear => linearOf(vars, prefix);
    const ln = (prefix: string): LayerNormParams => ({ weight: v(`${prefix}.weight`), bias: v(`${prefix}.bias`) });
    this.embeddings = {
      wordEmbeddings: v('bert.embeddings.word_embeddings.weight'),
      positionEmbeddings: v('bert.embeddings.position_embeddings.weight'),
      tokenTypeEmbeddings: v('bert.embeddings.token_type_embeddings.weight'),
      layerNorm: ln('bert.embeddings.LayerNorm'),
    };
    this.layers = layerLayouts(config).map((lay, l) => {
      const p = `bert.encoder.layer.${l}`;
      const attention = attentionBlock(`${p}.attention`, 'encoder', l, lay, config.num_attention_heads, {
        query: lin(`${p}.attention.self.query`),
        key: lin(`${p}.attention.self.key`),
        value: lin(`${p}.attention.self.value`),
        output: lin(`${p}.attention.output.dense`),
      });
      const attentionLayerNorm = ln(`${p}.attention.output.LayerNorm`);
      const mlp = mlpBlock(p, 'encoder', l, config.hidden_act, config.intermediate_size, { input: lin(`${p}.intermediate.dense`), output: lin(`${p}.output.dense`) });
      return { attention, attentionLayerNorm, mlp, outputLayerNorm: ln(`${p}.output.LayerNorm`) };
    });
    this.pooler = lin('bert.pooler.dense');
    this.classifier = lin('classifier');
  }

  /**
   * A freshly initialised model, as Hugging Face's `_init_weights`: linear weights and embeddings
   * from N(0, initializer_range), the padding token's embedding row zero, biases zero,
   * LayerNorm gains one. The same seed gives the same weights on every backend.
   */
  static random(config: BertConfig, options: BertRandomOptions & BertModelOptions = {}): BertForSequenceClassification {
    return new BertForSequenceClassification(config, randomInit(config, options.seed ?? 0), options);
  }


  /**
   * The config that describes the model as it is now: `pruned_heads` from the blocks' `headIds`
   * and, when a layer differs from the dense shape, the `neuroprune` layout. Used by save.
   */
  currentConfig(): BertConfig {
    return this.prunedConfig(this.config.num_attention_heads, this.config.intermediate_size);
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
    this.beginForward(options.dropoutSeed);
    const training = options.training ?? false;
    const result = tf.tidy(() => {
      const additiveMask = inputs.attentionMask ? paddingToAdditiveMask(inputs.attentionMask) : undefined;
      let h: tf.Tensor = this.embed(inputs, training);
      const hidden: tf.Tensor[] = [h];
      const keep = options.outputHiddenStates === true;
      for (const layer of this.layers) {
        h = runLayer(h, keep, (x) => this.layer(layer, x, additiveMask, training));
        if (keep) hidden.push(h);
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

/** HF's `_init_weights` as a `ParameterInit`; seeds derive from the model seed and the name. */
export function randomInit(config: BertConfig, seed: number): ParameterInit {
  return tableInit(bertParameterTable(config), seed);
}

/** `sequenceClassificationLoss` with the problem type the config implies. */
export function bertLoss(model: BertForSequenceClassification, logits: tf.Tensor2D, labels: tf.Tensor): tf.Scalar {
  return sequenceClassificationLoss(logits, labels, { problemType: problemType(model.config) });
}
