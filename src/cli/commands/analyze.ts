import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initBackend } from '../../backend';
import { CONFIG_FILE, loadBertCheckpoint, loadCheckpoint } from '../../checkpoint';
import type { PrunableModel } from '../../models/blocks';
import { exportModelGraphs, GRAPH_FORMATS, summarizeModelGraphs, type DegreeSummary, type GraphFormat } from '../../graph';
import { DEFAULT_MIN_TAIL } from '../../graph/powerLaw';
import { DEFAULT_EPS, DEFAULT_THETA, isValidEps, isValidTheta, sparsityReport } from '../../neuroprune';
import { BertTaskModel } from '../../train/bertTask';
import { removedHeadImportance, type RemovedHeadImportance } from '../../baselines/headImportance';
import { helpText, numberOption, parseCommandArgs, requiredString, stringOption, UsageError, type OptionTable } from '../args';

const TABLE: OptionTable = {
  model: { type: 'string', value: 'DIR', help: 'the checkpoint to analyse (required); a bare encoder without a classifier will do' },
  eps: { type: 'string', value: 'X', help: 'magnitude below which a weight counts as zero', default: String(DEFAULT_EPS) },
  theta: { type: 'string', value: 'X', help: 'head-similarity threshold of the head graphs', default: String(DEFAULT_THETA) },
  bootstrap: { type: 'string', value: 'N', help: 'bootstrap replicates of the power-law p-value (0: none; its Monte-Carlo error is about 0.5/sqrt(N))', default: '100' },
  'min-tail': { type: 'string', value: 'N', help: 'fewest degrees in a fitted power-law tail', default: String(DEFAULT_MIN_TAIL) },
  seed: { type: 'string', value: 'N', help: 'seed of the bootstrap', default: '1' },
  export: { type: 'string', value: 'FORMAT', help: `also write each layer's neuron and head graphs as ${GRAPH_FORMATS.join(' or ')} into --out` },
  out: { type: 'string', value: 'DIR', help: 'directory of the --export files' },
  report: { type: 'string', value: 'FILE', help: 'also write the full report (sparsity and graphs) as JSON' },
  reference: { type: 'string', value: 'DIR', help: "the model before pruning: adds the importance (sum |Wo| leaving a head) of the heads removed per layer, relative to the layer's average head (the NeuroPrune paper's Figure 7)" },
  json: { type: 'boolean', help: 'print the full report as JSON instead of tables' },
  help: { type: 'boolean', help: 'show this help' },
};

const SUMMARY = `Sparsity (prunable weights below eps, counted against the dense model), heads per layer and the graph views of a checkpoint:
head-similarity graphs, and MLP neuron graphs with degree statistics and heavy-tail tests of the hidden neurons' degrees
(Clauset, Shalizi & Newman 2009: power-law fit, bootstrap p-value, likelihood ratios against the alternatives).
Verdicts: the law whose likelihood is significantly higher (p < 0.1; R is the normalised log-likelihood ratio, > 0 for the
power law), '~' when the data cannot tell.`;

const SHORT: Record<string, string> = { lognormal: 'lognormal', exponential: 'exponential', stretched_exponential: 'stretched exp', truncated_power_law: 'truncated PL' };

/** One line of the heavy-tail table: the fit (a bound is never printed as an estimate), the p-value and the verdicts. */
function heavyTailCells(s: DegreeSummary, minTail: number): string {
  const fit = s.powerLaw;
  const positive = s.count - s.isolated;
  if (!fit) return positive < minTail ? `no fit: ${positive} neurons of degree > 0, fewer than --min-tail ${minTail}` : 'no fit: fewer than 4 distinct degrees';
  const alpha = fit.atBound ? `alpha ${fit.alpha > 1.5 ? '>' : '<'} ${fit.alpha.toFixed(2)} (search bound, no estimate)` : `alpha ${fit.alpha.toFixed(2)} +- ${fit.sigma.toFixed(2)}`;
  const p = s.goodnessOfFit ? `p ${s.goodnessOfFit.p.toFixed(2)}` : 'p -';
  const verdicts = s.comparisons.map((c) => {
    const winner = c.verdict === 'alternative' ? `${SHORT[c.alternative]} better` : c.verdict === 'power law' ? `power law better than ${SHORT[c.alternative]}` : `power law ~ ${SHORT[c.alternative]}`;
    return `${winner} (R ${c.R === null ? '-' : c.R.toFixed(1)})`;
  }).join(', ');
  return `${alpha}, xmin ${fit.xmin}, tail ${fit.nTail}; ${p}; ${verdicts}`;
}

