/** `train --resume` refuses a run folder started with another setup, naming the flag. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { main } from '../../src/cli/main';

let root: string;

async function run(...argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const write = vi.spyOn(process.stderr, 'write').mockImplementation(((s: string) => { err.push(String(s)); return true; }) as typeof process.stderr.write);
  try {
    return { code: await main(argv), err: err.join('') };
  } finally {
    log.mockRestore();
    write.mockRestore();
  }
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'np-cli-resume-'));
  await initBackend({ force: 'cpu' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('train --resume', () => {
  it('refuses another data subset or maximum length, naming the flag, and continues with the same ones', async () => {
    const out = join(root, 'run');
    const common = ['train', '--mode', 'finetune', '--epochs', '1', '--limit-dev', '16', '--batch-size', '16', '--quiet', '--out', out];
    expect((await run(...common, '--limit-train', '32')).code).toBe(0);
    const subset = await run(...common, '--limit-train', '16', '--resume');
    expect(subset.code).toBe(1);
    expect(subset.err).toMatch(/options\.json: the run was started with other options: --limit-train is 16 here but 32 in the run/);
    const length = await run(...common, '--limit-train', '32', '--max-length', '16', '--resume');
    expect(length.err).toMatch(/--max-length is 16 here but null in the run/);
    expect((await run(...common, '--limit-train', '32', '--resume')).code).toBe(0);
  });
});
