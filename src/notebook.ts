/**
 * What a notebook needs besides the library: the packaged default model's path, a one-call
 * training run on the built-in task through the library's own trainer, and `show(fig)`, which
 * draws a figure so that it is seen everywhere.
 *
 * `show` sends one Jupyter output holding the figure twice: plotly's own MIME type
 * (`application/vnd.plotly.v1+json`, interactive in JupyterLab and VS Code) and a PNG drawn in
 * headless Chromium (src/viz/image.ts), which is what GitHub, `nbconvert --to html` and any
 * viewer without plotly show. Nothing is loaded from the network when the notebook is viewed.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadBertCheckpoint } from './checkpoint';
import { BertTaskModel } from './train/bertTask';
import { neuropruneOps } from './train/neuropruneOps';
import { DEFAULT_TRAIN_OPTIONS, validateTrainOptions, type TrainOptions } from './train/options';
import { builtinTask, taskData, type EncodedTask } from './train/taskData';
import { train, type EpochRecord } from './train/trainer';
import type { Figure } from './viz/figure';
import { FigureRenderer, type ImageOptions } from './viz/image';

/** The package's root (dist/.. or src/..). */
const PACKAGE_ROOT = join(__dirname, '..');

/**
 * The default model the package ships: a small BERT fine-tuned on the built-in negation task
 * (scripts/make_builtin_model.sh); `neuroprune train` starts from it.
 */
export function defaultModelDir(): string {
  const dir = join(PACKAGE_ROOT, 'data', 'models', 'bert-small-negation');
  if (!existsSync(join(dir, 'model.safetensors'))) throw new Error(`the packaged default model is missing: ${dir}/model.safetensors (reinstall the package, or run scripts/make_builtin_model.sh in a checkout)`);
  return dir;
}

/**
 * The pretrained MiniLM folder that `scripts/get_minilm.sh` makes (models/all-MiniLM-L6-v2 in a
 * checkout, or `NEUROPRUNE_MINILM`), or undefined when it is not there.
 */
export function minilmDir(): string | undefined {
  const dir = process.env.NEUROPRUNE_MINILM ?? join(PACKAGE_ROOT, 'models', 'all-MiniLM-L6-v2');
  return existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'config.json')) ? dir : undefined;
}

export interface BuiltinRunOptions extends Partial<TrainOptions> {
  /** Starting checkpoint. Default: `defaultModelDir()`. */
  modelDir?: string;
  /** Use only the first n training / dev examples. */
  limitTrain?: number;
  limitDev?: number;
  /** Directory for the run's log and checkpoints; none writes nothing. */
  runDir?: string;
}

export interface BuiltinRun {
  model: BertTaskModel;
  epochs: EpochRecord[];
  options: TrainOptions;
  task: EncodedTask;
}

let cachedTask: EncodedTask | undefined;

/**
 * Trains on the built-in task with the library's trainer (Algorithm 1, or a baseline by `mode`),
 * from the default model unless `modelDir` says otherwise. The options default to
 * `DEFAULT_TRAIN_OPTIONS` without the progress bar. The caller owns (and disposes) the model.
 */
export async function trainBuiltin(o: BuiltinRunOptions = {}): Promise<BuiltinRun> {
  const { modelDir, limitTrain, limitDev, runDir, ...rest } = o;
  const options: TrainOptions = { ...DEFAULT_TRAIN_OPTIONS, progress: false, ...rest };
  validateTrainOptions(options);
  const task = cachedTask ??= builtinTask();
  const data = taskData(task, { batchSize: options.batchSize, seed: options.seed, padId: task.tokenizer.special.pad, limitTrain, limitDev });
  const { model: bert } = loadBertCheckpoint(modelDir ?? defaultModelDir(), { numLabels: task.numLabels, initMissingHead: true, seed: options.seed, dropoutSeed: options.seed });
  const model = new BertTaskModel(bert);
  const result = await train({ model, data, options, runDir, ops: neuropruneOps({ numLabels: task.numLabels }), logSteps: false });
  // A BERT in, a BERT out (a resumed run reloads it from its checkpoint).
  if (!(result.model instanceof BertTaskModel)) throw new Error(`trainBuiltin: expected a BERT back, got ${result.model.modelType}`);
  return { model: result.model, epochs: result.epochs, options, task };
}

/** The part of tslab's output channel `show` uses: one display message with several MIME types. */
export type DisplaySink = (bundle: Record<string, unknown>) => void;

/** tslab's channel for the current cell, or an error saying `show` runs in a tslab notebook only. */
function tslabSink(): DisplaySink {
  let jupyter: { lastWriteDisplayData: ((data: unknown, update: boolean) => void) | null };
  try {
    jupyter = require('tslab/dist/jupyter');
  } catch {
    throw new Error('show: runs in a tslab notebook (npm install tslab); elsewhere use viz.saveFigure or viz.toHtml');
  }
  const write = jupyter.lastWriteDisplayData;
  if (!write) throw new Error('show: no tslab cell is running (call it from a notebook cell)');
  return (bundle) => write({ data: bundle, metadata: {}, transient: {} }, false);
}

let renderer: Promise<FigureRenderer> | undefined;

/** One browser for all the figures of a notebook, started on the first `show`. */
function sharedRenderer(): Promise<FigureRenderer> {
  renderer ??= FigureRenderer.launch();
  return renderer;
}

/** Stops the browser `show` started (the kernel's exit stops it too). */
export async function closeFigures(): Promise<void> {
  const r = renderer;
  renderer = undefined;
  if (r) await (await r).close();
}

/** The folder `show(fig, { save })` also writes PNGs to: `NEUROPRUNE_FIGURES_DIR` (scripts/make_figures.sh sets it). */
export function figuresDir(): string | undefined {
  return process.env.NEUROPRUNE_FIGURES_DIR || undefined;
}

/**
 * Shows a figure in a tslab notebook as plotly JSON with a PNG fallback (see the module comment).
 * `save: 'name'` also writes the PNG as `name.png` to `figuresDir()` when that is set (the
 * README's figures). `sink` replaces tslab's output channel (tests).
 */
export async function show(figure: Figure, options: ImageOptions & { sink?: DisplaySink; save?: string } = {}): Promise<void> {
  const { sink, save, ...image } = options;
  const out = sink ?? tslabSink();
  const png = await (await sharedRenderer()).render(figure, 'png', { width: image.width ?? figure.layout.width ?? 900, height: image.height, scale: image.scale });
  const dir = figuresDir();
  if (save && dir) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${save}.png`), png);
  }
  out({
    'application/vnd.plotly.v1+json': { data: figure.data, layout: figure.layout },
    'image/png': png.toString('base64'),
    'text/plain': `<figure: ${figure.layout.title?.text ?? 'untitled'}>`,
  });
}