export async function analyzeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TABLE, 'analyze');
  if (values.help) {
    console.log(helpText('analyze', SUMMARY, TABLE, [
      'neuroprune analyze --model runs/x/checkpoint --theta 0.2',
      'neuroprune analyze --model runs/x/checkpoint --export gexf --out graphs   # open graphs/layer0.neurons.gexf in Gephi',
      'neuroprune analyze --model runs/dsp/checkpoint --reference data/models/bert-small-negation --bootstrap 0',
    ]));
    return 0;
  }
  const dir = requiredString(values, 'model', 'analyze');
  const eps = numberOption(values, 'eps', (v) => (isValidEps(v) ? null : `must be > 0, got ${v}`)) ?? DEFAULT_EPS;
  const theta = numberOption(values, 'theta', (v) => (isValidTheta(v) ? null : `must be >= 0, got ${v}`)) ?? DEFAULT_THETA;
  const integer = (v: number, min: number) => (Number.isInteger(v) && v >= min ? null : `must be an integer >= ${min}, got ${v}`);
  const bootstrap = numberOption(values, 'bootstrap', (v) => integer(v, 0)) ?? 100;
  const minTail = numberOption(values, 'min-tail', (v) => integer(v, 1)) ?? DEFAULT_MIN_TAIL;
  const seed = numberOption(values, 'seed', (v) => integer(v, 0)) ?? 1;
  const format = stringOption(values, 'export');
  const outDir = stringOption(values, 'out');
  if (format !== undefined && !GRAPH_FORMATS.includes(format as GraphFormat)) throw new UsageError(`--export: '${format}' is not a format (${GRAPH_FORMATS.join(' or ')})`);
  if ((format === undefined) !== (outDir === undefined)) throw new UsageError('--export and --out go together: --export gexf --out DIR');
  await initBackend();
  if (modelTypeOf(dir) === 't5') return analyzeByStack(dir, { eps, theta, bootstrap, seed, minTail, reportFile: stringOption(values, 'report'), json: values.json === true });
  // The graphs cover the encoder only: a checkpoint without a task head (a bare BertModel) is
  // analysed as it is, the missing head filled in and never looked at.
  const model = new BertTaskModel(loadBertCheckpoint(dir, { initMissingHead: true }).model);
  try {
    const sparsity = sparsityReport(model, { eps });
    const graphs = summarizeModelGraphs(model, { eps, theta, powerLaw: { bootstrap, seed, minTail } });
    const referenceDir = stringOption(values, 'reference');
    let headImportance: RemovedHeadImportance[] | undefined;
    if (referenceDir) {
      const reference = new BertTaskModel(loadBertCheckpoint(referenceDir, { initMissingHead: true }).model);
      try { headImportance = removedHeadImportance(reference, model); } finally { reference.dispose(); }
    }
    const report = { model: dir, eps, theta, sparsity, graphs, ...(headImportance ? { headImportance } : {}) };
    const reportFile = stringOption(values, 'report');
    if (reportFile) writeFileSync(reportFile, JSON.stringify(report, null, 2) + '\n');
    const exported = format ? exportModelGraphs(model, { dir: outDir!, format: format as GraphFormat, eps, theta }) : [];
    if (values.json) { console.log(JSON.stringify(report, null, 2)); return 0; }
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log(`${dir}: sparsity ${pct(sparsity.unstructuredFraction)} (structured ${pct(sparsity.structuredFraction)}), heads ${sparsity.headsKept}/${sparsity.headsOriginal}, ${sparsity.present} of ${sparsity.total} prunable weights stored`);
    console.log('layer  heads  similar pairs  components  sparsity  MLP width  MLP edges');
    sparsity.layers.forEach((l, i) => {
      const g = graphs.layers[i];
      const mlp = g?.mlp;
      console.log(`${String(l.layer).padStart(5)}  ${`${l.headsKept}/${l.headsOriginal}`.padStart(5)}  ${String(g?.attention?.edges ?? '-').padStart(13)}  ` +
        `${String(g?.attention?.components ?? '-').padStart(10)}  ${pct(l.unstructuredFraction).padStart(8)}  ${String(mlp?.intermediateSize ?? '-').padStart(9)}  ${String(mlp?.edges ?? '-').padStart(9)}`);
    });
    console.log(`\nHidden neurons' total degree (in + out, at most ${2 * graphs.hiddenSize}): sd, Gini, edges held by the top 10%, full and empty neurons; heavy-tail tests (bootstrap ${bootstrap})`);
    console.log('layer      sd   Gini  top10%   full  empty  power law, p-value, verdict against each alternative');
    const row = (label: string, s: DegreeSummary, tests: boolean) =>
      console.log(`${label.padStart(5)}  ${s.std.toFixed(1).padStart(6)}  ${s.gini.toFixed(2).padStart(5)}  ${pct(s.topShare).padStart(6)}  ${pct(s.fullFraction).padStart(5)}  ${pct(s.emptyFraction).padStart(5)}  ${tests ? heavyTailCells(s, minTail) : ''}`);
    for (const g of graphs.layers) if (g.mlp) row(String(g.layer), g.mlp.hidden, true);
    if (graphs.model) row('all', graphs.model.hidden, false);
    for (const g of graphs.layers) {
      const w = g.mlp?.hidden.powerLaw?.warning;
      if (w) console.log(`layer ${g.layer}: ${w}`);
    }
    if (headImportance) {
      console.log(`\nHead importance (sum |Wo| leaving a head, in ${referenceDir}): removed heads' mean over the layer's mean (1: as the average head)`);
      console.log('layer  removed  relative importance  importance of each head (removed in brackets)');
      for (const h of headImportance) {
        const cells = h.heads.map((id, i) => (h.removed.includes(id) ? `[${h.importance[i].toFixed(2)}]` : h.importance[i].toFixed(2))).join(' ');
        console.log(`${String(h.layer).padStart(5)}  ${`${h.removed.length}/${h.heads.length}`.padStart(7)}  ${(h.relative === null ? '-' : h.relative.toFixed(3)).padStart(19)}  ${cells}`);
      }
    }
    if (exported.length) console.log(`\nwrote ${exported.length} graph files to ${outDir}`);
    return 0;
  } finally {
    model.dispose();
  }
}

