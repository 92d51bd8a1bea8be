import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, describe, expect, it } from 'vitest';
import * as lib from '../../src/index';
import { closeFigures, defaultModelDir, show, trainBuiltin } from '../../src/notebook';
import { DEFAULT_MODEL_DIR } from '../../src/cli/setup';
import { findChromium } from '../../src/viz/image';
import type { Figure } from '../../src/viz/figure';
import { runCli } from '../cli/runCli';

describe('notebook helpers', () => {
  it('resolves the packaged default model, the one the CLI starts from', () => {
    expect(defaultModelDir()).toBe(DEFAULT_MODEL_DIR);
    expect(existsSync(join(defaultModelDir(), 'config.json'))).toBe(true);
  });

  it('re-exports the TF.js instance the library uses', async () => {
    const tfjs = await import('@tensorflow/tfjs');
    expect(lib.tf.engine()).toBe(tfjs.engine());
    expect(lib.tf.version).toEqual(tfjs.version);
  });

  it('trainBuiltin runs the same training as `neuroprune train` with the same settings', async () => {
    await lib.initBackend();
    const run = await trainBuiltin({ mode: 'l1', epochs: 1, limitTrain: 96, limitDev: 48, alpha: 1e-3, beta: 1e-2 });
    const cli = await runCli('train', '--mode', 'l1', '--epochs', '1', '--limit-train', '96', '--limit-dev', '48', '--alpha', '1e-3', '--beta', '1e-2', '--json', '--out', join(tmpdir(), `np-nb-${process.pid}`));
    expect(cli.code).toBe(0);
    const cliEpoch = JSON.parse(cli.out).epochs[0];
    run.model.dispose();
    expect(run.epochs).toHaveLength(1);
    expect(run.epochs[0].taskLoss).toBeCloseTo(cliEpoch.taskLoss, 5);
    expect(run.epochs[0].dev).toEqual(cliEpoch.dev);
    expect((run.epochs[0].sparsity as { unstructured: number }).unstructured).toBeCloseTo(cliEpoch.sparsity.unstructured, 6);
  }, 120_000);
});

describe.skipIf(!findChromium())('show', () => {
  afterAll(closeFigures);
  it('sends plotly JSON, a drawn PNG and a text line in one output', async () => {
    const fig: Figure = { data: [{ type: 'bar', x: [0, 1], y: [2, 1], marker: { color: '#ff0000' } }], layout: { title: { text: 'two bars' }, width: 300, height: 200 } };
    const bundles: Record<string, unknown>[] = [];
    await show(fig, { sink: (b) => bundles.push(b) });
    expect(bundles).toHaveLength(1);
    const b = bundles[0];
    expect(b['application/vnd.plotly.v1+json']).toEqual({ data: fig.data, layout: fig.layout });
    expect(b['text/plain']).toBe('<figure: two bars>');
    const png = PNG.sync.read(Buffer.from(b['image/png'] as string, 'base64'));
    expect([png.width, png.height]).toEqual([300, 200]);
    let red = 0;
    for (let i = 0; i < png.data.length; i += 4) if (png.data[i] > 220 && png.data[i + 1] < 40 && png.data[i + 2] < 40) red++;
    expect(red).toBeGreaterThan(1000);
  }, 60_000);
});
if (!findChromium()) console.log('test/viz/notebook: show skipped: no Chromium (apt-get install chromium); CI installs it');
