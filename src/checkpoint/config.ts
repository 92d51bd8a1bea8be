/**
 * `config.json` of a Hugging Face model directory: the architecture is chosen by its
 * `model_type`, and that architecture's own parser checks the rest.
 */
import type { BertConfig } from '../models/bert';
import { bertArchitecture } from './bert';
import { CheckpointError } from './errors';
import type { Architecture, CheckpointModel } from './modelDir';

/** A parsed config with its architecture. */
export type ModelConfig = { modelType: 'bert'; config: BertConfig };

type AnyArchitecture = Architecture<unknown, CheckpointModel<unknown>>;

const ARCHITECTURES: Record<string, AnyArchitecture> = {
  bert: bertArchitecture as unknown as AnyArchitecture,
};

/** The architecture of a `model_type`; throws naming the supported ones. */
export function architectureOf(modelType: string, file = 'config.json'): AnyArchitecture {
  const arch = ARCHITECTURES[modelType];
  if (!arch) throw new CheckpointError(`config field 'model_type' is '${modelType}'; supported: ${Object.keys(ARCHITECTURES).join(', ')}`, { file });
  return arch;
}

/**
 * Parses a config object (already JSON-decoded) read from `file`. A config without `model_type`
 * is read as BERT, as older BERT checkpoints omit it.
 */
export function parseModelConfig(json: unknown, file: string): ModelConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new CheckpointError('config is not a JSON object', { file });
  const raw = json as Record<string, unknown>;
  const modelType = raw.model_type === undefined ? 'bert' : String(raw.model_type);
  const arch = architectureOf(modelType, file);
  return { modelType, config: arch.parseConfig(raw, file) } as ModelConfig;
}

