/**
 * OPT (`OPTForCausalLM`, `OPTForSequenceClassification`) as transformers 4.57 computes it.
 *
 * A decoder-only transformer: token embeddings (optionally `project_in` from a narrower
 * `word_embed_proj_dim`) plus learned positions read at `cumsum(mask) - 1 + 2` (OPT's offset of
 * 2; padding reads row 1), then layers of pre-LayerNorm (or, with `do_layer_norm_before: false`,
 * post-LayerNorm) causal self-attention and a ReLU MLP (`fc1`/`fc2`), a final LayerNorm, an
 * optional `project_out`, and a head: the output embedding tied to the input one (causal LM), or
 * `score` read at each row's last non-padding token (sequence classification).
 *
 * Attention and MLP weights live in the block records of `blocks.ts`, so the NeuroPrune core
 * prunes and compacts OPT as it does BERT; the parameter table (`optParameterTable`) gives the
 * Hugging Face names, shapes and initialisation.
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation, AttentionBlock, Linear, MlpBlock } from './blocks';
import { embeddingLookup } from './bert';
import { TableModelBase } from './tableModel';
import {
  causalAdditiveMask, decoderHeadLogits,
  type DecoderConfigBase, type DecoderForwardOptions, type DecoderInputs, type DecoderOutput,
} from './decoder';
import { attention, layerNorm, linear, mlp, runLayer } from './layers';
import * as lean from './lean';
import { attentionBlock, layerLayouts, mlpBlock } from './layout';
import {
  attentionRole, getVariable, linearOf, mlpRole, TableBuilder, tableInit, type ParameterInit, type ParamSpec,
} from './parameters';

/** The fields of Hugging Face's `OPTConfig` that the model uses, with their JSON names. */
export interface OptConfig extends DecoderConfigBase {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  ffn_dim: number;
  max_position_embeddings: number;
  word_embed_proj_dim: number;
  do_layer_norm_before: boolean;
  /** Hugging Face's `_remove_final_layer_norm` (old checkpoints without a final LayerNorm). */
  _remove_final_layer_norm: boolean;
  enable_bias: boolean;
  activation_function: Activation;
  dropout: number;
  attention_dropout: number;
  init_std: number;
}

/** OPT's positions are read `offset` rows down the table (`OPTLearnedPositionalEmbedding`). */
export const OPT_POSITION_OFFSET = 2;
const LAYER_NORM_EPS = 1e-5; // nn.LayerNorm's default, which OPT uses

const P = 'model.decoder';

function optLayouts(config: OptConfig) {
  return layerLayouts({
    numLayers: config.num_hidden_layers, numHeads: config.num_attention_heads, hiddenSize: config.hidden_size,
    intermediateSize: config.ffn_dim, prunedHeads: config.pruned_heads, layout: config.neuroprune,
  });
}

function hasFinalLayerNorm(config: OptConfig): boolean {
  return config.do_layer_norm_before && !config._remove_final_layer_norm;
}

