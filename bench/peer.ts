/**
 * What the benchmarks that race a PyTorch peer share (bench/train_step.ts, decoder_step.ts,
 * t5_step.ts): their flags, one NeuroPrune training step, and the process's peak memory.
 */
import * as fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import type { AttentionBlock, MlpBlock } from '../src/models/blocks';
import { attentionGroupL12, mlpPreferentialL1 } from '../src/neuroprune/regularizers';
import type { AdamW } from '../src/train/adamw';
import { variableGrads } from '../src/train/gradients';

/** `--name value` from the command line, or `fallback`. */
export function flag(argv: readonly string[], name: string, fallback: string): string {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && i + 1 < argv.length ? argv[i + 1] : fallback;
}

/** Peak resident set of this process in MiB (VmHWM; resourceUsage where /proc is absent). */
export function peakRssMiB(): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) / 1024;
  } catch { /* not Linux */ }
  return process.resourceUsage().maxRSS / 1024;
}

interface RegularizedModel {
  namedParameters(): Map<string, tf.Variable>;
  attentionBlocks(): AttentionBlock[];
  mlpBlocks(): MlpBlock[];
}

/**
 * One NeuroPrune training step as the peers run it: task loss + alpha R_attn + beta R_mlp,
 * gradients that let go during the backward pass, AdamW at `lr`.
 */
export function neuropruneStep(model: RegularizedModel, taskLoss: () => tf.Scalar, opt: AdamW, alpha: number, beta: number, lr = 2e-5): void {
  const named = model.namedParameters();
  const { value, grads } = variableGrads(
    () => tf.addN([taskLoss(), tf.mul(attentionGroupL12(model.attentionBlocks()), alpha), tf.mul(mlpPreferentialL1(model.mlpBlocks()), beta)]) as tf.Scalar,
    [...named.values()],
  );
  const byName = new Map([...named].map(([n, v]) => [n, grads[v.name]]));
  opt.apply(named, byName, lr);
  tf.dispose([value, ...Object.values(grads)]);
}
