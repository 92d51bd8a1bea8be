import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';

const root = join(__dirname, '..', '..');

/** Pixels that are neither white nor grey: drawn markers, lines, bars and colour scales. */
function colouredPixels(png: PNG): number {
  let n = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    if (Math.max(r, g, b) - Math.min(r, g, b) > 60) n++;
  }
  return n;
}

describe('the README and RESULTS figures', () => {
  const pngLinks = (doc: string) => [...readFileSync(join(root, doc), 'utf8').matchAll(/\]\((docs\/figures\/[\w.-]+\.png)\)/g)].map((m) => m[1]);
  const readme = pngLinks('README.md');
  // RESULTS.md's figures come from scripts/glue_results.ts, the README's from scripts/make_figures.sh.
  const results = pngLinks('RESULTS.md');
  const referenced = [...readme, ...results];

  it('are referenced from README.md or RESULTS.md, and every PNG in docs/figures is', () => {
    expect(readme.length).toBeGreaterThanOrEqual(4);
    expect(results.length).toBeGreaterThanOrEqual(4);
    const present = readdirSync(join(root, 'docs', 'figures')).filter((f) => f.endsWith('.png')).map((f) => `docs/figures/${f}`);
    for (const f of referenced) expect(present, `${f} is referenced but missing (scripts/make_figures.sh, scripts/glue_results.ts)`).toContain(f);
    for (const f of present) expect(referenced, `${f} is referenced by neither README.md nor RESULTS.md`).toContain(f);
  });

  it.each(referenced)('%s is a drawn PNG', (file) => {
    const png = PNG.sync.read(readFileSync(join(root, file)));
    expect(png.width).toBeGreaterThan(300);
    expect(colouredPixels(png)).toBeGreaterThan(500);
  });
});

describe('the committed notebooks', () => {
  const dir = join(root, 'notebooks');
  const notebooks = readdirSync(dir).filter((f) => f.endsWith('.ipynb'));

  it.each(notebooks)('%s is executed, every figure a drawn PNG with its plotly JSON, nothing remote', (name) => {
    const nb = JSON.parse(readFileSync(join(dir, name), 'utf8'));
    const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === 'code');
    expect(code.every((c: { execution_count: number | null }) => c.execution_count !== null)).toBe(true);
    const outputs = code.flatMap((c: { outputs: { output_type: string; data?: Record<string, unknown> }[] }) => c.outputs);
    expect(outputs.filter((o: { output_type: string }) => o.output_type === 'error')).toEqual([]);
    const figures = outputs.filter((o: { output_type: string }) => o.output_type === 'display_data');
    expect(figures.length).toBeGreaterThan(0);
    for (const f of figures) {
      expect(Object.keys(f.data!).sort()).toEqual(['application/vnd.plotly.v1+json', 'image/png', 'text/plain']);
      const png = PNG.sync.read(Buffer.from(f.data!['image/png'] as string, 'base64'));
      expect(colouredPixels(png)).toBeGreaterThan(300);
    }
    expect(JSON.stringify(outputs)).not.toMatch(/cdn\.plot\.ly|<script src="http/);
  });
});

