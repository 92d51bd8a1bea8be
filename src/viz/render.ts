/**
 * Renderers: a figure spec to HTML.
 *
 * - `toHtml(figure, title)`: a standalone page. By default the plotly.js library is inlined from
 *   the installed `plotly.js-dist` package (its only file, `plotly.js`, about 11 MB unminified),
 *   so the page opens offline and never drifts from the version the figures were written for.
 *   `{ plotly: { src } }` references a script URL or path instead (a few hundred bytes per page).
 * - `toHtmlPage(figures, title)` with `writePlotlyBeside(dir)`: several figures on one small page
 *   that loads the one shared copy of plotly.js next to it (what `neuroprune report` writes).
 * - `figureHtml(figure)`: a `<div>` + `<script>` for HTML outputs that load plotly from
 *   `plotlySrc` (default: the plot.ly CDN build of the installed version), through require.js when
 *   the page has it. Viewing needs network access; notebooks use `notebook.show` instead (plotly
 *   JSON with a PNG, seen everywhere offline).
 * - `showFigure(figure)`: `figureHtml` sent to tslab's `display.html`.
 *
 * Static images (PNG, SVG, PDF) are made in `image.ts`.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Figure } from './figure';

/** Characters that must not appear raw inside an inline `<script>`. */
function scriptSafeJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Path of the installed plotly.js bundle. */
export function plotlyScriptPath(): string {
  return require.resolve('plotly.js-dist');
}

