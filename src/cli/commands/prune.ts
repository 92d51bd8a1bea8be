import { initBackend } from '../../backend';
import { MAGNITUDE_SCOPES, magnitudePrune, sparsityReport, type MagnitudeScope } from '../../neuroprune';
import { helpText, numberOption, parseCommandArgs, requiredString, stringOption, UsageError, type OptionTable } from '../args';
import { loadTaskModel, saveTaskModel } from '../checkpointIo';

const TABLE: OptionTable = {
  model: { type: 'string', value: 'DIR', help: 'the checkpoint to prune (required)' },
  out: { type: 'string', value: 'DIR', help: 'where to write the pruned checkpoint (required)' },
  sparsity: { type: 'string', value: 'X', help: 'target fraction of zero prunable weights, in [0, 1) (required)' },
  scope: { type: 'string', value: 'S', help: 'global: one magnitude threshold for the whole model; layer: each layer pruned to the target on its own', default: 'global' },
  json: { type: 'boolean', help: 'print the pruning record as JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

const HELP = helpText('prune',
  'Zeroes the smallest-magnitude weights of a checkpoint to an exact sparsity: the control of equal-sparsity comparisons\n' +
  '(fine-tune, then prune; train --mode magnitude does both). Prunable are the weight matrices of the encoder\'s\n' +
  'linear maps (Q, K, V, attention output, MLP in and out), not biases, LayerNorm, embeddings or the classifier;\n' +
  'heads, neurons and input dimensions already removed count as zeros. The result is an ordinary checkpoint\n' +
  '(same shapes, zeros in place); `compact` then removes whatever whole rows and columns became zero.',
  TABLE, ['neuroprune prune --model runs/ft/checkpoint --sparsity 0.5 --out runs/ft-50', 'neuroprune prune --model runs/ft/checkpoint --sparsity 0.8 --scope layer --out runs/ft-80-layer']);

export async function pruneCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TABLE, 'prune');
  if (values.help) { console.log(HELP); return 0; }
  const dir = requiredString(values, 'model', 'prune');
  const out = requiredString(values, 'out', 'prune');
  const sparsity = numberOption(values, 'sparsity', (v) => (v >= 0 && v < 1 ? null : `must be in [0, 1), got ${v}`));
  if (sparsity === undefined) throw new UsageError('--sparsity is required (see neuroprune prune --help)');
  const scope = (stringOption(values, 'scope') ?? 'global') as MagnitudeScope;
  if (!MAGNITUDE_SCOPES.includes(scope)) throw new UsageError(`--scope: '${scope}' is not one of ${MAGNITUDE_SCOPES.join(', ')}`);
  await initBackend();
  const model = loadTaskModel(dir);
  try {
    const result = magnitudePrune(model, { sparsity, scope });
    const report = sparsityReport(model);
    const note = saveTaskModel(model, out, dir);
    if (note) process.stderr.write(note + '\n');
    if (values.json) {
      console.log(JSON.stringify({ model: dir, out, ...result, structured: report.structuredFraction }, null, 2));
    } else {
      console.log(`pruned ${dir} to ${(100 * result.sparsity).toFixed(2)}% (${scope}): ${result.zeros} of ${result.total} prunable weights zero, ${result.zeroed} zeroed now; ` +
        `structured ${(100 * report.structuredFraction).toFixed(1)}%; saved: ${out}`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}
