/** Hugging Face model directories: config.json and safetensors, read and written. */
export { CheckpointError, LabelCountError, type CheckpointErrorDetails } from './errors';
export {
  parseSafetensorsHeader, decodeTensor, encodeSafetensors, READABLE_DTYPES,
  type SafetensorsEntry, type SafetensorsHeader, type TensorToWrite,
} from './safetensors';
export { writeFileAtomic } from './atomic';
export { parseBertConfig, serializeBertConfig } from './bertConfig';
export { parseModelConfig, architectureOf, loadCheckpoint, type ModelConfig } from './config';
export {
  loadBertCheckpoint, saveBertCheckpoint, CONFIG_FILE, SAFETENSORS_FILE, SAFETENSORS_INDEX_FILE, CONVERT_HINT,
  type LoadBertOptions, type LoadedBert, type SaveBertOptions,
} from './bert';
export { optArchitecture, parseOptConfig, serializeOptConfig } from './opt';
export { gpt2Architecture, parseGpt2Config, serializeGpt2Config } from './gpt2';
export { t5Architecture, parseT5Config, serializeT5Config } from './t5';
export { saveTensorFile, loadTensorFile } from './tensorFile';
export { denseConfig } from './denseExport';
export { loadModelDir, saveModelDir, fileTensorPlan, toFileLayout, type ModelTask, type Architecture, type CheckpointModel, type Loaded, type LoadOptions, type SaveOptions } from './modelDir';
