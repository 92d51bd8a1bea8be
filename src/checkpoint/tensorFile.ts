/**
 * Any named float32 tensors to and from one safetensors file (optimizer state, analysis
 * outputs). Written atomically; read whole or not at all.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from './atomic';
import { CheckpointError } from './errors';
import { decodeTensor, encodeSafetensors, parseSafetensorsHeader } from './safetensors';

export function saveTensorFile(file: string, tensors: ReadonlyMap<string, tf.Tensor>, metadata: Record<string, string> = { format: 'neuroprune' }): void {
  const entries = [...tensors].map(([name, t]) => ({ name, shape: t.shape, data: Float32Array.from(t.dataSync() as Float32Array) }));
  writeFileAtomic(file, encodeSafetensors(entries, metadata));
}

/** Loads every tensor of a safetensors file; the caller owns (and disposes) them. */
export function loadTensorFile(file: string): Map<string, tf.Tensor> {
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new CheckpointError(`cannot read: ${(err as Error).message}`, { file });
  }
  const header = parseSafetensorsHeader(bytes, file);
  // Decode everything before creating any tensor, so a bad entry leaves nothing allocated.
  const decoded = [...header.entries.values()].map((entry) => ({ entry, data: decodeTensor(bytes, header, entry, file) }));
  return new Map(decoded.map(({ entry, data }) => [entry.name, tf.tensor(data, entry.shape, 'float32')]));
}
