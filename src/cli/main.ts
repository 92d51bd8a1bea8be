#!/usr/bin/env node
/**
 * `neuroprune`: train, evaluate, analyse, prune and compact transformers from the command line.
 * Errors are printed as one line (no stack trace) and exit with status 1; usage errors with 2.
 */
import { UsageError } from './args';
import { analyzeCommand } from './commands/analyze';
import { compactCommand } from './commands/compact';
import { evalCommand } from './commands/eval';
import { pruneCommand } from './commands/prune';
import { pruneHeadsCommand } from './commands/pruneHeads';
import { reportCommand } from './commands/report';
import { sweepCommand } from './commands/sweep';
import { trainCommand } from './commands/train';

const COMMANDS: Record<string, { summary: string; run: (argv: string[]) => Promise<number> }> = {
  train: { summary: 'fine-tune with NeuroPrune (or finetune / l1 baselines); the default trains on the built-in task', run: trainCommand },
  eval: { summary: 'evaluate a checkpoint on a task\'s dev set', run: evalCommand },
  analyze: { summary: 'sparsity, heads and graph statistics of a checkpoint', run: analyzeCommand },
  'prune-heads': { summary: 'remove redundant heads of a checkpoint (Algorithms 2-3), by theta or a target count', run: pruneHeadsCommand },
  prune: { summary: 'zero the smallest-magnitude weights of a checkpoint to an exact sparsity, globally or per layer', run: pruneCommand },
  compact: { summary: 'physically remove dead neurons and input dimensions of a checkpoint', run: compactCommand },
  sweep: { summary: 'run a grid of alpha, beta, theta and modes (sharded for batch schedulers)', run: sweepCommand },
  report: { summary: 'tables and figures from sweep results', run: reportCommand },
};

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    'Usage: neuroprune <command> [options]',
    '',
    'Dynamic sparse fine-tuning of transformers (NeuroPrune) on TF.js.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '',
    "Run 'neuroprune <command> --help' for a command's options.",
    'Environment: NEUROPRUNE_BACKEND=gpu|node|webgpu|native|wasm|cpu forces a TF.js backend.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(mainHelp());
    return command === undefined ? 2 : 0;
  }
  const entry = COMMANDS[command];
  if (!entry) {
    process.stderr.write(`neuroprune: unknown command '${command}' (one of ${Object.keys(COMMANDS).join(', ')}; see neuroprune --help)\n`);
    return 2;
  }
  try {
    return await entry.run(rest);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`neuroprune ${command}: error: ${msg.split('\n')[0]}\n`);
    if (process.env.NEUROPRUNE_DEBUG) process.stderr.write(String((err as Error).stack) + '\n');
    return err instanceof UsageError ? 2 : 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