/** `model_type` of a directory's config.json (BERT when absent or unreadable: the BERT loader then says what is wrong). */
function modelTypeOf(dir: string): string {
  try {
    return String((JSON.parse(readFileSync(join(dir, CONFIG_FILE), 'utf8')) as { model_type?: unknown }).model_type ?? 'bert');
  } catch {
    return 'bert';
  }
}

/**
 * An encoder-decoder (T5): sparsity and heads per stack and kind, and the graph views of each
 * stack and kind apart (its layers would collide in one per-layer report: encoder layer 0 is not
 * decoder layer 0, and a decoder layer has two attentions).
 */
function analyzeByStack(dir: string, o: { eps: number; theta: number; bootstrap: number; seed: number; minTail: number; reportFile?: string; json: boolean }): number {
  const model = loadCheckpoint(dir).model as unknown as PrunableModel & { dispose(): void };
  try {
    const sparsity = sparsityReport(model, { eps: o.eps });
    const graphs = sparsity.groups.map((g) => {
      const view: PrunableModel = {
        hiddenSize: model.hiddenSize,
        attentionBlocks: () => (g.role === 'mlp' ? [] : model.attentionBlocks().filter((b) => b.stack === g.stack && b.kind === g.role)),
        mlpBlocks: () => (g.role === 'mlp' ? model.mlpBlocks().filter((b) => b.stack === g.stack) : []),
      };
      return { stack: g.stack, kind: g.role, graphs: summarizeModelGraphs(view, { eps: o.eps, theta: o.theta, powerLaw: { bootstrap: o.bootstrap, seed: o.seed, minTail: o.minTail } }) };
    });
    const report = { model: dir, eps: o.eps, theta: o.theta, sparsity, graphs };
    if (o.reportFile) writeFileSync(o.reportFile, JSON.stringify(report, null, 2) + '\n');
    if (o.json) { console.log(JSON.stringify(report, null, 2)); return 0; }
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log(`${dir}: sparsity ${pct(sparsity.unstructuredFraction)} (structured ${pct(sparsity.structuredFraction)}), heads ${sparsity.headsKept}/${sparsity.headsOriginal}, ${sparsity.present} of ${sparsity.total} prunable weights stored`);
    console.log('stack    kind   sparsity  structured  per layer (heads kept, or MLP width)  similar head pairs per layer');
    sparsity.groups.forEach((g, i) => {
      const perLayer = g.role === 'mlp' ? g.neuronsPerLayer : g.headsPerLayer;
      const pairs = g.role === 'mlp' ? '-' : graphs[i].graphs.layers.map((l) => l.attention?.edges ?? 0).join(',');
      console.log(`${g.stack.padEnd(7)}  ${g.role.padEnd(5)}  ${pct(g.unstructuredFraction).padStart(8)}  ${pct(g.structuredFraction).padStart(10)}  ${perLayer.join(',').padEnd(36)}  ${pairs}`);
    });
    for (const g of graphs) {
      if (g.kind !== 'mlp') continue;
      console.log(`\n${g.stack} MLP hidden neurons' total degree: sd, Gini, top 10%, full, empty; heavy-tail tests (bootstrap ${o.bootstrap})`);
      for (const l of g.graphs.layers) {
        const h = l.mlp?.hidden;
        if (h) console.log(`${String(l.layer).padStart(5)}  ${h.std.toFixed(1).padStart(6)}  ${h.gini.toFixed(2).padStart(5)}  ${pct(h.topShare).padStart(6)}  ${pct(h.fullFraction).padStart(5)}  ${pct(h.emptyFraction).padStart(5)}  ${heavyTailCells(h, o.minTail)}`);
      }
    }
    return 0;
  } finally {
    model.dispose();
  }
}
