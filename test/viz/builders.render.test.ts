import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import { degreeDistributionFigure, degreeHistogramFigure } from '../../src/viz/degree';
import type { Figure } from '../../src/viz/figure';
import { headGraphFigure } from '../../src/viz/headGraph';
import { headSimilarityHeatmap, headsPerLayerFigure } from '../../src/viz/heads';
import { findChromium } from '../../src/viz/image';
import { toHtmlPage, writePlotlyBeside } from '../../src/viz/render';
import { seriesFigure } from '../../src/viz/series';
import { sparsityMetricFigure } from '../../src/viz/sweep';
import { trainingCurvesFigure } from '../../src/viz/training';
import { fitPowerLaw, samplePowerLaw, seededRandom } from '../../src/graph/powerLaw';

if (!findChromium()) console.log('test/viz/builders.render: skipped: no Chromium (apt-get install chromium); CI installs it');

const degrees = samplePowerLaw(400, 2.5, 1, seededRandom(3));
const dist = [[0, 0.05, 0.3], [0.05, 0, 0.3], [0.3, 0.3, 0]];
const figures: [string, Figure][] = [
  ['degree CCDF', degreeDistributionFigure([{ name: 'a', degrees, fit: fitPowerLaw(degrees, { minTail: 30 }) }])],
  ['degree histogram', degreeHistogramFigure([{ name: 'a', degrees }, { name: 'b', degrees: degrees.map((d) => d + 3) }])],
  ['head heatmap', headSimilarityHeatmap(dist, { theta: 0.1, kept: [1, 2] })],
  ['head graph', headGraphFigure(dist, { theta: 0.1, kept: [1, 2], into: [1, 1, 2] })],
  ['heads per layer', headsPerLayerFigure([{ layer: 0, heads: 3, originalHeads: 4 }, { layer: 1, heads: 2, originalHeads: 4 }])],
  ['sweep', sparsityMetricFigure([{ mode: 'neuroprune', sparsity: 0.5, metric: 0.9, key: 'a' }, { mode: 'neuroprune', sparsity: 0.55, metric: 0.88, key: 'a' }, { mode: 'l1', sparsity: 0.7, metric: 0.8 }])],
  ['series', seriesFigure([{ group: 'l1', x: 0.1, y: 2 }, { group: 'l1', x: 0.5, y: 6 }, { group: 'neuroprune', x: 0.5, y: 20 }], { xTitle: 'sparsity', yTitle: 'sd', xPercent: true })],
  ['training curves', trainingCurvesFigure([{ name: 'neuroprune', records: [{ epoch: 1, taskLoss: 0.3, dev: { accuracy: 0.9 }, sparsity: { unstructured: 0.4 } }, { epoch: 2, taskLoss: 0.2, dev: { accuracy: 0.95 }, sparsity: { unstructured: 0.7 } }] }])],
];

describe.skipIf(!findChromium())('every figure builder draws in headless Chromium, offline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'np-builders-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('draws each figure of a page with no request leaving the machine', async () => {
    writePlotlyBeside(dir);
    writeFileSync(join(dir, 'page.html'), toHtmlPage(figures.map(([, figure]) => ({ figure, height: '420px' })), 'all figures'));
    const { chromium } = require('playwright-core') as typeof import('playwright-core');
    const browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 800 } });
      const remote: string[] = [];
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.route(/^(?!file:)/, (route) => { remote.push(route.request().url()); return route.abort(); });
      await page.goto(`file://${join(dir, 'page.html')}`);
      await page.waitForFunction((n) => (globalThis as any).document.querySelectorAll('.js-plotly-plot').length === n, figures.length);
      expect(errors).toEqual([]);
      expect(remote).toEqual([]);
      for (let i = 0; i < figures.length; i++) {
        const png = PNG.sync.read(await page.locator(`#figure-${i}`).screenshot());
        let coloured = 0;
        for (let p = 0; p < png.data.length; p += 4) {
          const [r, g, b] = [png.data[p], png.data[p + 1], png.data[p + 2]];
          if (Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
        }
        expect(coloured, `${figures[i][0]} looks blank`).toBeGreaterThan(200);
      }
    } finally {
      await browser.close();
    }
  }, 120_000);
});