/** OPT's parameter table in Hugging Face's names (module order), for this config and head. */
export function optParameterTable(config: OptConfig): ParamSpec[] {
  const d = config.hidden_size;
  const e = config.word_embed_proj_dim;
  const normal = { kind: 'normal', std: config.init_std } as const;
  const t = new TableBuilder(normal);
  const add = t.add.bind(t);
  const ln = (prefix: string) => t.layerNorm(prefix, d);
  const bias = (name: string, shape: number[], role?: ParamSpec['role']) => { if (config.enable_bias) add(name, shape, { kind: 'zeros' }, role); };
  add(`${P}.embed_tokens.weight`, [config.vocab_size, e], config.pad_token_id !== null ? { ...normal, zeroRow: config.pad_token_id } : normal);
  add(`${P}.embed_positions.weight`, [config.max_position_embeddings + OPT_POSITION_OFFSET, d]);
  if (e !== d) {
    add(`${P}.project_out.weight`, [e, d]);
    add(`${P}.project_in.weight`, [d, e]);
  }
  if (hasFinalLayerNorm(config)) ln(`${P}.final_layer_norm`);
  optLayouts(config).forEach((lay, l) => {
    const p = `${P}.layers.${l}`;
    const a = lay.headIds.length * lay.headSize;
    const inDim = lay.inputIndex ? lay.inputIndex.length : d;
    const attn = attentionRole(l);
    const mlp = mlpRole(l);
    for (const [m, linear] of [['k_proj', 'key'], ['v_proj', 'value'], ['q_proj', 'query']] as const) {
      add(`${p}.self_attn.${m}.weight`, [a, inDim], normal, attn(linear, 'weight'));
      bias(`${p}.self_attn.${m}.bias`, [a], attn(linear, 'bias'));
    }
    add(`${p}.self_attn.out_proj.weight`, [d, a], normal, attn('output', 'weight'));
    bias(`${p}.self_attn.out_proj.bias`, [d], attn('output', 'bias'));
    ln(`${p}.self_attn_layer_norm`);
    add(`${p}.fc1.weight`, [lay.intermediateSize, d], normal, mlp('input', 'weight'));
    bias(`${p}.fc1.bias`, [lay.intermediateSize], mlp('input', 'bias'));
    add(`${p}.fc2.weight`, [d, lay.intermediateSize], normal, mlp('output', 'weight'));
    bias(`${p}.fc2.bias`, [d], mlp('output', 'bias'));
    ln(`${p}.final_layer_norm`);
  });
  if (config.task === 'sequence_classification') add('score.weight', [config.num_labels, e]);
  else if (!config.tie_word_embeddings) add('lm_head.weight', [config.vocab_size, e]);
  return t.specs;
}

interface LayerNormParams { weight: tf.Variable; bias: tf.Variable }

interface OptLayer {
  attention: AttentionBlock;
  attentionLayerNorm: LayerNormParams;
  mlp: MlpBlock;
  finalLayerNorm: LayerNormParams;
}

export interface OptModelOptions {
  /** Seed of the dropout masks; the same seed and call sequence gives the same masks. Default 0. */
  dropoutSeed?: number;
}

let modelCounter = 0;

/** `OPTForCausalLM` or `OPTForSequenceClassification`, as `config.task` says. */
export class OptModel extends TableModelBase<OptConfig, OptLayer> {
  /** Longest sequence the position table covers. */
  readonly maxPositions: number;
  readonly embedTokens: tf.Variable;
  readonly embedPositions: tf.Variable;
  readonly projectIn: tf.Variable | null;
  readonly projectOut: tf.Variable | null;
  readonly finalLayerNorm: LayerNormParams | null;
  readonly layers: OptLayer[];
  /** `score` (classification) or an untied `lm_head`; null for the tied causal-LM head. */
  readonly head: tf.Variable | null;


  constructor(config: OptConfig, init: ParameterInit, options: OptModelOptions = {}) {
    super(config, config.hidden_size, optParameterTable(config), init, `opt${++modelCounter}`, options.dropoutSeed);
    this.maxPositions = config.max_position_embeddings;
    const vars = this.vars;
    const v = (name: string) => getVariable(vars, name);
    const lin = (prefix: string): Linear => linearOf(vars, prefix);
    const ln = (prefix: string): LayerNormParams => ({ weight: v(`${prefix}.weight`), bias: v(`${prefix}.bias`) });
    this.embedTokens = v(`${P}.embed_tokens.weight`);
    this.embedPositions = v(`${P}.embed_positions.weight`);
    this.projectIn = vars.get(`${P}.project_in.weight`) ?? null;
    this.projectOut = vars.get(`${P}.project_out.weight`) ?? null;
    this.finalLayerNorm = hasFinalLayerNorm(config) ? ln(`${P}.final_layer_norm`) : null;
    this.layers = optLayouts(config).map((lay, l) => {
      const p = `${P}.layers.${l}`;
      const attention = attentionBlock(`${p}.self_attn`, 'decoder', l, lay, config.num_attention_heads, {
        query: lin(`${p}.self_attn.q_proj`), key: lin(`${p}.self_attn.k_proj`), value: lin(`${p}.self_attn.v_proj`), output: lin(`${p}.self_attn.out_proj`),
      });
      const mlp = mlpBlock(p, 'decoder', l, config.activation_function, config.ffn_dim, { input: lin(`${p}.fc1`), output: lin(`${p}.fc2`) });
      return { attention, attentionLayerNorm: ln(`${p}.self_attn_layer_norm`), mlp, finalLayerNorm: ln(`${p}.final_layer_norm`) };
    });
    this.head = vars.get('score.weight') ?? vars.get('lm_head.weight') ?? null;
  }

