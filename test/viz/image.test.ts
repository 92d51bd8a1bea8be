import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Figure } from '../../src/viz/figure';
import { findChromium, FigureRenderer, imageFormatOf, saveFigure } from '../../src/viz/image';

const chromium = findChromium();
if (!chromium) console.log('test/viz/image: skipped: no Chromium (apt-get install chromium, or set NEUROPRUNE_CHROMIUM); CI installs it');

/** A red bar and a blue line on white: their pixels are counted in the decoded PNG. */
const fig: Figure = {
  data: [
    { type: 'bar', x: [0, 1, 2], y: [1, 3, 2], marker: { color: '#ff0000' }, name: 'bars' },
    { type: 'scatter', mode: 'lines', x: [0, 1, 2], y: [3, 1, 3], line: { color: '#0000ff', width: 6 }, name: 'line' },
  ],
  layout: { title: { text: 'image export' }, width: 400, height: 300, showlegend: false },
};

/** Pixels near a pure colour, and pixels that are not white, in an RGBA image. */
function countPixels(png: PNG): { red: number; blue: number; nonWhite: number } {
  let red = 0, blue = 0, nonWhite = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (r > 220 && g < 40 && b < 40) red++;
    if (b > 220 && r < 40 && g < 40) blue++;
    if (r < 245 || g < 245 || b < 245) nonWhite++;
  }
  return { red, blue, nonWhite };
}

describe('imageFormatOf', () => {
  it('reads the format from the extension and names the file otherwise', () => {
    expect(imageFormatOf('a/b.PNG')).toBe('png');
    expect(imageFormatOf('x.svg')).toBe('svg');
    expect(imageFormatOf('x.pdf')).toBe('pdf');
    expect(() => imageFormatOf('fig.jpg')).toThrow(/fig\.jpg.*\.png, \.svg or \.pdf/);
  });
});

describe.skipIf(!chromium)('saveFigure in headless Chromium', () => {
  let dir: string;
  let renderer: FigureRenderer;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'np-image-'));
    renderer = await FigureRenderer.launch();
  }, 60_000);
  afterAll(async () => {
    await renderer?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a PNG of the layout size whose bars and line are drawn', async () => {
    const path = join(dir, 'fig.png');
    await saveFigure(fig, path, { renderer });
    const png = PNG.sync.read(readFileSync(path));
    expect([png.width, png.height]).toEqual([400, 300]);
    const { red, blue, nonWhite } = countPixels(png);
    // Three bars of a 400x300 plot cover thousands of pixels; a 6 px line hundreds; axes and text more.
    expect(red).toBeGreaterThan(3000);
    expect(blue).toBeGreaterThan(300);
    expect(nonWhite).toBeGreaterThan(red + blue);
    // A blank or failed draw is all white (or all one colour).
    expect(nonWhite).toBeLessThan(png.width * png.height);
  }, 60_000);

  it('scales a PNG by the device scale factor', async () => {
    const path = join(dir, 'fig2x.png');
    await saveFigure(fig, path, { renderer, scale: 2, width: 300, height: 200 });
    const png = PNG.sync.read(readFileSync(path));
    expect([png.width, png.height]).toEqual([600, 400]);
    expect(countPixels(png).red).toBeGreaterThan(4 * 1000);
  }, 60_000);

  it('writes an SVG with the bars as paths in their colour and the title as text', async () => {
    const path = join(dir, 'fig.svg');
    await saveFigure(fig, path, { renderer });
    const svg = readFileSync(path, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toMatch(/width="400" height="300"/);
    expect(svg).toContain('image export');
    // Each bar is a path filled red.
    expect(svg.match(/<path[^>]*fill: ?rgb\(255, ?0, ?0\)/g)?.length ?? 0).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('writes a one-page PDF', async () => {
    const path = join(dir, 'fig.pdf');
    await saveFigure(fig, path, { renderer });
    const pdf = readFileSync(path).toString('latin1');
    expect(pdf.startsWith('%PDF-')).toBe(true);
    expect(pdf.match(/\/Type\s*\/Page[^s]/g)).toHaveLength(1);
  }, 60_000);

  it('starts and stops its own browser when given none', async () => {
    const path = join(dir, 'own.png');
    await saveFigure(fig, path);
    expect(countPixels(PNG.sync.read(readFileSync(path))).red).toBeGreaterThan(3000);
  }, 60_000);
});
