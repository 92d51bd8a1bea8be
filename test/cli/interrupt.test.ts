/**
 * Ctrl-C in a real terminal: a child process gets a real SIGINT while it trains.
 * The CLI runs from src/ through tsx, so no build is needed; NEUROPRUNE_TEST_CLI=path/to/main.ts
 * (or main.js) runs another copy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { readJsonl } from '../../src/train/jsonl';
import { onFirstInterrupt, resumeCommand } from '../../src/cli/commands/train';

const MAIN = process.env.NEUROPRUNE_TEST_CLI ?? resolve(__dirname, '../../src/cli/main.ts');
const NODE_ARGS = MAIN.endsWith('.ts') ? ['--import', 'tsx', MAIN] : [MAIN];
// 320 examples in batches of 32: 10 steps per epoch.
const QUICK = ['--limit-train', '320', '--limit-dev', '32', '--quiet'];

interface Exit { code: number | null; signal: NodeJS.Signals | null; stderr: string; stdout: string }

/** Starts the CLI; `onStep` runs once, when `logFile()` first holds a step line. */
function runCli(argv: string[], logFile?: () => string | undefined, onStep?: (child: ReturnType<typeof spawn>) => void): Promise<Exit> {
  const child = spawn(process.execPath, [...NODE_ARGS, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (d) => { stderr += String(d); });
  child.stdout!.on('data', (d) => { stdout += String(d); });
  let fired = false;
  const poll = setInterval(() => {
    const file = logFile?.();
    if (fired || !onStep || !file || !existsSync(file)) return;
    if (readFileSync(file, 'utf8').includes('"kind":"step"')) { fired = true; onStep(child); }
  }, 20);
  return new Promise((done) => child.on('exit', (code, signal) => { clearInterval(poll); done({ code, signal, stderr, stdout }); }));
}

/** Splits the printed command (single-quoted words or plain words). */
function shellWords(line: string): string[] {
  return [...line.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/'\\''/g, "'") : m[2]));
}

function logOf(runDir: string) {
  return readJsonl<{ kind: string; step: number; epoch: number }>(join(runDir, 'log.jsonl'));
}

let root: string;
beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'np-sigint-')); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('Ctrl-C', () => {
  it('train: stops within a step, exits 130, says where it stopped and how to resume; that command finishes the run', async () => {
    const runDir = join(root, 'train run');
    const argv = ['train', '--epochs', '3', ...QUICK, '--out', runDir];
    const stopped = await runCli(argv, () => join(runDir, 'log.jsonl'), (child) => child.kill('SIGINT'));
    expect(stopped.stderr).toMatch(/interrupt: stopping before the next step/);
    expect(stopped.code, stopped.stderr).toBe(130);
    const at = /stopped in epoch (\d+) after step (\d+) of 30/.exec(stopped.stderr);
    expect(at, stopped.stderr).not.toBeNull();
    const stepsLogged = logOf(runDir).filter((r) => r.kind === 'step').length;
    expect(Number(at![2])).toBe(stepsLogged);
    expect(stepsLogged).toBeLessThan(30);

    const line = /^Continue with: (.*)$/m.exec(stopped.stderr)![1];
    const words = shellWords(line);
    expect(words.slice(0, 2)).toEqual(['neuroprune', 'train']);
    expect(words.filter((w) => w === '--out')).toHaveLength(1);
    expect(words.filter((w) => w === '--resume')).toHaveLength(1);
    expect(words[words.indexOf('--out') + 1]).toBe(runDir);
    const resumed = await runCli(words.slice(1));
    expect(resumed.code, resumed.stderr).toBe(0);
    const log = logOf(runDir);
    expect(log.filter((r) => r.kind === 'step').map((r) => r.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(log.filter((r) => r.kind === 'epoch').map((r) => r.epoch)).toEqual([1, 2, 3]);
  });

  it('sweep: stops the current point resumable, exits 130 without recording it; the same command then finishes it', async () => {
    const results = join(root, 'sweep', 'results.jsonl');
    const runsDir = join(root, 'sweep', 'runs');
    const argv = ['sweep', '--modes', 'finetune', '--epochs', '2', ...QUICK, '--results', results, '--runs-dir', runsDir];
    const pointLog = () => (existsSync(runsDir) ? readdirSync(runsDir).map((d) => join(runsDir, d, 'log.jsonl'))[0] : undefined);
    const stopped = await runCli(argv, pointLog, (child) => child.kill('SIGINT'));
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/interrupt: stopping this point before its next step/);
    expect(stopped.stderr).toMatch(/point finetune:a=0:b=0:t=0: stopped in epoch 1 after step \d+ of 20; .*; rerun the same command to continue/);
    expect(existsSync(results) ? readFileSync(results, 'utf8') : '').toBe('');

    const finished = await runCli(argv);
    expect(finished.code, finished.stderr).toBe(0);
    expect(readJsonl(results)).toHaveLength(1);
    const log = logOf(join(pointLog()!, '..'));
    expect(log.filter((r) => r.kind === 'step').map((r) => r.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  });

  it('a second Ctrl-C ends the process at once, even inside a long synchronous step', async () => {
    // After the first Ctrl-C the child computes without yielding, as a long training step does.
    const script = [
      `const { onFirstInterrupt } = require(${JSON.stringify(resolve(__dirname, '../../src/cli/commands/train.ts'))});`,
      "const interrupt = onFirstInterrupt('interrupt: first');",
      "const poll = setInterval(() => {",
      "  if (!interrupt.stopRequested()) return;",
      "  clearInterval(poll);",
      "  console.error('busy');",
      "  const end = Date.now() + 60000; while (Date.now() < end) {}",
      "  console.error('step finished');",
      "}, 5);",
      "console.error('ready');",
    ].join('\n');
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += String(d);
      if (/ready/.test(stderr) && !/interrupt: first/.test(stderr)) child.kill('SIGINT');
      if (/busy/.test(stderr)) child.kill('SIGINT');
    });
    const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('exit', (c, sig) => done({ code: c, signal: sig })));
    expect(stderr).toMatch(/interrupt: first\n[^]*busy/);
    expect(stderr).not.toMatch(/step finished/);
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
  });

  it('prints a resume command with --out and --resume once, quoted for the shell', () => {
    expect(resumeCommand(['--epochs', '2', '--out', 'a b', '--resume'], 'a b')).toBe("neuroprune train --epochs 2 --out 'a b' --resume");
    expect(resumeCommand(['--out=x', '--seed', '1'], 'x')).toBe('neuroprune train --seed 1 --out x --resume');
  });
});
