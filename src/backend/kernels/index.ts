/**
 * Faster kernels for the wasm backend, installed over the backend's own when it is picked.
 *
 * `NEUROPRUNE_KERNELS=off` keeps TF.js's kernels (for "before" measurements and for bisecting);
 * `NEUROPRUNE_KERNELS=wasm` skips the native addon and uses the pure-wasm improvements only.
 * `uninstallWasmKernels()` restores the originals, so one process can measure both.
 */
import * as tf from '@tensorflow/tfjs';
import { loadNativeBlas } from './native';
import { nativeBatchMatMul, nativeFusedMatMul, wasmTransposeFirst } from './matmul';
import { FUSED_KERNELS, wasmFusedKernels } from './fused';
import { heapScatterNd, nativeSum, zeroCopyIdentity } from './reduce';
import { TRAINING_KERNELS, setTrainingBlas, wasmTrainingKernels } from './training';
import { DROPOUT_KERNELS, dropoutKernels } from './dropout';

export type KernelMode = 'native' | 'wasm' | 'off';

export interface KernelReport {
  mode: KernelMode;
  /** e.g. `native OpenBLAS matmul, 2 threads` or why the native path is not in use. */
  detail: string;
  /** Threads each native product may use (1 on the pure-wasm path). */
  threads: number;
  /**
   * Set when the native kernels were wanted but are not in use (not built, stale, failed to
   * load): what it costs and how to fix it, for the backend report. Absent when switched off on
   * purpose (`NEUROPRUNE_KERNELS=wasm|off`, `NEUROPRUNE_NATIVE=0`).
   */
  warning?: string;
}

/** BENCHMARKS.md: a training step with the native kernels against without them. */
const NATIVE_SPEEDUP = '16-30x';

type KernelImpl = Parameters<typeof nativeBatchMatMul>[1];
const REPLACED = ['BatchMatMul', '_FusedMatMul', 'Sum', 'Identity', 'ScatterNd'] as const;

let originals: Map<string, tf.KernelConfig> | undefined;
/** Kernels this module added (not replacements): removed again on uninstall. */
let added: string[] = [];
let report: KernelReport = { mode: 'off', detail: 'TF.js wasm kernels', threads: 1 };

function parseMode(value: string | undefined): KernelMode | 'auto' {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto' || v === 'on') return 'auto';
  if (v === 'off' || v === '0' || v === 'false') return 'off';
  if (v === 'wasm' || v === 'native') return v;
  throw new Error(`NEUROPRUNE_KERNELS=${value} is not one of auto, native, wasm, off`);
}

function replace(name: string, impl: (orig: KernelImpl) => KernelImpl): void {
  const orig = originals!.get(name)!;
  tf.unregisterKernel(name, 'wasm');
  tf.registerKernel({
    kernelName: name,
    backendName: 'wasm',
    // The original's setup (its cwrap of the C++ kernel) must still run if the backend is
    // (re)initialised after this, since the fallbacks call into it.
    setupFunc: orig.setupFunc,
    kernelFunc: impl(orig.kernelFunc as unknown as KernelImpl) as unknown as tf.KernelFunc,
  });
}

/**
 * Replaces the wasm backend's matmul kernels with the fastest implementation that loads.
 * Call after the wasm backend is registered; idempotent (a second call re-installs).
 */
export function installWasmKernels(mode: KernelMode | 'auto' = parseMode(process.env.NEUROPRUNE_KERNELS)): KernelReport {
  uninstallWasmKernels();
  if (mode === 'off') {
    report = { mode: 'off', detail: 'TF.js wasm kernels (NEUROPRUNE_KERNELS=off)', threads: 1 };
    return report;
  }
  originals = new Map();
  for (const name of REPLACED) {
    const k = tf.getKernel(name, 'wasm');
    if (!k) throw new Error(`wasm kernel ${name} is not registered: import @tensorflow/tfjs-backend-wasm first`);
    originals.set(name, k);
  }
  const native = mode === 'wasm' ? { ok: false as const, reason: 'NEUROPRUNE_KERNELS=wasm' } : loadNativeBlas();
  if (native.ok) {
    replace('BatchMatMul', (orig) => nativeBatchMatMul(native.blas, orig));
    replace('_FusedMatMul', (orig) => nativeFusedMatMul(native.blas, orig));
    replace('Sum', (orig) => nativeSum(native.blas, orig));
    replace('Identity', (orig) => zeroCopyIdentity(orig));
    replace('ScatterNd', (orig) => heapScatterNd(orig, native.blas));
    const fused = wasmFusedKernels(native.blas);
    for (const name of FUSED_KERNELS) {
      tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: fused[name] as unknown as tf.KernelFunc });
      added.push(name);
    }
    const dropout = dropoutKernels(native.blas);
    for (const name of DROPOUT_KERNELS) {
      tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: dropout[name] as unknown as tf.KernelFunc });
      added.push(name);
    }
    // An addon built before these kernels existed lacks them: the callers keep their own paths.
    const blas = native.blas;
    if (blas.regMlp && blas.regAttn && blas.adamw) {
      const training = wasmTrainingKernels(blas);
      for (const name of TRAINING_KERNELS) {
        tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: training[name] as unknown as tf.KernelFunc });
        added.push(name);
      }
      setTrainingBlas(blas);
    }
    const threads = native.blas.info().threads;
    report = { mode: 'native', detail: `native OpenBLAS matmul + fused GELU/softmax/LayerNorm/Sum, ${threads} thread${threads === 1 ? '' : 's'}`, threads };
  } else {
    if (mode === 'native') {
      uninstallWasmKernels();
      throw new Error(`NEUROPRUNE_KERNELS=native but ${native.reason}`);
    }
    replace('BatchMatMul', (orig) => wasmTransposeFirst(orig));
    replace('_FusedMatMul', (orig) => wasmTransposeFirst(orig));
    replace('Identity', (orig) => zeroCopyIdentity(orig));
    replace('ScatterNd', (orig) => heapScatterNd(orig));
    report = { mode: 'wasm', detail: `transpose-first wasm matmul (${native.reason})`, threads: 1 };
    if (!native.ok && !native.deliberate && mode !== 'wasm') {
      report.warning = `native OpenBLAS kernels not in use (${native.reason}): each training step is about ${NATIVE_SPEEDUP} slower `
        + '(BENCHMARKS.md) and, without the native backend, every tensor lives in the wasm heap (a process dies near 4 GiB); install a C++ compiler and OpenBLAS (apt-get install build-essential libopenblas-dev), then run npm run build:native';
    }
  }
  return report;
}

/** Restores TF.js's own kernels. */
export function uninstallWasmKernels(): void {
  if (!originals) return;
  for (const [name, config] of originals) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
  }
  originals = undefined;
  for (const name of added) tf.unregisterKernel(name, 'wasm');
  added = [];
  setTrainingBlas(undefined);
  report = { mode: 'off', detail: 'TF.js wasm kernels', threads: 1 };
}

export function wasmKernelReport(): KernelReport {
  return report;
}

export { checkNativeAddon, loadNativeBlas, nativeSourceHash, type NativeBlas, type NativeLoad } from './native';
export { gelu, layerNorm, layerNormReference, softmaxLastAxis } from './fused';
export { dropout, dropoutMask } from './dropout';
export { nativeAdamWUpdate, trainingKernelCalls } from './training';
