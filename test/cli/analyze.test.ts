/**
 * `neuroprune analyze` on a bare Hugging Face `BertModel` (no classifier; made by
 * scripts/make_bare_bert_fixture.py with transformers), its degree statistics against NumPy's
 * (expected_degrees.json beside the checkpoint), the heavy-tail table and the graph export.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/backend';
import { runCli } from './runCli';

const BARE = join(__dirname, '../fixtures/tiny-bert-bare');
const EXPECTED = JSON.parse(readFileSync(join(BARE, 'expected_degrees.json'), 'utf8')) as {
  layers: { hiddenIn: number[]; hiddenOut: number[]; std: number; gini: number; topShare: number; fullFraction: number; emptyFraction: number }[];
};
let root = '';

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'np-analyze-'));
  await initBackend({ force: 'cpu' });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('analyze', () => {
  it('analyses a bare BertModel checkpoint, whose degree statistics agree with NumPy', async () => {
    expect(existsSync(join(BARE, 'model.safetensors'))).toBe(true);
    const config = JSON.parse(readFileSync(join(BARE, 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['BertModel']);
    const { code, out } = await runCli('analyze', '--model', BARE, '--json', '--bootstrap', '20');
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report.graphs.layers).toHaveLength(2);
    report.graphs.layers.forEach((l: { mlp: Record<string, Record<string, number>> }, i: number) => {
      const ref = EXPECTED.layers[i];
      const hidden = l.mlp.hidden;
      expect(l.mlp.hiddenIn.mean).toBeCloseTo(ref.hiddenIn.reduce((a, b) => a + b, 0) / ref.hiddenIn.length, 12);
      expect(l.mlp.hiddenOut.mean).toBeCloseTo(ref.hiddenOut.reduce((a, b) => a + b, 0) / ref.hiddenOut.length, 12);
      expect(hidden.std).toBeCloseTo(ref.std, 10);
      expect(hidden.gini).toBeCloseTo(ref.gini, 10);
      expect(hidden.topShare).toBeCloseTo(ref.topShare, 10);
      expect(hidden.fullFraction).toBeCloseTo(ref.fullFraction, 12);
      expect(hidden.emptyFraction).toBeCloseTo(ref.emptyFraction, 12);
    });
    // Layer 0 was thinned to a skewed pattern: a fit, a bootstrap p-value and four comparisons.
    const l0 = report.graphs.layers[0].mlp.hidden;
    expect(l0.powerLaw).not.toBeNull();
    expect(l0.goodnessOfFit.replicates).toBe(20);
    expect(report.graphs.layers[0].mlp.hiddenIn.goodnessOfFit).toBeNull(); // the bootstrap runs on the total degree only
    expect(l0.comparisons.map((c: { alternative: string }) => c.alternative)).toEqual(['lognormal', 'exponential', 'stretched_exponential', 'truncated_power_law']);
    expect(report.graphs.model.hidden.count).toBe(128);
  });

  it('prints the fit, the p-value and the verdicts per layer, never a bound as an estimate, and exports the graphs', async () => {
    const out = join(root, 'graphs');
    const res = await runCli('analyze', '--model', BARE, '--bootstrap', '10', '--export', 'gexf', '--out', out);
    expect(res.code).toBe(0);
    const row0 = res.out.split('\n').find((l) => /^\s+0\s+\d/.test(l) && l.includes('tail'))!;
    expect(row0).toMatch(/xmin \d+, tail \d+; p \d\.\d\d; .*\(R -?\d+\.\d\)/);
    // Its alpha wants to exceed the search bound: printed as a bound, with the warning.
    expect(row0).toMatch(/alpha > 3\.00 \(search bound, no estimate\)/);
    expect(res.out).toMatch(/layer 0: alpha is at its search bound/);
    expect(readdirSync(out).sort()).toEqual(['layer0.heads.gexf', 'layer0.neurons.gexf', 'layer1.heads.gexf', 'layer1.neurons.gexf']);
  });

  it('refuses --export without --out and unknown formats', async () => {
    const noOut = await runCli('analyze', '--model', BARE, '--export', 'gexf');
    expect(noOut.code).toBe(2);
    expect(noOut.err).toMatch(/--export and --out go together/);
    const dot = await runCli('analyze', '--model', BARE, '--export', 'dot', '--out', root);
    expect(dot.code).toBe(2);
    expect(dot.err).toMatch(/'dot' is not a format/);
  });
});
