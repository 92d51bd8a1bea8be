/**
 * The on-disk layout of a run and its atomic checkpoint directory.
 *
 *   <runDir>/log.jsonl          one JSON line per step and per epoch
 *   <runDir>/checkpoint/        the last finished epoch: a Hugging Face model directory plus
 *                               optimizer.safetensors and trainer_state.json
 *   <runDir>/options.json       the options the run started with (a resume must match them)
 *
 * A checkpoint is written into a fresh temporary directory beside the live one and swapped in
 * by renames, so an interruption at any moment leaves either the old or the new checkpoint whole.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export const CHECKPOINT = 'checkpoint';
const PREVIOUS = 'checkpoint.previous';

export function logPath(runDir: string): string {
  return join(runDir, 'log.jsonl');
}

export function optionsPath(runDir: string): string {
  return join(runDir, 'options.json');
}

/** The directory of the last complete checkpoint, or undefined when the run has none. */
export function latestCheckpoint(runDir: string): string | undefined {
  const live = join(runDir, CHECKPOINT);
  if (existsSync(join(live, 'trainer_state.json'))) return live;
  // Interrupted between the two renames of `writeCheckpointAtomically`: the previous one is whole.
  const prev = join(runDir, PREVIOUS);
  if (existsSync(join(prev, 'trainer_state.json'))) return prev;
  return undefined;
}

/**
 * Writes a checkpoint with `write(tmpDir)` and swaps it in. `write` must put trainer_state.json
 * last: its presence marks a complete checkpoint.
 */
export async function writeCheckpointAtomically(runDir: string, write: (dir: string) => Promise<void>): Promise<string> {
  mkdirSync(runDir, { recursive: true });
  const tmp = join(runDir, `${CHECKPOINT}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    await write(tmp);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  const live = join(runDir, CHECKPOINT);
  const prev = join(runDir, PREVIOUS);
  rmSync(prev, { recursive: true, force: true });
  if (existsSync(live)) renameSync(live, prev);
  renameSync(tmp, live);
  rmSync(prev, { recursive: true, force: true });
  return live;
}
