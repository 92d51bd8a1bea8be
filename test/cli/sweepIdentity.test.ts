import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/backend';
import { readJsonl } from '../../src/train/jsonl';
import { runCli } from './runCli';

let root: string;
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'np-sweep-id-'));
  await initBackend({ force: 'cpu' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('sweep: a point is done only with the same settings', () => {
  it('reruns a point whose seed, epochs, lr, data limit or max length differ, and skips an identical one', async () => {
    const results = join(root, 'results.jsonl');
    const runs = join(root, 'runs');
    const base = ['--modes', 'finetune', '--epochs', '1', '--limit-train', '32', '--limit-dev', '16', '--batch-size', '16', '--quiet', '--results', results, '--runs-dir', runs];
    const first = await runCli('sweep', ...base);
    expect(first.code).toBe(0);
    expect(first.err).toMatch(/0 already in .*, 1 to run/);

    for (const change of [['--seed', '7'], ['--epochs', '2'], ['--lr', '1e-4'], ['--limit-train', '48'], ['--max-length', '16'], ['--clip-scope', 'total']]) {
      const dry = await runCli('sweep', ...base, ...change, '--dry-run');
      expect(dry.err, change.join(' ')).toMatch(/0 already in .*, 1 to run \(1 other lines there/);
    }
    const same = await runCli('sweep', ...base, '--dry-run');
    expect(same.err).toMatch(/1 already in .*, 0 to run/);

    // A changed point runs in its own folder, and both lines stay in the results.
    expect((await runCli('sweep', ...base, '--seed', '7')).code).toBe(0);
    const lines = readJsonl<{ id: string; key: string; seed: number; settings: { options: { seed: number } } }>(results);
    expect(lines.map((l) => l.seed)).toEqual([42, 7]);
    expect(lines.map((l) => l.settings.options.seed)).toEqual([42, 7]);
    expect(new Set(lines.map((l) => l.id)).size).toBe(1);
    expect(new Set(lines.map((l) => l.key)).size).toBe(2);
    expect(readdirSync(runs)).toHaveLength(2);
  });

  it('report keeps runs of other settings apart and asks for --task when the files hold several tasks', async () => {
    const results = join(root, 'results.jsonl');
    const table = await runCli('report', '--results', results);
    // The two runs differ only by their seed: one row, the seeds averaged.
    expect(table.out.split('\n').filter((l) => l.startsWith('| finetune'))).toEqual([expect.stringContaining('| 7, 42 |')]);
    const mixed = join(root, 'mixed.jsonl');
    const other = { ...readJsonl<Record<string, unknown>>(results)[0], task: 'rte', key: 'other' };
    writeFileSync(mixed, readFileSync(results, 'utf8') + JSON.stringify(other) + '\n');
    const refused = await runCli('report', '--results', mixed);
    expect(refused.code).toBe(2);
    expect(refused.err).toMatch(/several tasks \(negation, rte\): pass --task NAME/);
    expect((await runCli('report', '--results', mixed, '--task', 'rte')).out.split('\n').filter((l) => l.startsWith('| finetune'))).toHaveLength(1);
  });
});
