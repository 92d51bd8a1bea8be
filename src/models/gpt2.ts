/**
 * GPT-2 (`GPT2LMHeadModel`, `GPT2ForSequenceClassification`) as transformers 4.57 computes it.
 *
 * Token plus learned position embeddings (positions 0..T-1 whatever the padding), dropout, then
 * pre-LayerNorm layers of causal self-attention and a `gelu_new` MLP, a final LayerNorm `ln_f`,
 * and a head: the output embedding tied to `wte` (language model) or `score` read at each row's
 * last non-padding token (sequence classification).
 *
 * The checkpoint stores GPT-2's linear maps as `Conv1D`, `[in, out]`, and Q, K and V fused in one
 * `c_attn` `[d, 3a]`: the parameter table keeps them as three `[a, d]` linears in the blocks (so
 * the NeuroPrune core sees the same Q/K/V as in any other model) and records the file layout, by
 * which the loader splits and transposes, and the saver re-fuses. A head-pruned `c_attn` holds the
 * kept heads of Q, then of K, then of V, as Hugging Face's `prune_heads` leaves it.
 */
import * as tf from '@tensorflow/tfjs';
import type { Activation, AttentionBlock, Linear, MlpBlock } from './blocks';
import { embeddingLookup } from './bert';
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
import { TableModelBase } from './tableModel';

/** The fields of Hugging Face's `GPT2Config` that the model uses, with their JSON names. */
export interface Gpt2Config extends DecoderConfigBase {
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  /** MLP width; null in the file means `4 * n_embd`, resolved at parse time. */
  n_inner: number;
  activation_function: Activation;
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  layer_norm_epsilon: number;
  initializer_range: number;
  scale_attn_weights: boolean;
  scale_attn_by_inverse_layer_idx: boolean;
}

function gpt2Layouts(config: Gpt2Config) {
  return layerLayouts({
    numLayers: config.n_layer, numHeads: config.n_head, hiddenSize: config.n_embd,
    intermediateSize: config.n_inner, prunedHeads: config.pruned_heads, layout: config.neuroprune,
  });
}

const QKV = ['query', 'key', 'value'] as const;
const QKV_PART = { query: 'q', key: 'k', value: 'v' } as const;

/**
 * GPT-2's parameter table. Q, K and V are the parameters `<layer>.attn.c_attn.{q,k,v}.{weight,bias}`,
 * parts of the file's `c_attn`; every `Conv1D` weight is stored transposed.
 */
export function gpt2ParameterTable(config: Gpt2Config): ParamSpec[] {
  const d = config.n_embd;
  const normal = { kind: 'normal', std: config.initializer_range } as const;
  // HF's _init_weights scales the residual projections by 1/sqrt(2 * n_layer) (GPT-2 paper).
  const residual = { kind: 'normal', std: config.initializer_range / Math.sqrt(2 * config.n_layer) } as const;
  const zeros = { kind: 'zeros' } as const;
  const t = new TableBuilder(normal);
  t.add('transformer.wte.weight', [config.vocab_size, d]);
  t.add('transformer.wpe.weight', [config.n_positions, d]);
  gpt2Layouts(config).forEach((lay, l) => {
    const p = `transformer.h.${l}`;
    const a = lay.headIds.length * lay.headSize;
    const inDim = lay.inputIndex ? lay.inputIndex.length : d;
    const attn = attentionRole(l);
    const mlp = mlpRole(l);
    const conv = (tensor: string) => ({ tensor, transpose: true });
    t.layerNorm(`${p}.ln_1`, d);
    QKV.forEach((linear, index) => {
      const part = { index, of: 3 };
      t.add(`${p}.attn.c_attn.${QKV_PART[linear]}.weight`, [a, inDim], normal, attn(linear, 'weight'), { ...conv(`${p}.attn.c_attn.weight`), part });
      t.add(`${p}.attn.c_attn.${QKV_PART[linear]}.bias`, [a], zeros, attn(linear, 'bias'), { tensor: `${p}.attn.c_attn.bias`, part });
    });
    t.add(`${p}.attn.c_proj.weight`, [d, a], residual, attn('output', 'weight'), conv(`${p}.attn.c_proj.weight`));
    t.add(`${p}.attn.c_proj.bias`, [d], zeros, attn('output', 'bias'));
    t.layerNorm(`${p}.ln_2`, d);
    t.add(`${p}.mlp.c_fc.weight`, [lay.intermediateSize, d], normal, mlp('input', 'weight'), conv(`${p}.mlp.c_fc.weight`));
    t.add(`${p}.mlp.c_fc.bias`, [lay.intermediateSize], zeros, mlp('input', 'bias'));
    t.add(`${p}.mlp.c_proj.weight`, [d, lay.intermediateSize], residual, mlp('output', 'weight'), conv(`${p}.mlp.c_proj.weight`));
    t.add(`${p}.mlp.c_proj.bias`, [d], zeros, mlp('output', 'bias'));
  });
  t.layerNorm('transformer.ln_f', d);
  if (config.task === 'sequence_classification') t.add('score.weight', [config.num_labels, d]);
  else if (!config.tie_word_embeddings) t.add('lm_head.weight', [config.vocab_size, d]);
  return t.specs;
}

interface LayerNormParams { weight: tf.Variable; bias: tf.Variable }

interface Gpt2Layer {
  ln1: LayerNormParams;
  attention: AttentionBlock;
  ln2: LayerNormParams;
  mlp: MlpBlock;
}

export interface Gpt2ModelOptions {
  /** Seed of the dropout masks; the same seed and call sequence gives the same masks. Default 0. */
  dropoutSeed?: number;
}

let modelCounter = 0;

