import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import type { SweepResult } from '../../src/cli/commands/sweep';
import { formatSeconds, resultsCsv, resultsLatex, resultsTable } from '../../src/cli/commands/report';
import { findChromium } from '../../src/viz/image';
import { plotlyScriptPath } from '../../src/viz/render';
import { runCli } from './runCli';

const root = mkdtempSync(join(tmpdir(), 'np-report-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function result(mode: SweepResult['mode'], beta: number, seed: number, metric: number, sparsity: number, structured: number, trainSeconds: number, epochs = 3): SweepResult {
  const id = `${mode}:a=0.001:b=${beta}:t=0.2`;
  return {
    id, key: `${id}#seed${seed}#e${epochs}`, settings: { setup: { '--task': 'negation' }, options: { seed, epochs } as unknown as SweepResult['settings']['options'] }, task: 'negation', mode, alpha: 0.001, beta, theta: 0.2,
    seed, epochs, metricName: 'accuracy', metric, dev: { accuracy: metric }, sparsity, structuredSparsity: structured,
    headsKept: mode === 'neuroprune' ? 6 : 8, headsOriginal: 8, trainSeconds, runDir: `runs/${id}`, finishedAt: '2026-01-01T00:00:00Z',
  };
}

// A 5-point sweep, the neuroprune points with two seeds.
const results: SweepResult[] = [
  result('finetune', 0, 1, 0.978, 0.002, 0, 8.44),
  result('l1', 0.01, 1, 0.944, 0.805, 0.087, 17.6),
  result('l1', 0.1, 1, 0.93, 0.81, 0.09, 17.2),
  result('neuroprune', 0.1, 1, 0.97, 0.769, 0.699, 11),
  result('neuroprune', 0.1, 2, 0.96, 0.749, 0.659, 12),
  result('neuroprune', 0.3, 1, 0.95, 0.8, 0.72, 12.5),
];

describe('report tables', () => {
  it('averages seeds of one point: mean ± sample sd in markdown and LaTeX', () => {
    const md = resultsTable(results);
    // mean(0.97, 0.96) = 0.965, sd = 0.00707; sparsity 75.9% ± 1.4%; structured 67.9% ± 2.8%
    expect(md).toContain('| neuroprune | 0.001 | 0.1 | 0.2 | 1, 2 | accuracy 0.9650 ± 0.0071 | 75.9% ± 1.4% | 67.9% ± 2.8% | 6/8 ± 0 | 12 ± 0.7 |');
    expect(md).toContain('| finetune | 0.001 | 0 | - | 1 | accuracy 0.9780 | 0.2% | 0.0% | 8/8 | 8.4 |');
    expect(md.split('\n').filter((l) => l.startsWith('| neuroprune'))).toHaveLength(2);
    const tex = resultsLatex(results);
    expect(tex).toContain('neuroprune & 0.001 & 0.1 & 0.2 & 2 & 0.9650 $\\pm$ 0.0071 & 75.9 $\\pm$ 1.4 & 67.9 $\\pm$ 2.8');
    expect(tex).toMatch(/\\begin\{tabular\}[\s\S]*\\bottomrule\n\\end\{tabular\}\n$/);
  });

  it('keeps runs apart whose settings differ by more than the seed', () => {
    const other = result('neuroprune', 0.1, 2, 0.9, 0.7, 0.6, 10, 5);
    const md = resultsTable([...results, other]);
    expect(md.split('\n').filter((l) => l.startsWith('| neuroprune'))).toHaveLength(3);
    expect(md).toContain('| neuroprune | 0.001 | 0.1 | 0.2 | 2 | accuracy 0.9000 |');
    expect(md).toContain('| 1, 2 | accuracy 0.9650 ± 0.0071 |');
  });

  it('writes every run to CSV', () => {
    const lines = resultsCsv(results).trim().split('\n');
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe('id,mode,alpha,beta,theta,target_sparsity,seed,epochs,metric_name,metric,sparsity,structured_sparsity,heads_kept,heads_original,train_seconds');
    expect(lines).toContain('neuroprune:a=0.001:b=0.1:t=0.2,neuroprune,0.001,0.1,0.2,,2,3,accuracy,0.96,0.749,0.659,6,8,12');
  });

  it('keeps a decimal on short times', () => {
    expect(formatSeconds(0.4)).toBe('0.4');
    expect(formatSeconds(12.4)).toBe('12');
  });
});

describe('report --out', () => {
  const file = join(root, 'results.jsonl');
  writeFileSync(file, results.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const out = join(root, 'report');

  it('writes small HTML beside one shared plotly.js, and the tables', async () => {
    const { code } = await runCli('report', '--results', file, '--out', out);
    expect(code).toBe(0);
    const html = readFileSync(join(out, 'sparsity-vs-metric.html'), 'utf8');
    expect(statSync(join(out, 'sparsity-vs-metric.html')).size).toBeLessThan(1_000_000);
    expect(html).toContain('<script src="plotly.js"></script>');
    expect(html).not.toMatch(/https?:\/\//);
    expect(statSync(join(out, 'plotly.js')).size).toBe(statSync(plotlyScriptPath()).size);
    const figures = JSON.parse(/var figures = (.*);\n/.exec(html)![1]);
    expect(figures).toHaveLength(2);
    expect(figures[1].layout.xaxis.title.text).toBe('structured sparsity');
    const np = figures[0].data.find((t: { name: string }) => t.name === 'neuroprune');
    expect(np.y).toHaveLength(2); // two points: beta 0.1 (2 seeds) and 0.3
    expect(np.error_y.array[0]).toBeCloseTo(Math.SQRT1_2 * 0.01, 10);
    const frontier = figures[0].data.find((t: { name: string }) => t.name === 'neuroprune frontier');
    expect(frontier.line.shape).toBe('vh');
    expect(readFileSync(join(out, 'report.csv'), 'utf8')).toBe(resultsCsv(results));
    expect(readFileSync(join(out, 'report.tex'), 'utf8')).toBe(resultsLatex(results));
    expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain(resultsTable(results));
  });

  it.skipIf(!findChromium())('renders offline in headless Chromium: both figures drawn (non-blank screenshot)', async () => {
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    const browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1000, height: 1000 } });
      const remote: string[] = [];
      await page.route(/^(?!file:)/, (route) => { remote.push(route.request().url()); return route.abort(); });
      await page.goto(`file://${join(out, 'sparsity-vs-metric.html')}`);
      await page.waitForFunction(() => (globalThis as any).document.querySelectorAll('.main-svg').length >= 2);
      expect(remote).toEqual([]);
      const png = PNG.sync.read(await page.screenshot({ fullPage: true }));
      let coloured = 0;
      for (let i = 0; i < png.data.length; i += 4) {
        const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
        if (Math.max(r, g, b) - Math.min(r, g, b) > 80) coloured++; // markers and lines, not grey axes or white
      }
      expect(coloured).toBeGreaterThan(300);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
if (!findChromium()) console.log('test/cli/report: rendering skipped: no Chromium (apt-get install chromium); CI installs it');
