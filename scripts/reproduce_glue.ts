/**
 * The GLUE experiment of RESULTS.md: a pretrained BERT (MiniLM-L6 by default) fine-tuned on SST-2,
 * CoLA and RTE with each mode, then brought to equal sparsities by magnitude and scored.
 *
 * For each task and seed:
 *   1. `train` once per mode (finetune, l1, neuroprune; same data, schedule and seed);
 *   2. each finished checkpoint is pruned to every target sparsity (`prune`, one global magnitude
 *      threshold; removed heads, neurons and input dimensions count as zeros), compacted
 *      (`compact`: whole rows and columns that became zero are removed) and scored (`eval`, whose
 *      time is the inference time), and `analyze` gives heads per layer and the hidden neurons'
 *      degree statistics. "magnitude" is the finetune checkpoint pruned: the standard control;
 *   3. optionally (`--torch`) PyTorch + transformers fine-tune the same model on the same subset
 *      (bench/torch_glue_finetune.py): the reference row.
 * Every finished step appends one JSON line to `<out>/results.jsonl`; a rerun skips what is there,
 * so the script resumes after Ctrl-C or a kill. `scripts/glue_results.ts` turns the file into
 * RESULTS.md's tables and figures.
 *
 *   npx tsx scripts/reproduce_glue.ts --model models/all-MiniLM-L6-v2 --glue-dir ../shared/data/glue \
 *     --out experiments/glue --seeds 1,2 --torch
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const ROOT = resolve(__dirname, '..');
const CLI = join(ROOT, 'dist', 'cli', 'main.js');

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: join(ROOT, 'models', 'all-MiniLM-L6-v2') },
    'glue-dir': { type: 'string', default: join(ROOT, '..', 'shared', 'data', 'glue') },
    out: { type: 'string', default: join(ROOT, 'experiments', 'glue') },
    runs: { type: 'string', help: 'run directories (default: <out>/runs; large, not committed)' } as never,
    tasks: { type: 'string', default: 'sst2,cola,rte' },
    seeds: { type: 'string', default: '1,2' },
    modes: { type: 'string', default: 'finetune,l1,neuroprune' },
    sparsities: { type: 'string', default: '0.25,0.5,0.7,0.8,0.9' },
    // Training subsets: the full SST-2 (67k) would take hours per run on 2 cores.
    'limit-train': { type: 'string', default: 'sst2=1000,cola=1000,rte=600' },
    epochs: { type: 'string', default: '3' },
    lr: { type: 'string', default: '1e-4' },
    'l1-alpha': { type: 'string', default: '1e-5' },
    'l1-beta': { type: 'string', default: '1e-5' },
    'np-alpha': { type: 'string', default: '1e-4' },
    'np-beta': { type: 'string', default: '1e-2' },
    'extra-flags': { type: 'string', default: '', help: 'more `train` flags for every run, e.g. "--penalty-step proximal"' } as never,
    label: { type: 'string', default: '', help: 'suffix of the mode names in the results (a variant of a mode)' } as never,
    torch: { type: 'boolean', default: false },
    // One thread avoids OpenMP's spin-waiting when other jobs share the cores.
    'torch-threads': { type: 'string', default: '1' },
  },
});

const out = resolve(args.out as string);
const runsDir = resolve((args.runs as string | undefined) ?? join(out, 'runs'));
const resultsPath = join(out, 'results.jsonl');
mkdirSync(runsDir, { recursive: true });
const limits = Object.fromEntries((args['limit-train'] as string).split(',').map((kv) => kv.split('=')).map(([k, v]) => [k, Number(v)]));
const list = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
const label = args.label as string;

type Row = Record<string, unknown> & { kind: string; key: string };
/** Every finished step by key: those of earlier runs of the script, and this run's as they finish. */
const done = new Map<string, Row>(existsSync(resultsPath)
  ? readFileSync(resultsPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Row).map((r) => [r.key, r]) : []);
