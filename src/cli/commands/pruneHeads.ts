import { initBackend } from '../../backend';
import { eliminateRedundantHeadsAll, isValidTheta, pruneHeadsToTarget, type HeadElimination } from '../../neuroprune';
import { helpText, numberOption, parseCommandArgs, requiredString, stringOption, UsageError, type OptionTable } from '../args';
import { loadTaskModel, saveTaskModel } from '../checkpointIo';

const TABLE: OptionTable = {
  model: { type: 'string', value: 'DIR', help: 'the checkpoint to prune (required)' },
  out: { type: 'string', value: 'DIR', help: 'where to write the pruned checkpoint (required)' },
  theta: { type: 'string', value: 'X', help: 'head-similarity threshold (l-infinity distance); or use --target-heads' },
  'target-heads': { type: 'string', value: 'N', help: 'keep N heads per layer (or in total with --global), choosing theta by bisection' },
  global: { type: 'boolean', help: 'with --target-heads: one theta for all layers and N heads in total' },
  'head-strategy': { type: 'string', value: 'S', help: 'paper (Algorithm 3) or exact (minimum dominating set)', default: 'paper' },
  'no-merge': { type: 'boolean', help: "drop similar heads without merging their output weights (ablation)" },
  dense: { type: 'boolean', help: 'save in the original shapes, zeros in place of what was removed: loads in any transformers version (no speed-up)' },
  json: { type: 'boolean', help: 'print what was removed as JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

export async function pruneHeadsCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TABLE, 'prune-heads');
  if (values.help) {
    console.log(helpText('prune-heads', 'Removes redundant heads (Algorithms 2 and 3): similar heads are merged into a dominating set and removed\nphysically. The result is a normal checkpoint (pruned_heads in its config).', TABLE, [
      'neuroprune prune-heads --model runs/x/checkpoint --theta 0.2 --out pruned',
      'neuroprune prune-heads --model runs/x/checkpoint --target-heads 6 --out pruned',
    ]));
    return 0;
  }
  const dir = requiredString(values, 'model', 'prune-heads');
  const out = requiredString(values, 'out', 'prune-heads');
  const theta = numberOption(values, 'theta', (v) => (isValidTheta(v) ? null : `must be >= 0, got ${v}`));
  const target = numberOption(values, 'target-heads', (v) => (Number.isInteger(v) && v >= 1 ? null : `must be an integer >= 1, got ${v}`));
  if ((theta === undefined) === (target === undefined)) throw new UsageError('give exactly one of --theta and --target-heads');
  const strategy = stringOption(values, 'head-strategy') ?? 'paper';
  if (strategy !== 'paper' && strategy !== 'exact') throw new UsageError(`--head-strategy: '${strategy}' is not paper or exact`);
  const merge = values['no-merge'] !== true;
  await initBackend();
  const model = loadTaskModel(dir);
  try {
    let eliminations: HeadElimination[];
    let plan: unknown = null;
    if (theta !== undefined) {
      eliminations = eliminateRedundantHeadsAll(model.attentionBlocks(), { theta, strategy, merge });
    } else {
      const r = pruneHeadsToTarget(model.attentionBlocks(), { heads: target!, scope: values.global ? 'global' : 'layer', strategy, merge });
      eliminations = r.eliminations;
      plan = r.plan;
    }
    const note = saveTaskModel(model, out, dir, { dense: values.dense === true });
    if (note) process.stderr.write(note + '\n');
    if (values.json) {
      console.log(JSON.stringify({ model: dir, out, plan, eliminations }, null, 2));
    } else {
      for (const e of eliminations) {
        const moves = e.eliminated.map((x) => `${x.head}->${x.into}`).join(' ') || 'none';
        console.log(`layer ${e.layer}: ${e.headsBefore} -> ${e.headsAfter} heads (theta ${e.theta.toPrecision(3)}), merged: ${moves}`);
      }
      console.log(`saved: ${out}`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}
