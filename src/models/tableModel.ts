/**
 * What every model built from a parameter table shares, whatever its architecture: the variables
 * the table makes, the named parameters read through the blocks, the config that describes the
 * pruned shapes, the dropout seed stream and disposal. Each architecture adds its fields and its
 * forward pass.
 */
import type * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, MlpBlock, PrunableModel } from './blocks';
import { dropout } from './layers';
import { currentLayout, type NeuroPruneLayout } from './layout';
import { makeVariables, namedFromTable, type ParameterInit, type ParamSpec } from './parameters';
import { seededRandom } from '../util/random';

/** The pruning a config records (Hugging Face's `pruned_heads`, NeuroPrune's layout). */
export interface PrunedConfig {
  pruned_heads?: Record<string, number[]>;
  neuroprune?: NeuroPruneLayout;
}

/** A layer as the base reads it: its attention block and its MLP block. */
export interface BlockLayer { attention: AttentionBlock; mlp: MlpBlock }

/** What the base needs of a config: the pruning fields, whose layout each architecture may shape its own way (T5's is per stack). */
type AnyPrunedConfig = { pruned_heads?: Record<string, number[]>; neuroprune?: unknown };

export abstract class TableModelBase<C extends AnyPrunedConfig, L extends BlockLayer> implements PrunableModel {
  readonly config: C;
  readonly hiddenSize: number;
  /** The table the model was built from (names, roles, file layouts; shapes as built). */
  readonly parameterTable: readonly ParamSpec[];
  /** Every variable as made; those of the blocks are read through the blocks (pruning replaces them). */
  protected readonly vars: Map<string, tf.Variable>;
  private nextDropoutSeed: () => number;
  private disposed = false;

  /**
   * Makes a variable for every entry of `table` from `init` (named `<name>_<uid>`: TF.js names
   * are global); if `init` fails, nothing stays allocated.
   */
  protected constructor(config: C, hiddenSize: number, table: ParamSpec[], init: ParameterInit, uid: string, dropoutSeed = 0) {
    this.config = structuredClone(config);
    this.hiddenSize = hiddenSize;
    this.nextDropoutSeed = seededRandom(dropoutSeed);
    this.parameterTable = table;
    this.vars = makeVariables(table, init, uid);
  }

  /** The layers, in order; set by the architecture's constructor. */
  abstract readonly layers: L[];

  attentionBlocks(): AttentionBlock[] {
    return this.layers.map((l) => l.attention);
  }

  mlpBlocks(): MlpBlock[] {
    return this.layers.map((l) => l.mlp);
  }

  /** Every parameter with its Hugging Face name, in table order; follows head removal and compaction. */
  namedParameters(): Map<string, tf.Variable> {
    return namedFromTable(this.parameterTable, this.vars, this.attentionBlocks(), this.mlpBlocks());
  }

  /** The trainable variables (for `optimizer.minimize` / `tf.variableGrads`). */
  trainableVariables(): tf.Variable[] {
    return [...this.namedParameters().values()].filter((v) => v.trainable);
  }

  /**
   * The config that describes the model as it is now: `pruned_heads` from the blocks' `headIds`
   * and, when a layer differs from the dense shape, the `neuroprune` layout. Used by save.
   */
  protected prunedConfig(numHeads: number, intermediateSize: number): C {
    const cfg: C = structuredClone(this.config);
    const { prunedHeads, layout } = currentLayout(this.attentionBlocks(), this.mlpBlocks(), numHeads, intermediateSize);
    if (prunedHeads) cfg.pruned_heads = prunedHeads; else delete cfg.pruned_heads;
    if (layout) (cfg as PrunedConfig).neuroprune = layout; else delete cfg.neuroprune;
    return cfg;
  }

  /** Starts a forward pass: refuses a disposed model; a given seed restarts the dropout stream. */
  protected beginForward(dropoutSeed: number | undefined): void {
    if (this.disposed) throw new Error(`${this.constructor.name}: forward after dispose()`);
    if (dropoutSeed !== undefined) this.nextDropoutSeed = seededRandom(dropoutSeed);
  }

  /** The next seed of the dropout stream (for a dropout applied inside a fused op). */
  protected drawDropoutSeed(): number {
    return Math.floor(this.nextDropoutSeed() * 2 ** 31);
  }

  /** Dropout with the next mask seed of the stream, in training only. */
  protected dropout(x: tf.Tensor, rate: number, training: boolean): tf.Tensor {
    if (!training || rate <= 0) return x;
    return dropout(x, rate, this.drawDropoutSeed());
  }

  /** Frees every variable. The model is unusable afterwards. */
  dispose(): void {
    if (this.disposed) return;
    for (const v of this.namedParameters().values()) v.dispose();
    this.disposed = true;
  }
}
