/**
 * `config.json` of a Hugging Face model directory: the architecture is chosen by its
 * `model_type`, and that architecture's own parser checks the rest.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BertConfig } from '../models/bert';
import type { Gpt2Config } from '../models/gpt2';
import type { OptConfig } from '../models/opt';
import type { T5Config } from '../models/t5';
import { bertArchitecture } from './bert';
import { gpt2Architecture } from './gpt2';
import { optArchitecture } from './opt';
import { t5Architecture } from './t5';
import { CheckpointError } from './errors';
import { CONFIG_FILE, loadModelDir, type Architecture, type CheckpointModel, type Loaded, type LoadOptions } from './modelDir';

/** A parsed config with its architecture. */
export type ModelConfig = { modelType: 'bert'; config: BertConfig } | { modelType: 'opt'; config: OptConfig } | { modelType: 'gpt2'; config: Gpt2Config }
  | { modelType: 't5'; config: T5Config };

type AnyArchitecture = Architecture<unknown, CheckpointModel<unknown>>;

const ARCHITECTURES: Record<string, AnyArchitecture> = {
  bert: bertArchitecture as unknown as AnyArchitecture,
  opt: optArchitecture as unknown as AnyArchitecture,
  gpt2: gpt2Architecture as unknown as AnyArchitecture,
  t5: t5Architecture as unknown as AnyArchitecture,
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


/**
 * Loads a model directory of any supported architecture, chosen by its config's `model_type`
 * (see `loadModelDir`).
 */
export function loadCheckpoint(dir: string, options: LoadOptions = {}): Loaded<unknown, CheckpointModel<unknown>> & { modelType: string } {
  const file = path.join(dir, CONFIG_FILE);
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CheckpointError(`cannot read a JSON config: ${(err as Error).message}`, { file });
  }
  const modelType = raw !== null && typeof raw === 'object' && (raw as Record<string, unknown>).model_type !== undefined
    ? String((raw as Record<string, unknown>).model_type)
    : 'bert';
  return { modelType, ...loadModelDir(architectureOf(modelType, file), dir, options) };
}
