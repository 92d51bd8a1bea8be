import { initBackend } from '../../backend';
import { compactModel, DEFAULT_EPS, isValidEps, sparsityReport, zeroBelow } from '../../neuroprune';
import { helpText, numberOption, parseCommandArgs, requiredString, type OptionTable } from '../args';
import { loadTaskModel, saveTaskModel } from '../checkpointIo';

const TABLE: OptionTable = {
  model: { type: 'string', value: 'DIR', help: 'the checkpoint to compact (required)' },
  out: { type: 'string', value: 'DIR', help: 'where to write the compacted checkpoint (required)' },
  'zero-below': { type: 'string', value: 'EPS', help: 'first set weights with |w| < EPS to zero (compaction removes exact zeros only)' },
  dense: { type: 'boolean', help: 'save in the original shapes, zeros in place of what was removed: loads in any transformers version (no speed-up)' },
  json: { type: 'boolean', help: 'print the compaction record as JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

export async function compactCommand(argv: string[]): Promise<number> {
  const { values } = parseCommandArgs(argv, TABLE, 'compact');
  if (values.help) {
    console.log(helpText('compact', 'Removes MLP neurons whose incoming row or outgoing column is zero (folding constant outputs into the bias)\nand attention input dimensions whose Q/K/V columns are zero. Outputs are unchanged; the model gets smaller and faster.', TABLE, ['neuroprune compact --model runs/x/checkpoint --zero-below 1e-4 --out compacted']));
    return 0;
  }
  const dir = requiredString(values, 'model', 'compact');
  const out = requiredString(values, 'out', 'compact');
  const eps = numberOption(values, 'zero-below', (v) => (isValidEps(v) ? null : `must be > 0, got ${v}`));
  await initBackend();
  const model = loadTaskModel(dir);
  try {
    const zeroed = eps !== undefined ? zeroBelow(model, { eps }) : 0;
    const before = sparsityReport(model, { eps: eps ?? DEFAULT_EPS }).present;
    const record = compactModel(model);
    const after = sparsityReport(model, { eps: eps ?? DEFAULT_EPS });
    const note = saveTaskModel(model, out, dir, { dense: values.dense === true });
    if (note) process.stderr.write(note + '\n');
    if (values.json) {
      console.log(JSON.stringify({ model: dir, out, zeroed, storedBefore: before, storedAfter: after.present, dense: after.total, ...record }, null, 2));
    } else {
      if (eps !== undefined) console.log(`zeroed ${zeroed} weights below ${eps}`);
      for (const m of record.mlp) console.log(`layer ${m.layer}: MLP ${m.before} -> ${m.after} neurons (${m.folded} folded into the bias)`);
      for (const a of record.attention) console.log(`layer ${a.layer}: attention reads ${a.after} of ${a.before} input dimensions`);
      console.log(`prunable weights stored: ${before} -> ${after.present} (dense: ${after.total}); saved: ${out}`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}
