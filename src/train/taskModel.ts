/**
 * A trainable model of any supported architecture, as the trainer, the pruning ops and the CLI
 * use it: loaded from a model directory by its `model_type`, saved back in the same layout.
 */
import type { Batch } from '../data';
import { architectureOf, loadCheckpoint, type CheckpointModel, type LoadOptions, type Loaded } from '../checkpoint';
import type { BertForSequenceClassification } from '../models/bert';
import type { DecoderModel } from '../models/decoder';
import { BertTaskModel } from './bertTask';
import { DecoderTaskModel } from './decoderTask';
import type { TrainableModel } from './types';

export interface TaskModel<B = Batch> extends TrainableModel<B> {
  /** `model_type` of the checkpoint: bert, opt, gpt2, t5. */
  readonly modelType: string;
  /** Longest input the position table covers. */
  readonly maxPositions: number;
  readonly vocabSize: number;
  /** Size of the classification head; null for a language-model head. */
  readonly numLabels: number | null;
  /** Writes the model as a Hugging Face directory; `dense`: original shapes with zeros in place of removed parts. */
  save(dir: string, options?: { dense?: boolean }): void;
}

/** Wraps a model the checkpoint code built (of `modelType`) as a task model. */
export function taskModelOf(model: CheckpointModel<unknown>, modelType: string): TaskModel {
  if (modelType === 'bert') return new BertTaskModel(model as unknown as BertForSequenceClassification);
  return new DecoderTaskModel(model as unknown as DecoderModel, modelType, architectureOf(modelType));
}

/** Loads a model directory of any supported architecture (see `loadModelDir` for the options). */
export function loadTaskModel(dir: string, options: LoadOptions = {}): { model: TaskModel; loaded: Loaded<unknown, CheckpointModel<unknown>> & { modelType: string } } {
  const loaded = loadCheckpoint(dir, options);
  return { model: taskModelOf(loaded.model, loaded.modelType), loaded };
}
