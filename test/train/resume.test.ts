/**
 * Crash safety of a run folder: a kill at every filesystem step of a checkpoint write, then a kill
 * at every step of the next one, must leave a folder that resumes to bitwise the same weights as an
 * uninterrupted run, with a log that holds each step once and no temporary folder.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type * as FS from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { tinyBertTaskModel } from './tinyBert';
import type { TaskModel } from '../../src/train/taskModel';
import { neuropruneOps } from '../../src/train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS, type TrainOptions } from '../../src/train/options';
import { builtinTask, taskData } from '../../src/train/taskData';
import { train } from '../../src/train/trainer';
import { readJsonl } from '../../src/train/jsonl';
import { latestCheckpoint } from '../../src/train/runDir';
import { newCrashState, SimulatedCrash, watch, type CrashState, type crashingFs } from './crashFs';

const crash = vi.hoisted(() => ({ state: undefined as unknown as CrashState }));
vi.mock('node:fs', async (orig) => {
  const m = (await import('./crashFs' as string)) as { crashingFs: typeof crashingFs };
  return m.crashingFs(await orig<typeof FS>(), crash);
});
crash.state = newCrashState();
let fs: typeof FS;

const task = builtinTask();
// One step per epoch keeps the hundreds of crash runs cheap; the checkpoint write is the same.
const data = taskData(task, { batchSize: 16, seed: 7, padId: task.tokenizer.special.pad, limitTrain: 16, limitDev: 16 });

const newModel = () => tinyBertTaskModel(task.tokenizer.vocabSize);
const options: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, mode: 'neuroprune', epochs: 2, batchSize: 16, theta: 0.05, alpha: 1e-3, beta: 1e-3, progress: false };

function weights(m: TaskModel): Map<string, number[]> {
  return new Map([...m.namedVariables()].map(([k, v]) => [k, Array.from(v.dataSync() as Float32Array)]));
}

let root: string;
beforeAll(async () => {
  fs = await vi.importActual<typeof FS>('node:fs');
  await initBackend({ force: 'cpu' });
  root = fs.mkdtempSync(join(tmpdir(), 'np-resume-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Runs (or resumes) in `runDir`, crashing after `crashAfter` filesystem steps there (0: no crash). Returns the weights, or null on a crash. */
async function runUntil(runDir: string, crashAfter: number, resume: boolean): Promise<{ weights: Map<string, number[]> | null; trace: string[] }> {
  watch(crash.state, runDir, crashAfter);
  try {
    const r = await train({ model: newModel(), data, ops: neuropruneOps(), options, runDir, resume });
    const w = weights(r.model);
    r.model.dispose();
    return { weights: w, trace: [...crash.state.trace] };
  } catch (err) {
    if (!(err instanceof SimulatedCrash)) throw err;
    return { weights: null, trace: [...crash.state.trace] };
  } finally {
    watch(crash.state, '', 0);
  }
}

let n = 0;
const freshDir = () => join(root, `r${n++}`);
const copy = (from: string) => { const to = freshDir(); fs.cpSync(from, to, { recursive: true, verbatimSymlinks: true }); return to; };

/** What a finished run folder must look like: each step and epoch once in the log, no temporary entry. */
function expectClean(runDir: string, where: string): void {
  const log = readJsonl<{ kind: string; step: number; epoch: number }>(join(runDir, 'log.jsonl'));
  expect(log.filter((r) => r.kind === 'step').map((r) => r.step), `${where}: step lines`).toEqual([1, 2]);
  expect(log.filter((r) => r.kind === 'epoch').map((r) => r.epoch), `${where}: epoch lines`).toEqual([1, 2]);
  const leftovers = fs.readdirSync(runDir).filter((f) => /tmp|previous|trash/.test(f));
  expect(leftovers, `${where}: temporary entries`).toEqual([]);
}

const appendsAt = (trace: string[]) => trace.flatMap((t, i) => (t.startsWith('append') && t.endsWith('log.jsonl') ? [i + 1] : []));
const same = (a: Map<string, number[]> | null, b: Map<string, number[]>) =>
  a !== null && a.size === b.size && [...b].every(([k, v]) => { const w = a.get(k); return w !== undefined && w.length === v.length && w.every((x, i) => Object.is(x, v[i])); });
/**
 * The on-disk state of a run folder: names (the random part of temporary names removed), link
 * targets and file contents but timings. The trainer is deterministic, so two folders in the
 * same state resume the same way: each state is resumed once.
 */
const TIMINGS = new Set(['trainSeconds', 'evalSeconds', 'tokensPerSecond']);

/** JSON and JSONL contents without the wall-clock fields, the only ones that differ between equal runs. */
function withoutTimings(name: string, bytes: Buffer): Buffer | string {
  if (!/\.jsonl?$/.test(name)) return bytes;
  return bytes.toString('utf8').split('\n').map((line) => {
    try { return JSON.stringify(JSON.parse(line), (k, v) => (TIMINGS.has(k) ? undefined : v)); } catch { return line; }
  }).join('\n');
}

function digest(dir: string): string {
  const h = createHash('sha1');
  const walk = (d: string, rel: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const path = join(d, name);
      const key = `${rel}/${name.replace(/\.\d+\.[a-z0-9]+\.tmp$/, '.tmp')}`;
      const st = fs.lstatSync(path);
      if (st.isSymbolicLink()) h.update(`${key} -> ${fs.readlinkSync(path)}\n`);
      else if (st.isDirectory()) { h.update(`${key}/\n`); walk(path, key); }
      else h.update(`${key} ${createHash('sha1').update(withoutTimings(name, fs.readFileSync(path))).digest('hex')}\n`);
    }
  };
  walk(dir, '');
  return h.digest('hex');
}

