/**
 * The on-disk layout of a run, and why a kill at any instant leaves it resumable.
 *
 *   <runDir>/log.jsonl          one JSON line per step and per epoch
 *   <runDir>/options.json       what the run started with: hyperparameters and setup (a resume must match)
 *   <runDir>/checkpoint-<e>/    the checkpoint of epoch e: a Hugging Face model directory plus
 *                               optimizer.safetensors and trainer_state.json
 *   <runDir>/checkpoint         a symbolic link to the newest checkpoint-<e>, for people and tools
 *
 * A checkpoint folder is written under a temporary name, flushed to disk, and only then renamed to
 * checkpoint-<e>: a folder with that name is whole by construction, and the rename is the commit.
 * The newest checkpoint-<e> is the run's checkpoint (`latestCheckpoint`); the link is moved to it
 * by renaming a new link over the old one (atomic), and older folders are deleted only after the
 * commit. So at every instant some whole checkpoint-<e> is the latest one, and a kill leaves at
 * worst temporary entries and a link one epoch behind, both repaired by `recoverRunDir` at the
 * next start.
 *
 * Run folders of earlier versions (a `checkpoint/` directory swapped with `checkpoint.previous/`)
 * are converted by `recoverRunDir`.
 */
import {
  closeSync, existsSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync,
  renameSync, rmSync, symlinkSync,
} from 'node:fs';
import { basename, join, resolve } from 'node:path';

/** The link to the newest checkpoint (the name users open). */
export const CHECKPOINT = 'checkpoint';
const VERSIONED = /^checkpoint-(\d+)$/;
const LINK_TMP = 'checkpoint.link.tmp';
/** The previous layout's names: a live folder and the one kept during its swap. */
const LEGACY_LIVE = CHECKPOINT;
const LEGACY_PREVIOUS = 'checkpoint.previous';
const STATE_FILE = 'trainer_state.json';
/**
 * Every checkpoint entry this module or its previous version creates, and writeFileAtomic's
 * temporary files of log.jsonl and options.json: what recovery may delete (nothing a user added).
 */
const OURS = /^(checkpoint(-\d+(\.tmp)?|\.tmp-\d+|\.previous|\.link\.tmp)?|\.(log\.jsonl|options\.json)\.\d+\.[a-z0-9]+\.tmp)$/;

export function logPath(runDir: string): string {
  return join(runDir, 'log.jsonl');
}

export function optionsPath(runDir: string): string {
  return join(runDir, 'options.json');
}

/** The folder of epoch `epoch`'s checkpoint. */
export function checkpointDir(runDir: string, epoch: number): string {
  return join(runDir, `${CHECKPOINT}-${epoch}`);
}

const isWhole = (dir: string) => existsSync(join(dir, STATE_FILE));

function isRealDir(path: string): boolean {
  try { return lstatSync(path).isDirectory(); } catch { return false; }
}

function isLink(path: string): boolean {
  try { return lstatSync(path).isSymbolicLink(); } catch { return false; }
}

/** Epochs of the committed checkpoint-<e> folders, newest first. */
function versionedEpochs(runDir: string): number[] {
  if (!existsSync(runDir)) return [];
  return readdirSync(runDir)
    .map((name) => VERSIONED.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && isRealDir(join(runDir, m[0])))
    .map((m) => Number(m[1]))
    .sort((a, b) => b - a);
}

/** The directory of the last complete checkpoint, or undefined when the run has none. */
export function latestCheckpoint(runDir: string): string | undefined {
  for (const e of versionedEpochs(runDir)) {
    if (isWhole(checkpointDir(runDir, e))) return checkpointDir(runDir, e);
  }
  // A run folder of the previous layout, not yet converted by `recoverRunDir`.
  for (const name of [LEGACY_LIVE, LEGACY_PREVIOUS]) {
    const dir = join(runDir, name);
    if (isRealDir(dir) && isWhole(dir)) return dir;
  }
  return undefined;
}

/** Makes a rename or a new entry in `dir` durable (where the file system allows fsync on a directory). */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic.
  }
}

/** Flushes every file of a folder, then the folder, so that a rename after it publishes bytes already on disk. */
function syncTree(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) { syncTree(path); continue; }
    const fd = openSync(path, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
  }
  syncDir(dir);
}

/** Deletes a checkpoint folder: its completeness mark first, so a half-deleted folder never looks whole. */
function removeCheckpoint(dir: string): void {
  rmSync(join(dir, STATE_FILE), { force: true });
  rmSync(dir, { recursive: true, force: true });
}

