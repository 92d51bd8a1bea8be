/**
 * Will a training step fit in memory? An estimate made before any work, so that a batch that is
 * too large is refused in one line, with the batch size that fits, instead of dying minutes later
 * (the wasm backend aborts near 4 GiB; elsewhere the kernel's OOM killer ends the process).
 *
 * A step needs the weights, what grows with the weights (gradients, AdamW's two moments, the
 * clip's and the penalties' temporary gradients: `STEP_FLOATS_PER_PARAMETER` floats per weight,
 * more for embedding tables), and what grows with the batch (activations kept for the backward
 * pass, which the model estimates: `TrainableModel.stepMemory`).
 */
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';

/**
 * Floats per parameter that a step holds besides the weights themselves: its gradient and
 * AdamW's two moments. The fit of `bench/step_memory.ts --fit` (BENCHMARKS.md) is held to at
 * least this floor, and lands on it.
 */
export const STEP_FLOATS_PER_PARAMETER = 3;

/**
 * Floats per parameter of an embedding table (reached through a gather), fitted by
 * `bench/step_memory.ts --fit`: besides the gradient and the moments, the gather's gradient is a
 * dense table built by a scatter, the clip and AdamW write whole tables anew, and freed tables go
 * back to the system only when the runtime collects them.
 */
export const EMBEDDING_FLOATS_PER_PARAMETER = 9.05;

/**
 * Headroom on the estimate: the peak resident set of the same step varies by up to 15% between
 * runs (740 and 868 MiB for one shape in BENCHMARKS.md), with when the runtime collects freed
 * buffers, and the estimate's fit is within 16% of single measurements.
 */
export const MEMORY_MARGIN = 1.2;

/** The wasm backend's tensors share one 32-bit WebAssembly memory. */
export const WASM_HEAP_LIMIT = 4 * 2 ** 30;

export interface MemoryEstimate {
  /** The weights (already allocated when the estimate is made). */
  parameters: number;
  /** Gradients, optimizer state and per-step copies that grow with the weights. */
  parameterState: number;
  /** Activations kept for the backward pass of the largest batch. */
  activations: number;
  total: number;
}

/**
 * Bytes a training step needs, for `parameters` weights (of which `embeddingParameters` are in
 * embedding tables) and `activationBytes` of activations.
 */
export function estimateTrainingMemory(o: { parameters: number; embeddingParameters?: number; activationBytes: number }): MemoryEstimate {
  const embedding = o.embeddingParameters ?? 0;
  if (embedding > o.parameters) throw new Error(`estimateTrainingMemory: ${embedding} embedding parameters of ${o.parameters} in all`);
  const parameters = 4 * o.parameters;
  const parameterState = 4 * (STEP_FLOATS_PER_PARAMETER * (o.parameters - embedding) + EMBEDDING_FLOATS_PER_PARAMETER * embedding);
  return { parameters, parameterState, activations: o.activationBytes, total: parameters + parameterState + o.activationBytes };
}

export interface AvailableMemory {
  /** Bytes the step may still allocate (the weights already in memory are not counted). */
  bytes: number;
  /** Where the figure comes from, for the message. */
  source: string;
}

/** Parses `12G`, `800M`, `1.5GiB` or a number of bytes. */
export function parseByteSize(text: string): number {
  const m = /^\s*([0-9]*\.?[0-9]+)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) throw new Error(`'${text}' is not a size such as 12G, 800M or 1073741824`);
  const unit = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * unit);
}

function readNumber(path: string): number | undefined {
  try {
    const v = readFileSync(path, 'utf8').trim();
    return /^\d+$/.test(v) ? Number(v) : undefined;
  } catch {
    return undefined;
  }
}

/** `MemAvailable` of /proc/meminfo (what can be allocated without swapping), else os.freemem(). */
function systemAvailable(): AvailableMemory {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return { bytes: Number(m[1]) * 1024, source: 'MemAvailable in /proc/meminfo' };
  } catch { /* not Linux */ }
  return { bytes: os.freemem(), source: 'free memory' };
}

/** A cgroup v2 limit (containers, Slurm, Kubernetes) minus what the group already uses. */
function cgroupAvailable(): AvailableMemory | undefined {
  const root = '/sys/fs/cgroup';
  if (!existsSync(`${root}/memory.max`)) return undefined;
  const max = readNumber(`${root}/memory.max`);
  const current = readNumber(`${root}/memory.current`);
  if (max === undefined || current === undefined) return undefined;
  return { bytes: Math.max(0, max - current), source: `the cgroup's memory.max (${gib(max)})` };
}

/**
 * What a step may allocate on this backend: `NEUROPRUNE_MEMORY_LIMIT` when set (bytes this
 * process may use in all), else the least of the system's available memory, the cgroup's limit
 * and, on wasm, the 4 GiB heap.
 */
export function availableMemory(backend: string, env: NodeJS.ProcessEnv = process.env, inUse = process.memoryUsage().rss): AvailableMemory {
  const limit = env.NEUROPRUNE_MEMORY_LIMIT;
  if (limit !== undefined && limit.trim() !== '') {
    let bytes: number;
    try { bytes = parseByteSize(limit); } catch (err) { throw new Error(`NEUROPRUNE_MEMORY_LIMIT: ${(err as Error).message}`); }
    return { bytes: Math.max(0, bytes - inUse), source: `NEUROPRUNE_MEMORY_LIMIT=${limit.trim()}` };
  }
  const candidates = [systemAvailable(), cgroupAvailable()].filter((c): c is AvailableMemory => c !== undefined);
  if (backend === 'wasm') candidates.push({ bytes: Math.max(0, WASM_HEAP_LIMIT - inUse), source: 'the wasm heap limit of 4 GiB (the native backend has none)' });
  return candidates.reduce((a, b) => (b.bytes < a.bytes ? b : a));
}

export function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

export class MemoryError extends Error {}

/**
 * Throws a `MemoryError` when the step does not fit: one line with the estimate, its parts, what
 * is available and where that figure comes from, and the largest batch size that fits (the
 * activations grow in proportion to the batch).
 */
export function checkTrainingMemory(o: {
  estimate: MemoryEstimate; available: AvailableMemory; batchSize: number; seqLen: number;
}): void {
  const { estimate: e, available, batchSize, seqLen } = o;
  // The weights are already allocated; what the step adds must fit with the margin.
  const needed = MEMORY_MARGIN * (e.parameterState + e.activations);
  if (needed <= available.bytes) return;
  const perExample = e.activations / batchSize;
  const fits = Math.floor((available.bytes / MEMORY_MARGIN - e.parameterState) / perExample);
  const advice = fits >= 1
    ? `batch size ${Math.min(fits, batchSize - 1)} fits`
    : `even batch size 1 does not fit: the weights' gradients and optimizer state alone need ${gib(e.parameterState)}`;
  throw new MemoryError(
    `a training step at batch ${batchSize} x ${seqLen} tokens needs about ${gib(e.total)} (weights ${gib(e.parameters)}, ` +
    `gradients and AdamW state ${gib(e.parameterState)}, activations ${gib(e.activations)}), but ${gib(available.bytes)} more ` +
    `are available (${available.source}), with ${Math.round(100 * (MEMORY_MARGIN - 1))}% headroom; ${advice} (NEUROPRUNE_MEMORY_LIMIT overrides the limit; an estimate, see BENCHMARKS.md)`,
  );
}
