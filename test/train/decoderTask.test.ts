/**
 * Decoders as task models: the language-modelling metric against transformers' loss, text
 * blocks, and NeuroPrune training runs of OPT and GPT-2 (regularizers, head elimination,
 * compaction with the optimizer state following by variable, checkpoints that load back).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { loadTokenizer, type Batch } from '../../src/data';
import { OptModel, type OptConfig } from '../../src/models/opt';
import { Gpt2Model, type Gpt2Config } from '../../src/models/gpt2';
import { gpt2Architecture, optArchitecture } from '../../src/checkpoint';
import { DecoderTaskModel } from '../../src/train/decoderTask';
import { builtinTextTask, perplexityMetrics, textBlocks, TEXT_TASK_DIR } from '../../src/train/lmTask';
import { neuropruneOps } from '../../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS } from '../../src/train/options';
import { taskData } from '../../src/train/taskData';
import { loadTaskModel, type TaskModel } from '../../src/train/taskModel';
import { train } from '../../src/train/trainer';

beforeAll(async () => { await initBackend({ force: 'cpu' }); });

const FIXTURES = path.join(__dirname, '..', 'fixtures');

function fixtureBatch(fixture: string): { batch: Batch; loss: number } {
  const ref = JSON.parse(fs.readFileSync(path.join(FIXTURES, fixture, 'reference.json'), 'utf8')) as { input_ids: number[][]; attention_mask: number[][]; loss: number };
  const [b, t] = [ref.input_ids.length, ref.input_ids[0].length];
  const batch: Batch = {
    size: b, seqLen: t,
    inputIds: Int32Array.from(ref.input_ids.flat()), tokenTypeIds: new Int32Array(b * t), attentionMask: Int32Array.from(ref.attention_mask.flat()),
    labels: new Int32Array(b), indices: Int32Array.from({ length: b }, (_, i) => i),
  };
  return { batch, loss: ref.loss };
}

describe('language-modelling metric', () => {
  for (const fixture of ['tiny-opt', 'tiny-gpt2']) {
    it(`${fixture}: summed NLL over predicted tokens is transformers' causal-LM loss (perplexity = exp(loss))`, () => {
      const { model } = loadTaskModel(path.join(FIXTURES, fixture));
      const { batch, loss } = fixtureBatch(fixture);
      const nll = model.predict(batch);
      // Each row predicts its tokens 1..n-1 that are not padding.
      const counts = Float32Array.from({ length: batch.size }, (_, r) => batch.attentionMask.slice(r * batch.seqLen + 1, (r + 1) * batch.seqLen).reduce((a, x) => a + x, 0));
      const m = perplexityMetrics(nll, counts);
      expect(Math.abs(m.nll - loss)).toBeLessThanOrEqual(1e-5);
      expect(m.perplexity).toBeCloseTo(Math.exp(loss), 4);
      model.dispose();
    });
  }

  it('text blocks: the lines\' ids (with the tokenizer\'s own leading </s>) concatenated and cut into full blocks', () => {
    const tok = loadTokenizer(TEXT_TASK_DIR);
    const lines = ['The cat sat.', 'A dog ran by the river.', 'The owl.'];
    const ids = lines.flatMap((l) => tok.encode(l).inputIds);
    expect(ids[0]).toBe(2);
    const blocks = textBlocks(lines, tok, 5);
    expect(blocks.length).toBe(Math.floor(ids.length / 5));
    expect(blocks.flatMap((b) => [...b.inputIds])).toEqual(ids.slice(0, blocks.length * 5));
    expect(blocks.every((b) => b.label === 4)).toBe(true);
    expect(() => textBlocks(lines, tok, 1)).toThrow(/block size must be an integer >= 2/);
  });
});

const optConfig = (): OptConfig => ({
  task: 'causal_lm', vocab_size: 512, hidden_size: 16, num_hidden_layers: 2, num_attention_heads: 4, ffn_dim: 32,
  max_position_embeddings: 32, word_embed_proj_dim: 16, do_layer_norm_before: true, _remove_final_layer_norm: false,
  enable_bias: true, activation_function: 'relu', dropout: 0.1, attention_dropout: 0, init_std: 0.02, pad_token_id: 1,
  tie_word_embeddings: true, num_labels: 2,
});

const gpt2Config = (): Gpt2Config => ({
  task: 'causal_lm', vocab_size: 512, n_positions: 32, n_embd: 16, n_layer: 2, n_head: 4, n_inner: 32,
  activation_function: 'gelu_new', resid_pdrop: 0.1, embd_pdrop: 0.1, attn_pdrop: 0.1, layer_norm_epsilon: 1e-5,
  initializer_range: 0.02, scale_attn_weights: true, scale_attn_by_inverse_layer_idx: false, pad_token_id: 1,
  tie_word_embeddings: true, num_labels: 2,
});

function freshModel(kind: 'opt' | 'gpt2'): TaskModel {
  return kind === 'opt'
    ? new DecoderTaskModel(OptModel.random(optConfig(), { seed: 1 }), 'opt', optArchitecture as never)
    : new DecoderTaskModel(Gpt2Model.random(gpt2Config(), { seed: 1 }), 'gpt2', gpt2Architecture as never);
}

describe('NeuroPrune training of decoders on the built-in text task', () => {
  for (const kind of ['opt', 'gpt2'] as const) {
    it(`${kind}: heads merged and removed, MLP and inputs compacted, AdamW follows across a resume, the checkpoint loads back`, async () => {
      const task = builtinTextTask(16);
      const data = taskData(task, { batchSize: 8, seed: 1, padId: task.tokenizer.special.pad, limitTrain: 32, limitDev: 16 });
      const runDir = fs.mkdtempSync(path.join(os.tmpdir(), `np-${kind}-train-`));
      // theta large enough that a freshly initialised layer's heads are all similar; eps large
      // enough that compaction finds whole rows below it.
      const options = { ...DEFAULT_TRAIN_OPTIONS, mode: 'neuroprune' as const, epochs: 2, batchSize: 8, learningRate: 1e-3, alpha: 1e-3, beta: 1e-3, theta: 10, eps: 0.05, progress: false };
      // Stop in the second epoch (4 steps an epoch), after the first pruning; then resume from
      // the checkpoint of epoch 1, whose optimizer state has the pruned shapes.
      const first = await train({ model: freshModel(kind), data, ops: neuropruneOps(), options, runDir, shouldStop: (step) => step === 6 });
      expect(first.interrupted).toBe(true);
      first.model.dispose();
      const result = await train({ model: freshModel(kind), data, ops: neuropruneOps(), options, runDir, resume: true });
      expect(result.interrupted).toBe(false);
      expect(result.model.attentionBlocks().map((b) => b.numHeads)).toEqual([1, 1]);
      expect(result.model.mlpBlocks().some((b) => b.input.weight.shape[0] < 32)).toBe(true);
      for (const e of result.epochs) expect(Number.isFinite(e.dev.perplexity)).toBe(true);
      // The saved checkpoint: the architecture's own names, pruned shapes; it loads back with the same predictions.
      const ckpt = path.join(runDir, 'checkpoint');
      const config = JSON.parse(fs.readFileSync(path.join(ckpt, 'config.json'), 'utf8'));
      expect(config.model_type).toBe(kind);
      expect(config.pruned_heads).toBeDefined();
      const { model: again } = loadTaskModel(ckpt);
      const batch = data.devBatches()[0];
      expect(Array.from(again.predict(batch))).toEqual(Array.from(result.model.predict(batch)));
      again.dispose();
      result.model.dispose();
    }, 120_000);
  }
});