/** Points the `checkpoint` link at `checkpoint-<epoch>` by renaming a new link over it (atomic). */
function pointLinkAt(runDir: string, epoch: number): void {
  const link = join(runDir, CHECKPOINT);
  const target = `${CHECKPOINT}-${epoch}`;
  if (isLink(link) && readlinkSync(link) === target) return;
  if (isRealDir(link)) {
    // A previous-layout folder: older than the committed checkpoint-<epoch>, so it can go.
    removeCheckpoint(link);
  }
  const tmp = join(runDir, LINK_TMP);
  rmSync(tmp, { force: true });
  // Windows junctions need an absolute target.
  if (process.platform === 'win32') symlinkSync(resolve(runDir, target), tmp, 'junction');
  else symlinkSync(target, tmp, 'dir');
  renameSync(tmp, link);
  syncDir(runDir);
}

/**
 * Writes epoch `epoch`'s checkpoint with `write(tmpDir)` and commits it; `write` must put
 * trainer_state.json into the folder. Then moves the link and deletes older checkpoints.
 * Returns the checkpoint's folder.
 */
export async function writeCheckpoint(runDir: string, epoch: number, write: (dir: string) => Promise<void>): Promise<string> {
  mkdirSync(runDir, { recursive: true });
  const tmp = `${checkpointDir(runDir, epoch)}.tmp`;
  // Left by a kill during an earlier attempt at this epoch: never committed, so garbage.
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  await write(tmp);
  if (!isWhole(tmp)) throw new Error(`${tmp}: the checkpoint writer did not write ${STATE_FILE}`);
  syncTree(tmp);
  const final = checkpointDir(runDir, epoch);
  // Only a checkpoint of this epoch from an earlier attempt can be in the way: replace it whole.
  if (existsSync(final)) removeCheckpoint(final);
  renameSync(tmp, final);
  syncDir(runDir);
  pointLinkAt(runDir, epoch);
  removeAllBut(runDir, final);
  return final;
}

/** Removes every checkpoint entry of `runDir` but `keep` and the link, and temporary files a kill left behind. */
function removeAllBut(runDir: string, keep: string | undefined): void {
  for (const name of readdirSync(runDir)) {
    const path = join(runDir, name);
    if (name === CHECKPOINT && isLink(path)) continue;
    if (keep !== undefined && resolve(path) === resolve(keep)) continue;
    if (!OURS.test(name)) continue;
    if (isRealDir(path)) removeCheckpoint(path); else rmSync(path, { force: true });
  }
}

/**
 * Brings a run folder left by a kill (or by an earlier version) back to the layout above, keeping
 * its latest checkpoint: converts `checkpoint/` and `checkpoint.previous/` folders to
 * checkpoint-<e>, points the link at the latest, deletes temporary entries and older
 * checkpoints. Each step keeps a whole latest checkpoint, so a kill during it is harmless too.
 * Returns the latest checkpoint.
 */
export function recoverRunDir(runDir: string): string | undefined {
  if (!existsSync(runDir)) return undefined;
  let latest = latestCheckpoint(runDir);
  if (latest !== undefined && !VERSIONED.test(basename(latest))) {
    // A previous-layout folder: rename it to its versioned name (atomic; whole under either name).
    const target = checkpointDir(runDir, legacyEpoch(latest));
    rmSync(`${target}.tmp`, { recursive: true, force: true });
    renameSync(latest, target);
    syncDir(runDir);
    latest = target;
  }
  if (latest !== undefined) pointLinkAt(runDir, Number(VERSIONED.exec(basename(latest))![1]));
  else if (isLink(join(runDir, CHECKPOINT))) rmSync(join(runDir, CHECKPOINT), { force: true });
  removeAllBut(runDir, latest);
  return latest;
}

function legacyEpoch(dir: string): number {
  const file = join(dir, STATE_FILE);
  let epoch: unknown;
  try { epoch = (JSON.parse(readFileSync(file, 'utf8')) as { epoch?: unknown }).epoch; } catch (err) {
    throw new Error(`${file}: not JSON (${(err as Error).message}); the checkpoint is damaged: delete the run folder or restore it`);
  }
  if (!Number.isInteger(epoch) || (epoch as number) < 1) throw new Error(`${file}: field 'epoch' must be an integer >= 1 (got ${JSON.stringify(epoch)})`);
  return epoch as number;
}
