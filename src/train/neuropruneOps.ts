/**
 * The NeuroPrune side of a training run for a BERT task model: the regularized objective, the
 * end-of-epoch head elimination and compaction (with the optimizer state following the surviving
 * rows and columns), sparsity accounting and checkpoint I/O.
 */
import * as tf from '@tensorflow/tfjs';
import { copyFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadBertCheckpoint, loadTensorFile, saveBertCheckpoint, saveTensorFile } from '../checkpoint';
import type { AttentionBlock } from '../models/blocks';
import {
  attentionGroupL12, attentionGroupL12Value, compactAttentionInputs, compactMlp, eliminateRedundantHeads,
  magnitudePrune, mlpPreferentialL1, mlpPreferentialL1Value, plainL1, plainL1Value, sparsityReport, zeroBelow,
} from '../neuroprune';
import { BertTaskModel } from './bertTask';
import type { TrainOptions } from './options';
import type { TrainerOps } from './trainer';

type Gather = (t: tf.Tensor) => tf.Tensor;

function rowsOfHeads(kept: readonly number[], headSize: number): number[] {
  return kept.flatMap((h) => Array.from({ length: headSize }, (_, r) => h * headSize + r));
}

/** Composes gathers registered for the same parameter (head removal, then input compaction). */
function addGather(remap: Map<string, Gather | null>, name: string, g: Gather): void {
  const prev = remap.get(name);
  remap.set(name, prev ? (t) => tf.tidy(() => g(prev(t))) : g);
}

function attentionParamPrefix(block: AttentionBlock): string {
  // Hugging Face names: <layer>.attention.self.{query,key,value} and <layer>.attention.output.dense.
  return block.name;
}

export interface NeuropruneOpsOptions {
  /** Task head size when loading checkpoints. */
  numLabels?: number;
  /** Files copied into every saved model directory (the tokenizer), so it is complete on its own. */
  extraFiles?: string[];
}

export function neuropruneOps(options: NeuropruneOpsOptions = {}): TrainerOps<BertTaskModel> {
  return {
    regularizer(model, o) {
      const attn = model.attentionBlocks();
      const mlp = model.mlpBlocks();
      if (o.mode === 'neuroprune') {
        return {
          attention: o.alpha > 0 ? tf.mul(attentionGroupL12(attn), o.alpha) as tf.Scalar : null,
          mlp: o.beta > 0 ? tf.mul(mlpPreferentialL1(mlp, { eps: o.eps }), o.beta) as tf.Scalar : null,
        };
      }
      if (o.mode === 'l1') {
        return {
          attention: o.alpha > 0 ? tf.mul(plainL1(attn, []), o.alpha) as tf.Scalar : null,
          mlp: o.beta > 0 ? tf.mul(plainL1([], mlp), o.beta) as tf.Scalar : null,
        };
      }
      return { attention: null, mlp: null };
    },

    regularizerValues(model, o) {
      const attn = model.attentionBlocks();
      const mlp = model.mlpBlocks();
      return {
        rAttn: attentionGroupL12Value(attn),
        rMlp: mlpPreferentialL1Value(mlp, { eps: o.eps }),
        l1Attention: plainL1Value(attn, []),
        l1Mlp: plainL1Value([], mlp),
      };
    },

    pruneAfterEpoch(model, o) {
      const remap = new Map<string, Gather | null>();
      const heads = model.attentionBlocks().map((block) => {
        const before = block.headIds.slice();
        const result = eliminateRedundantHeads(block, { theta: o.theta, strategy: o.headStrategy, merge: o.mergeHeads });
        if (result.headsAfter < result.headsBefore) {
          const keptPositions = result.kept.map((id) => before.indexOf(id));
          const rows = rowsOfHeads(keptPositions, block.headSize);
          const p = attentionParamPrefix(block);
          for (const m of ['query', 'key', 'value']) {
            addGather(remap, `${p}.self.${m}.weight`, (t) => tf.gather(t, rows, 0));
            addGather(remap, `${p}.self.${m}.bias`, (t) => tf.gather(t, rows, 0));
          }
          addGather(remap, `${p}.output.dense.weight`, (t) => tf.gather(t, rows, 1));
        }
        return result;
      });
      let compaction: Record<string, unknown> | null = null;
      if (o.compact) {
        // Compaction removes exact zeros; weights below eps count as zero (see sparsity.ts), so they are set to zero first.
        const zeroed = zeroBelow(model, { eps: o.eps });
        const mlp = model.mlpBlocks().map((block) => {
          const c = compactMlp(block);
          if (c.after < c.before) {
            const kept = c.kept;
            addGather(remap, `${block.name}.intermediate.dense.weight`, (t) => tf.gather(t, kept, 0));
            addGather(remap, `${block.name}.intermediate.dense.bias`, (t) => tf.gather(t, kept, 0));
            addGather(remap, `${block.name}.output.dense.weight`, (t) => tf.gather(t, kept, 1));
          }
          return { layer: c.layer, before: c.before, after: c.after, folded: c.folded };
        });
        const attention = model.attentionBlocks().map((block) => {
          const c = compactAttentionInputs(block);
          if (c.after < c.before) {
            const kept = c.kept;
            for (const m of ['query', 'key', 'value']) addGather(remap, `${block.name}.self.${m}.weight`, (t) => tf.gather(t, kept, 1));
          }
          return { layer: c.layer, before: c.before, after: c.after };
        });
        compaction = { zeroedBelowEps: zeroed, mlp, attentionInputs: attention };
      }
      const record = {
        heads: heads.map((h) => ({ layer: h.layer, before: h.headsBefore, after: h.headsAfter, kept: h.kept, eliminated: h.eliminated })),
        compaction,
      };
      return { record, remap };
    },

    projectToSparsity(model, target, o) {
      magnitudePrune(model, { sparsity: target, scope: o.pruneScope ?? 'global' });
    },

    sparsity(model, o) {
      const r = sparsityReport(model, { eps: o.eps });
      return {
        unstructured: r.unstructuredFraction,
        structured: r.structuredFraction,
        headsKept: r.headsKept,
        headsOriginal: r.headsOriginal,
        headsPerLayer: r.layers.map((l) => l.headsKept),
        parametersStored: r.present,
        parametersDense: r.total,
      };
    },

    async saveModel(model, dir) {
      saveBertCheckpoint(model.bert, dir);
      for (const f of options.extraFiles ?? []) copyFileSync(f, join(dir, basename(f)));
    },

    async loadModel(dir) {
      const { model } = loadBertCheckpoint(dir, options.numLabels !== undefined ? { numLabels: options.numLabels } : {});
      return new BertTaskModel(model);
    },

    saveTensors: saveTensorFile,
    loadTensors: loadTensorFile,
  };
}

export type { TrainOptions };