/** Version of the installed plotly.js-dist package. */
export function plotlyVersion(): string {
  const pkg = JSON.parse(readFileSync(require.resolve('plotly.js-dist/package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** The plot.ly CDN URL of the minified build of the installed version. */
export function plotlyCdnUrl(version = plotlyVersion()): string {
  return `https://cdn.plot.ly/plotly-${version}.min.js`;
}

/** The plotly.js library source, checked to be safe to inline in a `<script>` element. */
function plotlyInlineSource(): string {
  const src = readFileSync(plotlyScriptPath(), 'utf8');
  if (/<\/script|<!--/i.test(src)) {
    throw new Error(`toHtml: ${plotlyScriptPath()} contains '</script' or '<!--' and cannot be inlined; pass { plotly: { src } }`);
  }
  return src;
}

export interface HtmlOptions {
  /** `'inline'` (default): embed the installed plotly.js; `{ src }`: a `<script src>` to this URL or path. */
  plotly?: 'inline' | { src: string };
  /** Plotly config passed to `newPlot`. Default `{ responsive: true, displaylogo: false }`. */
  config?: Record<string, unknown>;
}

const DEFAULT_CONFIG = { responsive: true, displaylogo: false };

/** A complete HTML page drawing the figure (see the module comment for the plotly source). */
export function toHtml(figure: Figure, title: string, options: HtmlOptions = {}): string {
  const plotly = options.plotly ?? 'inline';
  const lib = plotly === 'inline'
    ? `<script>${plotlyInlineSource()}</script>`
    : `<script src="${escapeHtml(plotly.src)}"></script>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>html, body { margin: 0; height: 100%; } #figure { width: 100%; height: 100vh; }</style>
${lib}
</head>
<body>
<div id="figure"></div>
<script>
var figure = ${scriptSafeJson(figure)};
Plotly.newPlot('figure', figure.data, figure.layout, ${scriptSafeJson(options.config ?? DEFAULT_CONFIG)});
</script>
</body>
</html>
`;
}

export interface FragmentOptions {
  /** Where the browser loads plotly.js from when the page has none. Default: `plotlyCdnUrl()`. */
  plotlySrc?: string;
  /** Id of the figure's `<div>`. Default: a fresh random id (outputs of one page must not collide). */
  divId?: string;
  /** CSS height of the `<div>`. Default: the layout's height in px, else 450px. */
  height?: string;
  config?: Record<string, unknown>;
}

/** A `<div>` + `<script>` that draws the figure in a notebook output (see the module comment). */
export function figureHtml(figure: Figure, options: FragmentOptions = {}): string {
  const src = options.plotlySrc ?? plotlyCdnUrl();
  const id = options.divId ?? `np-fig-${Math.random().toString(36).slice(2, 10)}`;
  const height = options.height ?? `${figure.layout.height ?? 450}px`;
  const amdPath = src.replace(/\.js$/, '');
  return `<div id="${escapeHtml(id)}" style="width:100%;height:${escapeHtml(height)}"></div>
<script>
(function () {
  var fig = ${scriptSafeJson(figure)};
  var config = ${scriptSafeJson(options.config ?? DEFAULT_CONFIG)};
  function draw(P) { P.newPlot(${scriptSafeJson(id)}, fig.data, fig.layout, config); }
  if (window.Plotly) { draw(window.Plotly); return; }
  if (typeof window.requirejs === 'function') {
    window.requirejs.config({ paths: { plotly: ${scriptSafeJson(amdPath)} } });
    window.requirejs(['plotly'], draw);
    return;
  }
  var s = document.querySelector('script[data-neuroprune-plotly]');
  if (!s) {
    s = document.createElement('script');
    s.src = ${scriptSafeJson(src)};
    s.setAttribute('data-neuroprune-plotly', '');
    document.head.appendChild(s);
  }
  s.addEventListener('load', function () { draw(window.Plotly); });
})();
</script>`;
}

/** What `showFigure` needs of tslab's `display`. */
export interface HtmlDisplay {
  html(s: string): void;
}

/**
 * Draws the figure in a tslab notebook: `showFigure(fig)` uses tslab's own `display` (tslab is
 * loaded only here, so the library does not need it elsewhere); pass another `display` to render
 * somewhere else or to test.
 */
export function showFigure(figure: Figure, display?: HtmlDisplay, options: FragmentOptions = {}): void {
  const target = display ?? (require('tslab') as { display: HtmlDisplay }).display;
  target.html(figureHtml(figure, options));
}

/** File name of the plotly.js copy that `writePlotlyBeside` puts next to HTML pages. */
export const PLOTLY_FILE = 'plotly.js';

/**
 * Copies the installed plotly.js next to HTML pages in `dir` (once: an identical copy is kept), so
 * that pages reference it as `<script src="plotly.js">` and stay small and offline. Returns its path.
 */
export function writePlotlyBeside(dir: string): string {
  const target = join(dir, PLOTLY_FILE);
  const source = plotlyScriptPath();
  if (!(existsSync(target) && statSync(target).size === statSync(source).size)) {
    mkdirSync(dir, { recursive: true });
    copyFileSync(source, target);
  }
  return target;
}

export interface PageFigure {
  figure: Figure;
  /** CSS height of its panel. Default: the layout's height in px, else 480px. */
  height?: string;
}

/**
 * One HTML page with several figures, stacked. plotly.js is referenced by `plotlySrc` (default
 * `PLOTLY_FILE`, the copy `writePlotlyBeside` makes), never inlined: a page is a few kilobytes plus
 * its data.
 */
export function toHtmlPage(figures: readonly PageFigure[], title: string, options: { plotlySrc?: string; config?: Record<string, unknown>; intro?: string } = {}): string {
  const src = options.plotlySrc ?? PLOTLY_FILE;
  const divs = figures.map((f, i) => `<div id="figure-${i}" style="width:100%;height:${escapeHtml(f.height ?? `${f.figure.layout.height ?? 480}px`)}"></div>`).join('\n');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<style>body { margin: 0 auto; max-width: 1100px; font-family: sans-serif; } p { margin: 1em; }</style>
<script src="${escapeHtml(src)}"></script>
</head>
<body>
${options.intro ? `<p>${escapeHtml(options.intro)}</p>\n` : ''}${divs}
<script>
var figures = ${scriptSafeJson(figures.map((f) => f.figure))};
var config = ${scriptSafeJson(options.config ?? DEFAULT_CONFIG)};
figures.forEach(function (f, i) { Plotly.newPlot('figure-' + i, f.data, f.layout, config); });
</script>
</body>
</html>
`;
}
