import { describe, expect, it } from 'vitest';
import type { Figure } from '../../src/viz/figure';
import { figureHtml, plotlyCdnUrl, plotlyVersion, showFigure, toHtml } from '../../src/viz/render';

const fig: Figure = {
  data: [{ type: 'scatter', mode: 'markers', x: [1, 2], y: [3, 4], name: '</script><b>x</b>' }],
  layout: { title: { text: 'a & b' }, height: 300 },
};

describe('renderers', () => {
  it('writes a self-contained page with plotly inlined and the figure escaped', () => {
    const html = toHtml(fig, 'Degrees <test>');
    expect(html.startsWith('<!DOCTYPE html>')).toBe(true);
    expect(html).toContain('<title>Degrees &lt;test&gt;</title>');
    expect(html.length).toBeGreaterThan(1_000_000); // the library itself
    expect(html).not.toMatch(/<script src=/);
    // The only '</script' sequences close our own script elements.
    expect(html.match(/<\/script/g)).toHaveLength(2);
    const json = /var figure = (.*);\n/.exec(html)![1];
    expect(JSON.parse(json)).toEqual(fig);
  });

  it('references a script instead when asked', () => {
    const html = toHtml(fig, 't', { plotly: { src: 'plotly.min.js' } });
    expect(html).toContain('<script src="plotly.min.js"></script>');
    expect(html.length).toBeLessThan(5000);
  });

  it('builds notebook fragments that load the installed version from the CDN', () => {
    expect(plotlyCdnUrl()).toBe(`https://cdn.plot.ly/plotly-${plotlyVersion()}.min.js`);
    const html = figureHtml(fig, { divId: 'f1' });
    expect(html).toContain('<div id="f1" style="width:100%;height:300px"></div>');
    expect(html).toContain(JSON.stringify(plotlyCdnUrl()));
    expect(html).toContain('requirejs');
    expect(html.match(/<\/script/g)).toHaveLength(1);
    expect(figureHtml(fig)).not.toBe(figureHtml(fig)); // fresh div ids
  });

  it('sends the fragment to a display', () => {
    const shown: string[] = [];
    showFigure(fig, { html: (s) => shown.push(s) }, { divId: 'x' });
    expect(shown).toEqual([figureHtml(fig, { divId: 'x' })]);
  });
});
