/**
 * Static images of figures (PNG, SVG, PDF), drawn by plotly.js in a headless Chromium.
 *
 * The browser is the system's (Debian's `chromium`, or any Chrome given by `NEUROPRUNE_CHROMIUM`),
 * driven by `playwright-core`, which downloads no browser of its own. plotly.js comes from the
 * installed `plotly.js-dist` package, never from the network, so images are made offline and with
 * the very plotly version the figures are written for. PNG and SVG are plotly's own `toImage`
 * export (what the modebar's camera button saves); PDF is Chromium's print of the drawn plot at
 * the figure's size, vector throughout.
 *
 * `saveFigure(fig, 'x.png')` starts and stops a browser per call (about a second); to draw many
 * figures, open one `FigureRenderer` and close it when done.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, extname } from 'node:path';
import type { Figure } from './figure';
import { plotlyScriptPath } from './render';

export type ImageFormat = 'png' | 'svg' | 'pdf';

export interface ImageOptions {
  /** CSS pixels. Default: the layout's width, else 800. */
  width?: number;
  /** CSS pixels. Default: the layout's height, else 500. */
  height?: number;
  /** Device pixels per CSS pixel of a PNG (2 for crisp figures on high-density screens). Default 1. */
  scale?: number;
}

/** Where Chromium is looked for when `NEUROPRUNE_CHROMIUM` is not set. */
export const CHROMIUM_CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** The Chromium executable to use, or undefined when none is installed. */
export function findChromium(): string | undefined {
  const fromEnv = process.env.NEUROPRUNE_CHROMIUM;
  if (fromEnv) return fromEnv;
  return CHROMIUM_CANDIDATES.find((p) => existsSync(p));
}

/** The format a file name asks for, or an error naming the file and the formats known. */
export function imageFormatOf(path: string): ImageFormat {
  const ext = extname(path).slice(1).toLowerCase();
  if (ext === 'png' || ext === 'svg' || ext === 'pdf') return ext;
  throw new Error(`saveFigure: cannot tell the image format of ${path}: name it .png, .svg or .pdf`);
}

// The page the figures are drawn in: plotly.js inlined (read from node_modules), nothing remote.
const PAGE = '<!DOCTYPE html><html><head><meta charset="utf-8"><style>html,body{margin:0;background:white}</style></head><body><div id="figure"></div></body></html>';

/** The part of playwright-core's API used here (loaded lazily: only image export needs it). */
interface PwPage {
  setContent(html: string): Promise<void>;
  addScriptTag(options: { path: string }): Promise<unknown>;
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  evaluate<R, A>(fn: (arg: A) => R | Promise<R>, arg: A): Promise<R>;
  pdf(options: { width: string; height: string; printBackground: boolean; pageRanges: string }): Promise<Buffer>;
  close(): Promise<void>;
}
interface PwBrowser {
  newPage(options: { deviceScaleFactor: number }): Promise<PwPage>;
  close(): Promise<void>;
}

/** A headless Chromium with plotly.js loaded, drawing figures to image bytes. */
export class FigureRenderer {
  private pages = new Map<number, PwPage>();

  private constructor(private readonly browser: PwBrowser) {}

  /** Starts Chromium (`executablePath`, else `findChromium()`); fails with what to install. */
  static async launch(executablePath = findChromium()): Promise<FigureRenderer> {
    if (!executablePath) {
      throw new Error(`image export needs Chromium: apt-get install chromium, or set NEUROPRUNE_CHROMIUM to a Chrome/Chromium executable (looked in ${CHROMIUM_CANDIDATES.join(', ')})`);
    }
    let pw: { chromium: { launch(o: object): Promise<PwBrowser> } };
    try {
      pw = require('playwright-core');
    } catch {
      throw new Error('image export needs the playwright-core package: npm install playwright-core');
    }
    const browser = await pw.chromium.launch({ executablePath, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
    return new FigureRenderer(browser);
  }

  /** One page per device scale factor, plotly loaded once in each. */
  private async page(scale: number): Promise<PwPage> {
    let page = this.pages.get(scale);
    if (!page) {
      page = await this.browser.newPage({ deviceScaleFactor: scale });
      await page.setContent(PAGE);
      await page.addScriptTag({ path: plotlyScriptPath() });
      this.pages.set(scale, page);
    }
    return page;
  }

  /** The figure as PNG or PDF bytes, or SVG text as UTF-8 bytes. */
  async render(figure: Figure, format: ImageFormat, options: ImageOptions = {}): Promise<Buffer> {
    const width = Math.round(options.width ?? figure.layout.width ?? 800);
    const height = Math.round(options.height ?? figure.layout.height ?? 500);
    const scale = options.scale ?? 1;
    if (!(width > 0 && height > 0 && scale > 0)) throw new Error(`saveFigure: width, height and scale must be positive (got ${width}, ${height}, ${scale})`);
    const page = await this.page(format === 'pdf' ? 1 : scale);
    await page.setViewportSize({ width, height });
    const spec = { data: figure.data, layout: { ...figure.layout, width, height }, format, scale };
    // Runs in the page: draw, then export (PNG/SVG) or leave drawn for the PDF print.
    const url = await page.evaluate(async (s: typeof spec) => {
      // The page's globals (no DOM types in this project's TypeScript lib).
      const g = globalThis as any;
      const P = g.Plotly;
      const gd = g.document.getElementById('figure');
      P.purge(gd);
      await P.newPlot(gd, s.data, s.layout, { staticPlot: true, displayModeBar: false });
      if (s.format === 'pdf') return '';
      return P.toImage(gd, { format: s.format, width: s.layout.width, height: s.layout.height, scale: s.scale }) as Promise<string>;
    }, spec);
    if (format === 'pdf') {
      return page.pdf({ width: `${width}px`, height: `${height}px`, printBackground: true, pageRanges: '1' });
    }
    const comma = url.indexOf(',');
    const head = url.slice(0, comma);
    const body = url.slice(comma + 1);
    return head.endsWith(';base64') ? Buffer.from(body, 'base64') : Buffer.from(decodeURIComponent(body), 'utf8');
  }

  /** Writes the figure to `path` in the format its extension names (.png, .svg, .pdf). */
  async save(figure: Figure, path: string, options: ImageOptions = {}): Promise<void> {
    const bytes = await this.render(figure, imageFormatOf(path), options);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, bytes);
  }

  async close(): Promise<void> {
    this.pages.clear();
    await this.browser.close();
  }
}

/**
 * Writes the figure as a PNG, SVG or PDF file (by `path`'s extension), drawn by plotly.js in
 * headless Chromium. Pass `renderer` to reuse an open browser; otherwise one is started and stopped.
 */
export async function saveFigure(figure: Figure, path: string, options: ImageOptions & { renderer?: FigureRenderer } = {}): Promise<void> {
  imageFormatOf(path);
  const renderer = options.renderer ?? await FigureRenderer.launch();
  try {
    await renderer.save(figure, path, options);
  } finally {
    if (!options.renderer) await renderer.close();
  }
}

/** The figure's image bytes (see `saveFigure`). */
export async function figureImage(figure: Figure, format: ImageFormat, options: ImageOptions & { renderer?: FigureRenderer } = {}): Promise<Buffer> {
  const renderer = options.renderer ?? await FigureRenderer.launch();
  try {
    return await renderer.render(figure, format, options);
  } finally {
    if (!options.renderer) await renderer.close();
  }
}