  /** A freshly initialised model, as Hugging Face's `_init_weights` (N(0, init_std), padding row zero). */
  static random(config: OptConfig, options: { seed?: number } & OptModelOptions = {}): OptModel {
    return new OptModel(config, tableInit(optParameterTable(config), options.seed ?? 0), options);
  }


  /** The config as the model is now: `pruned_heads` and the `neuroprune` layout from the blocks. */
  currentConfig(): OptConfig {
    return this.prunedConfig(this.config.num_attention_heads, this.config.ffn_dim);
  }

  /** Token embeddings (through `project_in`) plus positions `cumsum(mask) - 1 + offset`. */
  embed(inputs: DecoderInputs): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t] = inputs.inputIds.shape;
      if (t > this.config.max_position_embeddings) {
        throw new Error(`sequence length ${t} exceeds max_position_embeddings ${this.config.max_position_embeddings}`);
      }
      let words = embeddingLookup(this.embedTokens, inputs.inputIds);
      if (this.projectIn) words = linear(words, { weight: this.projectIn, bias: null });
      const mask = inputs.attentionMask ? tf.cast(inputs.attentionMask, 'int32') : tf.ones([b, t], 'int32');
      // Padding reads position -1 + offset, as in Hugging Face.
      const positions = tf.add(tf.mul(tf.cumsum(mask, 1), mask), tf.scalar(OPT_POSITION_OFFSET - 1, 'int32'));
      return lean.add(words, embeddingLookup(this.embedPositions, positions)) as tf.Tensor3D;
    });
  }

  /** One decoder layer: LayerNorm before (or after) causal self-attention and the MLP. */
  private layer(layer: OptLayer, h: tf.Tensor, mask: tf.Tensor, training: boolean): tf.Tensor {
    const cfg = this.config;
    const eps = LAYER_NORM_EPS;
    const preLn = cfg.do_layer_norm_before;
    const ln1 = layer.attentionLayerNorm;
    const ln2 = layer.finalLayerNorm;
    const block = layer.attention;
    let x = preLn ? layerNorm(h, ln1.weight, ln1.bias, eps) : h;
    const rate = cfg.attention_dropout;
    x = attention(block, { x, additiveMask: mask }, training && rate > 0 ? { rate, seed: this.drawDropoutSeed() } : undefined);
    h = lean.add(h, this.dropout(x, cfg.dropout, training));
    if (!preLn) h = layerNorm(h, ln1.weight, ln1.bias, eps);
    x = preLn ? layerNorm(h, ln2.weight, ln2.bias, eps) : h;
    h = lean.add(h, this.dropout(mlp(layer.mlp, x), cfg.dropout, training));
    return preLn ? h : layerNorm(h, ln2.weight, ln2.bias, eps);
  }

  /** Logits (`[B, T, vocab]` or `[B, num_labels]`) and, on request, all hidden states. */
  forward(inputs: DecoderInputs, options: DecoderForwardOptions = {}): DecoderOutput {
    this.beginForward(options.dropoutSeed);
    const training = options.training ?? false;
    return tf.tidy(() => {
      const mask = causalAdditiveMask(inputs.inputIds.shape[1], inputs.attentionMask);
      let h: tf.Tensor = this.embed(inputs);
      const hidden: tf.Tensor[] = [h];
      const keep = options.outputHiddenStates === true;
      for (const layer of this.layers) {
        h = runLayer(h, keep, (x) => this.layer(layer, x, mask, training));
        if (keep) hidden.push(h);
      }
      if (this.finalLayerNorm) h = layerNorm(h, this.finalLayerNorm.weight, this.finalLayerNorm.bias, LAYER_NORM_EPS);
      if (this.projectOut) h = linear(h, { weight: this.projectOut, bias: null });
      // Hugging Face's last hidden state is the final output (after the final LayerNorm and project_out).
      if (options.outputHiddenStates) hidden[hidden.length - 1] = h;
      const logits = decoderHeadLogits(h, inputs.inputIds, this.config, this.head, this.embedTokens);
      return options.outputHiddenStates ? { logits, hiddenStates: hidden as tf.Tensor3D[] } : { logits };
    });
  }

}