/** `GPT2LMHeadModel` or `GPT2ForSequenceClassification`, as `config.task` says. */
export class Gpt2Model extends TableModelBase<Gpt2Config, Gpt2Layer> {
  /** Longest sequence the position table covers. */
  readonly maxPositions: number;
  readonly wte: tf.Variable;
  readonly wpe: tf.Variable;
  readonly layers: Gpt2Layer[];
  readonly lnF: LayerNormParams;
  /** `score` (classification) or an untied `lm_head`; null for the tied language-model head. */
  readonly head: tf.Variable | null;


  constructor(config: Gpt2Config, init: ParameterInit, options: Gpt2ModelOptions = {}) {
    super(config, config.n_embd, gpt2ParameterTable(config), init, `gpt${++modelCounter}`, options.dropoutSeed);
    this.maxPositions = config.n_positions;
    const vars = this.vars;
    const v = (name: string) => getVariable(vars, name);
    const lin = (prefix: string): Linear => linearOf(vars, prefix);
    const ln = (prefix: string): LayerNormParams => ({ weight: v(`${prefix}.weight`), bias: v(`${prefix}.bias`) });
    this.wte = v('transformer.wte.weight');
    this.wpe = v('transformer.wpe.weight');
    this.layers = gpt2Layouts(config).map((lay, l) => {
      const p = `transformer.h.${l}`;
      const attention = attentionBlock(`${p}.attn`, 'decoder', l, lay, config.n_head, {
        query: lin(`${p}.attn.c_attn.q`), key: lin(`${p}.attn.c_attn.k`), value: lin(`${p}.attn.c_attn.v`), output: lin(`${p}.attn.c_proj`),
      });
      const mlp = mlpBlock(`${p}.mlp`, 'decoder', l, config.activation_function, config.n_inner, { input: lin(`${p}.mlp.c_fc`), output: lin(`${p}.mlp.c_proj`) });
      return { ln1: ln(`${p}.ln_1`), attention, ln2: ln(`${p}.ln_2`), mlp };
    });
    this.lnF = ln('transformer.ln_f');
    this.head = vars.get('score.weight') ?? vars.get('lm_head.weight') ?? null;
  }

  /** A freshly initialised model, as Hugging Face's `_init_weights`. */
  static random(config: Gpt2Config, options: { seed?: number } & Gpt2ModelOptions = {}): Gpt2Model {
    return new Gpt2Model(config, tableInit(gpt2ParameterTable(config), options.seed ?? 0), options);
  }


  /** The config as the model is now: `pruned_heads` and the `neuroprune` layout from the blocks. */
  currentConfig(): Gpt2Config {
    return this.prunedConfig(this.config.n_head, this.config.n_inner);
  }

  /** `wte[ids] + wpe[0..T-1]`, dropout. */
  embed(inputs: DecoderInputs, training = false): tf.Tensor3D {
    return tf.tidy(() => {
      const t = inputs.inputIds.shape[1];
      if (t > this.config.n_positions) throw new Error(`sequence length ${t} exceeds n_positions ${this.config.n_positions}`);
      const h = lean.add(embeddingLookup(this.wte, inputs.inputIds), tf.slice(this.wpe, [0, 0], [t, -1]).expandDims(0));
      return this.dropout(h, this.config.embd_pdrop, training) as tf.Tensor3D;
    });
  }

  /** One pre-LayerNorm block: `h + attn(ln_1(h))`, then `h + mlp(ln_2(h))`. */
  private layer(layer: Gpt2Layer, h: tf.Tensor, mask: tf.Tensor, training: boolean): tf.Tensor {
    const cfg = this.config;
    const eps = cfg.layer_norm_epsilon;
    let scale = cfg.scale_attn_weights ? 1 / Math.sqrt(layer.attention.headSize) : 1;
    if (cfg.scale_attn_by_inverse_layer_idx) scale /= layer.attention.layer + 1;
    const rate = cfg.attn_pdrop;
    const a = attention(layer.attention, { x: layerNorm(h, layer.ln1.weight, layer.ln1.bias, eps), additiveMask: mask, scale }, training && rate > 0 ? { rate, seed: this.drawDropoutSeed() } : undefined);
    h = lean.add(h, this.dropout(a, cfg.resid_pdrop, training));
    const m = mlp(layer.mlp, layerNorm(h, layer.ln2.weight, layer.ln2.bias, eps));
    return lean.add(h, this.dropout(m, cfg.resid_pdrop, training));
  }

  /** Logits (`[B, T, vocab]` or `[B, num_labels]`) and, on request, all hidden states. */
  forward(inputs: DecoderInputs, options: DecoderForwardOptions = {}): DecoderOutput {
    this.beginForward(options.dropoutSeed);
    const training = options.training ?? false;
    return tf.tidy(() => {
      const mask = causalAdditiveMask(inputs.inputIds.shape[1], inputs.attentionMask);
      let h: tf.Tensor = this.embed(inputs, training);
      const hidden: tf.Tensor[] = [h];
      const keep = options.outputHiddenStates === true;
      for (const layer of this.layers) {
        h = runLayer(h, keep, (x) => this.layer(layer, x, mask, training));
        if (keep) hidden.push(h);
      }
      h = layerNorm(h, this.lnF.weight, this.lnF.bias, this.config.layer_norm_epsilon);
      // Hugging Face's last hidden state is the output of ln_f.
      if (options.outputHiddenStates) hidden[hidden.length - 1] = h;
      const logits = decoderHeadLogits(h, inputs.inputIds, this.config, this.head, this.wte);
      return options.outputHiddenStates ? { logits, hiddenStates: hidden as tf.Tensor3D[] } : { logits };
    });
  }

}