const checkpointEpoch = (runDir: string): number => {
  const c = latestCheckpoint(runDir);
  return c === undefined ? 0 : (JSON.parse(fs.readFileSync(join(c, 'trainer_state.json'), 'utf8')) as { epoch: number }).epoch;
};

describe('a run folder survives a kill at any filesystem step', () => {
  let reference: Map<string, number[]>;
  let steps: string[];

  beforeAll(async () => {
    const r = await runUntil(freshDir(), 0, false);
    reference = r.weights!;
    steps = r.trace;
  });

  it('a kill after any step, then resume: the same weights, each log line once, no temporary folder', async () => {
    const problems: string[] = [];
    for (let a = 1; a <= steps.length; a++) {
      const dir = freshDir();
      const crashed = await runUntil(dir, a, false);
      if (crashed.weights !== null) { problems.push(`a=${a}: did not crash`); continue; }
      const where = `kill after step ${a} (${steps[a - 1]})`;
      let resumed;
      try { resumed = await runUntil(dir, 0, true); } catch (err) { problems.push(`${where}: resume failed: ${(err as Error).message}`); continue; }
      if (!same(resumed.weights, reference)) problems.push(`${where}: other weights after resume`);
      try { expectClean(dir, where); } catch (err) { problems.push((err as Error).message.split('\n')[0]); }
    }
    expect(problems).toEqual([]);
  });

  // Hundreds of short runs: minutes, not seconds.
  it('a kill during checkpoint write k, then one during the next write: never loses the last checkpoint and resumes to the same weights', { timeout: 900_000 }, async () => {
    const appends = appendsAt(steps);
    // Write k runs from the append of epoch k's line to the step before the next epoch's first step line.
    const writeSteps: number[] = [];
    for (let a = appends[1]; a <= steps.length; a++) if (a < appends[2] || a >= appends[3]) writeSteps.push(a);
    const problems: string[] = [];
    const seenFirst = new Set<string>();
    const seenSecond = new Set<string>();
    let pairs = 0;
    let resumes = 0;
    for (const a of writeSteps) {
      const first = freshDir();
      await runUntil(first, a, false);
      if (seenFirst.has(digest(first))) continue;
      seenFirst.add(digest(first));
      const kept = checkpointEpoch(first);
      // The steps of the resumed run up to the end of its first checkpoint write.
      const dry = await runUntil(copy(first), 0, true);
      const ends = appendsAt(dry.trace);
      const last = ends.length > 2 ? ends[2] - 1 : dry.trace.length;
      for (let b = 1; b <= last; b++) {
        const where = `kill after step ${a} (${steps[a - 1]}), then after step ${b} of the resume (${dry.trace[b - 1]})`;
        const dir = copy(first);
        await runUntil(dir, b, true);
        pairs += 1;
        const now = checkpointEpoch(dir);
        if (now < kept) problems.push(`${where}: the checkpoint of epoch ${kept} is lost (latest: ${now || 'none'})`);
        const state = digest(dir);
        if (seenSecond.has(state)) { fs.rmSync(dir, { recursive: true, force: true }); continue; }
        seenSecond.add(state);
        resumes += 1;
        let resumed;
        try { resumed = await runUntil(dir, 0, true); } catch (err) { problems.push(`${where}: resume failed: ${(err as Error).message}`); continue; }
        if (!same(resumed.weights, reference)) problems.push(`${where}: other weights after resume`);
        try { expectClean(dir, where); } catch (err) { problems.push((err as Error).message.split('\n')[0]); }
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
    console.log(`${writeSteps.length} first kills, ${seenFirst.size} distinct states, ${pairs} second kills, ${resumes} distinct states resumed`);
    expect(problems).toEqual([]);
  });
});

describe('run folders of the previous layout', () => {
  it('resume from checkpoint/ or from checkpoint.previous/ (a kill between its two renames), and lose their temporary folders', async () => {
    const reference = (await runUntil(freshDir(), 0, false)).weights!;
    for (const legacyName of ['checkpoint', 'checkpoint.previous']) {
      const dir = freshDir();
      watch(crash.state, '', 0);
      const first = await train({ model: newModel(), data, ops: neuropruneOps(), options, runDir: dir, shouldStop: (step) => step === 1 });
      first.model.dispose();
      // The previous layout: a plain folder, and a temporary folder its writer left behind.
      fs.rmSync(join(dir, 'checkpoint'));
      fs.renameSync(join(dir, 'checkpoint-1'), join(dir, legacyName));
      fs.mkdirSync(join(dir, 'checkpoint.tmp-999'));
      fs.writeFileSync(join(dir, 'checkpoint.tmp-999', 'config.json'), '{');
      expect(latestCheckpoint(dir)).toBe(join(dir, legacyName));
      const resumed = await runUntil(dir, 0, true);
      expect(same(resumed.weights, reference), legacyName).toBe(true);
      expectClean(dir, legacyName);
      expect(fs.readlinkSync(join(dir, 'checkpoint'))).toBe('checkpoint-2');
      expect(fs.readdirSync(dir).sort()).toEqual(['checkpoint', 'checkpoint-2', 'log.jsonl', 'options.json']);
    }
  });
});
