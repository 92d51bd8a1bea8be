/**
 * Opt-in: tokenizer parity on real GLUE sentences (../shared/data/glue, outside the project),
 * against ids that transformers computes now through scripts/glue_tokenizer_ids.py.
 *
 *   NEUROPRUNE_GLUE_CHECKS=1 npx vitest run test/data/tokenizer.glue.test.ts
 *
 * The normal suite never needs it: the same code is checked on committed fixtures in
 * tokenizer.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { loadGlue, loadTokenizer, type Compat } from '../../src/data';

const REPO = join(__dirname, '..', '..');
const GLUE = join(REPO, '..', 'shared', 'data', 'glue');

interface Item {
  text: string;
  pair?: string;
  max_length: number;
}

function glueItems(): Item[] {
  const items: Item[] = [];
  // Every 8th SST-2 dev sentence, every 8th CoLA dev sentence, every 2nd RTE dev pair
  // (long premises: longest-first truncation at 64 and 128 tokens).
  loadGlue(GLUE, 'sst2', 'dev').examples.forEach((e, i) => i % 8 === 0 && items.push({ text: e.textA, max_length: 128 }));
  loadGlue(GLUE, 'cola', 'dev').examples.forEach((e, i) => i % 8 === 0 && items.push({ text: e.textA, max_length: 128 }));
  loadGlue(GLUE, 'rte', 'dev').examples.forEach(
    (e, i) => i % 2 === 0 && items.push({ text: e.textA, pair: e.textB as string, max_length: i % 4 === 0 ? 64 : 128 }),
  );
  return items;
}

describe.skipIf(!process.env.NEUROPRUNE_GLUE_CHECKS)('tokenizer parity on real GLUE sentences (opt-in)', () => {
  for (const fixture of ['tokenizer', 'tokenizer-cased']) {
    it(`${fixture}: both implementations equal transformers on SST-2, CoLA and RTE dev`, () => {
      const dir = join(REPO, 'test', 'fixtures', fixture);
      const items = glueItems();
      const py = spawnSync('python3', [join(REPO, 'scripts', 'glue_tokenizer_ids.py')], {
        input: JSON.stringify({ tokenizer_dir: dir, items }),
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      });
      if (py.status !== 0) throw new Error(`scripts/glue_tokenizer_ids.py failed: ${py.stderr}`);
      const ref = JSON.parse(py.stdout) as Record<'fast' | 'slow' | 'fast_types' | 'slow_types', number[][]>;
      const check = (impl: 'tokenizer.json' | 'vocab.txt', compat: Compat): string[] => {
        const tok = loadTokenizer(dir, { prefer: impl, compat });
        const bad: string[] = [];
        items.forEach((it, i) => {
          const e = it.pair === undefined ? tok.encode(it.text, { maxLength: it.max_length }) : tok.encodePair(it.text, it.pair, { maxLength: it.max_length });
          if (JSON.stringify(e.inputIds) !== JSON.stringify(ref[compat][i]) || JSON.stringify(e.tokenTypeIds) !== JSON.stringify(ref[`${compat}_types`][i])) {
            bad.push(`${impl}/${compat} #${i} ${JSON.stringify(it.text.slice(0, 60))}`);
          }
        });
        return bad;
      };
      expect(items.length).toBeGreaterThan(300);
      expect(check('tokenizer.json', 'fast')).toEqual([]);
      expect(check('vocab.txt', 'fast')).toEqual([]);
      expect(check('vocab.txt', 'slow')).toEqual([]);
    });
  }
});