function record(row: Row): void {
  const line = { ...row, finishedAt: new Date().toISOString(), load: loadAverage() };
  appendFileSync(resultsPath, JSON.stringify(line) + '\n');
  done.set(row.key, line);
}
function readTrainRow(key: string): Row {
  const row = done.get(key);
  if (!row) throw new Error(`${resultsPath}: no line with key ${key}`);
  return row;
}
function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Runs the CLI (or python) and returns stdout; a failure stops the experiment with the command and its stderr. */
function run(cmd: string, argv: string[]): string {
  const t0 = Date.now();
  const r = spawnSync(cmd, argv, { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env } });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${argv.join(' ')} failed (exit ${r.status}):\n${r.stderr.slice(-3000)}`);
  }
  process.stderr.write(`  ${((Date.now() - t0) / 1000).toFixed(0)} s: ${argv.slice(0, 2).join(' ')} ${argv.includes('--out') ? argv[argv.indexOf('--out') + 1] : ''}\n`);
  return r.stdout;
}
const cli = (argv: string[]) => run(process.execPath, [CLI, ...argv]);

function taskFlags(task: string): string[] {
  return ['--task', task, '--glue-dir', resolve(args['glue-dir'] as string)];
}

function modeFlags(mode: string): string[] {
  if (mode === 'l1') return ['--alpha', args['l1-alpha'] as string, '--beta', args['l1-beta'] as string];
  if (mode === 'neuroprune') return ['--alpha', args['np-alpha'] as string, '--beta', args['np-beta'] as string];
  return [];
}

/** Heads per layer, structured sparsity and the hidden neurons' degree spread of a checkpoint. */
function describe(dir: string): Record<string, unknown> {
  const report = JSON.parse(cli(['analyze', '--model', dir, '--json', '--bootstrap', '0'])) as {
    sparsity: { unstructuredFraction: number; structuredFraction: number; headsKept: number; layers: { headsKept: number }[] };
    graphs: { layers: { mlp: { intermediateSize: number; hidden: { std: number; mean: number; gini: number; isolated: number } } }[] };
  };
  const mlp = report.graphs.layers.map((l) => l.mlp);
  return {
    sparsity: report.sparsity.unstructuredFraction,
    structuredSparsity: report.sparsity.structuredFraction,
    headsKept: report.sparsity.headsKept,
    headsPerLayer: report.sparsity.layers.map((l) => l.headsKept),
    neuronsPerLayer: mlp.map((m) => m.intermediateSize),
    degreeSd: mlp.map((m) => m.hidden.std),
    degreeMean: mlp.map((m) => m.hidden.mean),
    degreeGini: mlp.map((m) => m.hidden.gini),
  };
}

function evaluate(dir: string, task: string): { metric: number; metricName: string; evalSeconds: number } {
  const r = JSON.parse(cli(['eval', '--model', dir, ...taskFlags(task), '--json'])) as { metrics: Record<string, number>; seconds: number };
  const [metricName, metric] = Object.entries(r.metrics)[0];
  return { metric, metricName, evalSeconds: r.seconds };
}

for (const seed of list(args.seeds as string)) {
  for (const task of list(args.tasks as string)) {
    const limit = limits[task];
    const common = [...taskFlags(task), '--model', resolve(args.model as string), '--epochs', args.epochs as string,
      '--lr', args.lr as string, '--seed', seed, '--quiet', '--json',
      ...(limit ? ['--limit-train', String(limit)] : []), ...list((args['extra-flags'] as string).replace(/ +/g, ','))];
    if (args.torch) {
      const key = `torch/${task}/s${seed}`;
      if (!done.has(key)) {
        process.stderr.write(`${key}\n`);
        const lines = run('python3', [join(ROOT, 'bench', 'torch_glue_finetune.py'), '--model', resolve(args.model as string),
          '--task', task, '--glue-dir', resolve(args['glue-dir'] as string), '--epochs', args.epochs as string,
          '--lr', args.lr as string, '--seed', seed, '--threads', args['torch-threads'] as string, ...(limit ? ['--limit-train', String(limit)] : [])])
          .split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number>);
        record({ kind: 'torch', key, task, seed: Number(seed), limitTrain: limit, epochs: lines });
      }
    }
    for (const mode of list(args.modes as string)) {
      const name = mode + label;
      const runDir = join(runsDir, `${task}-${name}-s${seed}`);
      const trainKey = `train/${task}/${name}/s${seed}`;
      if (!done.has(trainKey)) {
        process.stderr.write(`${trainKey}\n`);
        rmSync(runDir, { recursive: true, force: true });
        const result = JSON.parse(cli(['train', ...common, '--mode', mode, ...modeFlags(mode), '--out', runDir])) as {
          epochs: { dev: Record<string, number>; trainSeconds: number; evalSeconds: number; taskLoss: number; sparsity: Record<string, unknown>; pruning: unknown }[];
        };
        record({
          kind: 'train', key: trainKey, task, mode: name, seed: Number(seed), limitTrain: limit, flags: [...common, '--mode', mode, ...modeFlags(mode)],
          epochs: result.epochs.map((e) => ({ dev: e.dev, trainSeconds: e.trainSeconds, evalSeconds: e.evalSeconds, taskLoss: e.taskLoss, sparsity: e.sparsity })),
          ...describe(join(runDir, 'checkpoint')), ...evaluate(join(runDir, 'checkpoint'), task),
        });
      }
      const pointMode = mode === 'finetune' ? 'magnitude' + label : name;
      for (const target of list(args.sparsities as string)) {
        const key = `point/${task}/${pointMode}/s${seed}/${target}`;
        if (done.has(key)) continue;
        process.stderr.write(`${key}\n`);
        const pruned = join(runDir, `pruned-${target}`);
        const compacted = join(runDir, `compacted-${target}`);
        const trained = readTrainRow(trainKey);
        if (Number(trained.sparsity) >= Number(target)) {
          // `prune` never un-zeroes: the trained model itself is already at least this sparse.
          record({ kind: 'point', key, task, mode: pointMode, seed: Number(seed), target: Number(target), alreadySparser: trained.sparsity });
          continue;
        }
        cli(['prune', '--model', join(runDir, 'checkpoint'), '--sparsity', target, '--out', pruned]);
        cli(['compact', '--model', pruned, '--out', compacted]);
        record({ kind: 'point', key, task, mode: pointMode, seed: Number(seed), target: Number(target), ...describe(compacted), ...evaluate(compacted, task) });
        rmSync(pruned, { recursive: true, force: true });
        rmSync(compacted, { recursive: true, force: true });
      }
    }
  }
}
