/**
 * The NeuroPrune side of a training run for a task model of any architecture: the regularized objective, the
 * end-of-epoch head elimination and compaction (with the optimizer state following the surviving
 * rows and columns), sparsity accounting and checkpoint I/O.
 */
import * as tf from '@tensorflow/tfjs';
import { copyFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { loadTensorFile, saveTensorFile } from '../checkpoint';
import type { StructuralChange } from '../models/blocks';
import {
  attentionGroupL12, attentionGroupL12Value, compactAttentionInputs, compactMlp, eliminateRedundantHeads,
  magnitudePrune, mlpLinears, mlpPreferentialL1, mlpPreferentialL1Value, plainL1, plainL1Value, proximalAttentionGroups,
  proximalL1, proximalMlpPreferential, sparsityReport, zeroBelow,
} from '../neuroprune';
import type { Batch } from '../data';
import { loadTaskModel, type TaskModel } from './taskModel';
import type { TrainOptions } from './options';
import type { TrainerOps } from './trainer';

type Gather = (t: tf.Tensor) => tf.Tensor;

/**
 * Turns the structural changes of one pruning round into the trainer's remap (parameter name to
 * the gather its optimizer moments need), by variable: `names` are the model's parameters before
 * the round, and a replacement inherits the name of the variable it replaced, so a second change
 * of the same parameter (heads, then input compaction) composes with the first. No name is built
 * here: a change of a variable the model does not name is an error, not a skipped moment.
 */
export function remapFromChanges(names: Map<string, tf.Variable>, changes: readonly StructuralChange[]): Map<string, Gather | null> {
  const nameOf = new Map<tf.Variable, string>();
  for (const [name, v] of names) nameOf.set(v, name);
  const remap = new Map<string, Gather | null>();
  for (const c of changes) {
    const name = nameOf.get(c.variable);
    if (name === undefined) {
      throw new Error(`pruning replaced variable ${c.variable.name}, which is not a named parameter of the model: its optimizer state cannot follow`);
    }
    nameOf.set(c.replacement, name);
    const kept = [...c.kept];
    const g: Gather = (t) => tf.gather(t, kept, c.axis);
    const prev = remap.get(name);
    remap.set(name, prev ? (t) => tf.tidy(() => g(prev(t))) : g);
  }
  return remap;
}

export interface NeuropruneOpsOptions<B = Batch> {
  /** Task head size when loading checkpoints. */
  numLabels?: number;
  /** Files copied into every saved model directory (the tokenizer), so it is complete on its own. */
  extraFiles?: string[];
  /** Loads a checkpoint of the run (a resume); default `loadTaskModel` (classification and language-model batches). */
  loadModel?: (dir: string) => TaskModel<B>;
}

export function neuropruneOps<B = Batch>(options: NeuropruneOpsOptions<B> = {}): TrainerOps<TaskModel<B>> {
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

    proximalStep(model, o, lr) {
      const attn = model.attentionBlocks();
      const mlp = model.mlpBlocks();
      let penalty = 0;
      if (o.mode === 'neuroprune') {
        if (o.alpha > 0) penalty += o.alpha * proximalAttentionGroups(attn, lr * o.alpha).value;
        if (o.beta > 0) penalty += o.beta * proximalMlpPreferential(mlp, lr * o.beta, { eps: o.eps }).value;
      } else if (o.mode === 'l1') {
        if (o.alpha > 0) penalty += o.alpha * proximalL1(attn.flatMap((b) => [b.query, b.key, b.value, b.output]), lr * o.alpha).value;
        if (o.beta > 0) penalty += o.beta * proximalL1(mlp.flatMap(mlpLinears), lr * o.beta).value;
      }
      return penalty;
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
      const names = model.namedVariables();
      const changes: StructuralChange[] = [];
      const heads = model.attentionBlocks().map((block) => {
        const result = eliminateRedundantHeads(block, { theta: o.theta, strategy: o.headStrategy, merge: o.mergeHeads });
        changes.push(...result.changes);
        return result;
      });
      let compaction: Record<string, unknown> | null = null;
      if (o.compact) {
        // Compaction removes exact zeros; weights below eps count as zero (see sparsity.ts), so they are set to zero first.
        const zeroed = zeroBelow(model, { eps: o.eps });
        const mlp = model.mlpBlocks().map((block) => {
          const c = compactMlp(block);
          changes.push(...c.changes);
          return { stack: c.stack, layer: c.layer, before: c.before, after: c.after, folded: c.folded };
        });
        const attention = model.attentionBlocks().map((block) => {
          const c = compactAttentionInputs(block);
          changes.push(...c.changes);
          return { stack: c.stack, kind: c.kind, layer: c.layer, before: c.before, after: c.after };
        });
        compaction = { zeroedBelowEps: zeroed, mlp, attentionInputs: attention };
      }
      const record = {
        heads: heads.map((h) => ({ stack: h.stack, kind: h.kind, layer: h.layer, before: h.headsBefore, after: h.headsAfter, kept: h.kept, eliminated: h.eliminated })),
        compaction,
      };
      return { record, remap: remapFromChanges(names, changes) };
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
        // Per stack and kind (one group for BERT, five for T5): heads per layer and sparsity of each.
        groups: r.groups.map((g) => ({
          stack: g.stack, kind: g.role, unstructured: g.unstructuredFraction, structured: g.structuredFraction,
          ...(g.role === 'mlp' ? { neuronsPerLayer: g.neuronsPerLayer } : { headsKept: g.headsKept, headsOriginal: g.headsOriginal, headsPerLayer: g.headsPerLayer }),
        })),
      };
    },

    async saveModel(model, dir) {
      model.save(dir);
      for (const f of options.extraFiles ?? []) copyFileSync(f, join(dir, basename(f)));
    },

    async loadModel(dir) {
      if (options.loadModel) return options.loadModel(dir);
      // Without a loader the batches are classification or language-model ones (B = Batch).
      return loadTaskModel(dir, options.numLabels !== undefined ? { numLabels: options.numLabels } : {}).model as unknown as TaskModel<B>;
    },

    saveTensors: saveTensorFile,
    loadTensors: loadTensorFile,
  };
}

export type { TrainOptions };
