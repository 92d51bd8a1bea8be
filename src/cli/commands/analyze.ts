import { writeFileSync } from 'node:fs';
import { initBackend } from '../../backend';
import { summarizeModelGraphs } from '../../graph';
import { sparsityReport } from '../../neuroprune';
import { helpText, numberOption, parseCommandArgs, requiredString, stringOption, type OptionTable } from '../args';
import { loadTaskModel } from '../checkpointIo';

const TABLE: OptionTable = {
  model: { type: 'string', value: 'DIR', help: 'the checkpoint to analyse (required)' },
  eps: { type: 'string', value: 'X', help: 'magnitude below which a weight counts as zero', default: '1e-4' },
  theta: { type: 'string', value: 'X', help: 'head-similarity threshold of the head graphs', default: '0.2' },
  out: { type: 'string', value: 'FILE', help: 'also write the full report (sparsity and graphs) as JSON' },
  json: { type: 'boolean', help: 'print the full report as JSON instead of a table' },
  help: { type: 'boolean', help: 'show this help' },
};

export async function analyzeCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TABLE, 'analyze');
  if (values.help) {
    console.log(helpText('analyze', 'Sparsity (prunable weights below eps, counted against the dense model), heads per layer and the graph views of a checkpoint:\nhead-similarity graphs and MLP neuron graphs with degree statistics and power-law fits.', TABLE, ['neuroprune analyze --model runs/x/checkpoint --theta 0.2']));
    return 0;
  }
  const dir = requiredString(values, 'model', 'analyze');
  const eps = numberOption(values, 'eps', (v) => (v > 0 ? null : `must be > 0, got ${v}`)) ?? 1e-4;
  const theta = numberOption(values, 'theta', (v) => (v >= 0 ? null : `must be >= 0, got ${v}`)) ?? 0.2;
  await initBackend();
  const model = loadTaskModel(dir);
  try {
    const sparsity = sparsityReport(model, { eps });
    const graphs = summarizeModelGraphs(model, { eps, theta });
    const report = { model: dir, eps, theta, sparsity, graphs };
    const out = stringOption(values, 'out');
    if (out) writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
    if (values.json) { console.log(JSON.stringify(report, null, 2)); return 0; }
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log(`${dir}: sparsity ${pct(sparsity.unstructuredFraction)} (structured ${pct(sparsity.structuredFraction)}), heads ${sparsity.headsKept}/${sparsity.headsOriginal}, ${sparsity.present} of ${sparsity.total} prunable weights stored`);
    console.log('layer  heads  similar pairs  components  sparsity  MLP width  MLP edges  hidden-degree power-law alpha');
    sparsity.layers.forEach((l, i) => {
      const g = graphs.layers[i];
      const mlp = g?.mlp;
      const alpha = mlp?.hidden.powerLaw ? mlp.hidden.powerLaw.alpha.toFixed(2) : '-';
      console.log(`${String(l.layer).padStart(5)}  ${`${l.headsKept}/${l.headsOriginal}`.padStart(5)}  ${String(g?.attention?.edges ?? '-').padStart(13)}  ` +
        `${String(g?.attention?.components ?? '-').padStart(10)}  ${pct(l.unstructuredFraction).padStart(8)}  ${String(mlp?.intermediateSize ?? '-').padStart(9)}  ${String(mlp?.edges ?? '-').padStart(9)}  ${alpha.padStart(6)}`);
    });
    return 0;
  } finally {
    model.dispose();
  }
}
