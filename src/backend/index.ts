/**
 * Picks and initialises the TF.js backend.
 *
 * Preference: `gpu` (@tensorflow/tfjs-node-gpu, CUDA) > `node` (@tensorflow/tfjs-node, native
 * libtensorflow on the CPU) > `webgpu` (@tensorflow/tfjs-backend-webgpu over Dawn and Vulkan,
 * ./webgpu.ts; automatic only with a hardware adapter, forced also on a software one) > `native` (the cpu backend's typed arrays with our OpenBLAS addon's
 * kernels, ./nativeBackend.ts) > `wasm` (@tensorflow/tfjs-backend-wasm, SIMD) > `cpu` (pure JS).
 * `native` comes before `wasm` because its tensors live in ordinary memory, not in wasm's 4 GiB
 * heap, and it is as fast; it needs the addon, so machines without a compiler get wasm.
 * The TF.js native packages are optional peers: they are tried only if installed, and a failure to
 * load them is reported in one line, never thrown. `NEUROPRUNE_BACKEND=gpu|node|webgpu|native|wasm|cpu`
 * forces one backend; forcing a backend that does not load is an error.
 */
import * as tf from '@tensorflow/tfjs';
import { registerWasmSegmentSum } from './segmentSumWasm';
import { installWasmKernels, loadNativeBlas, type KernelReport } from './kernels';
import { NATIVE_BACKEND, registerNativeBackend } from './nativeBackend';
import { adapterLabel, setWebGpuBackend, type AdapterDescription } from './webgpu';

export type BackendChoice = 'gpu' | 'node' | 'webgpu' | 'native' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendChoice[] = ['gpu', 'node', 'webgpu', 'native', 'wasm', 'cpu'];

export interface BackendReport {
  /** The backend in use. */
  picked: BackendChoice;
  /** TF.js's own name for it (`tensorflow`, `wasm`, `cpu`). */
  tfName: string;
  /** Why it was picked: forced by the environment or the first that loaded. */
  reason: string;
  /** One line for each better backend that did not load, with the reason. */
  skipped: { backend: BackendChoice; reason: string }[];
  /**
   * On wasm: which kernels replace TF.js's (native OpenBLAS, transpose-first wasm, or none); on
   * native: the addon's BLAS and threads.
   */
  kernels?: KernelReport;
  /** On webgpu: the adapter Dawn drives. */
  adapter?: AdapterDescription;
}

export interface InitBackendOptions {
  /** Force a backend; default: `NEUROPRUNE_BACKEND` from the environment, else automatic. */
  force?: BackendChoice;
  /** Print the report as one line per backend to stderr. Default false. */
  log?: boolean;
}

let current: BackendReport | undefined;

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].trim();
}

/**
 * Loads an optional native package by name. The name is a variable so that TypeScript does not
 * need the package's types, and a missing package becomes a caught error rather than a crash.
 */
async function loadNative(pkg: string): Promise<void> {
  await import(pkg);
}

let lastKernels: KernelReport | undefined;
let lastAdapter: AdapterDescription | undefined;

async function tryBackend(choice: BackendChoice, forced: boolean): Promise<string> {
  lastKernels = undefined;
  lastAdapter = undefined;
  switch (choice) {
    case 'gpu':
      await loadNative('@tensorflow/tfjs-node-gpu');
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tensorflow backend did not initialise');
      // tfjs-node-gpu falls back to the CPU silently when CUDA is missing: insist on a GPU device.
      if (!hasCudaDevice()) throw new Error('tfjs-node-gpu loaded but found no CUDA device');
      return 'tensorflow';
    case 'node':
      await loadNative('@tensorflow/tfjs-node');
      if (!(await tf.setBackend('tensorflow'))) throw new Error('tensorflow backend did not initialise');
      return 'tensorflow';
    case 'webgpu':
      // A software adapter (lavapipe) is slower than the CPU backends: used only when forced.
      lastAdapter = await setWebGpuBackend(forced);
      return 'webgpu';
    case 'native': {
      const load = loadNativeBlas();
      if (!load.ok) throw new Error(load.reason);
      registerNativeBackend(load.blas);
      if (!(await tf.setBackend(NATIVE_BACKEND))) throw new Error('native backend did not initialise');
      const info = load.blas.info();
      lastKernels = { mode: 'native', detail: `${openBlasName(info.blas)}, ${info.threads} thread${info.threads === 1 ? '' : 's'}`, threads: info.threads };
      return NATIVE_BACKEND;
    }
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      registerWasmSegmentSum();
      if (!(await tf.setBackend('wasm'))) throw new Error('wasm backend did not initialise');
      // Faster matmuls (native OpenBLAS when the addon loads) and fused GELU/softmax/LayerNorm.
      lastKernels = installWasmKernels();
      return 'wasm';
    case 'cpu':
      if (!(await tf.setBackend('cpu'))) throw new Error('cpu backend did not initialise');
      // The cpu backend prints a banner advising tfjs-node on first use; our report says it already.
      (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
      return 'cpu';
  }
}

/** `OpenBLAS 0.3.21` from OpenBLAS's configuration string (`OpenBLAS 0.3.21 DYNAMIC_ARCH ...`). */
function openBlasName(config: string): string {
  const m = /OpenBLAS\s+([0-9][^\s]*)/.exec(config);
  return m ? `OpenBLAS ${m[1]}` : 'OpenBLAS';
}

function hasCudaDevice(): boolean {
  const backend = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
  return backend.isUsingGpuDevice === true;
}

function parseForced(value: string | undefined): BackendChoice | undefined {
  if (value === undefined || value === '') return undefined;
  const v = value.trim().toLowerCase();
  if ((BACKEND_ORDER as readonly string[]).includes(v)) return v as BackendChoice;
  throw new Error(`NEUROPRUNE_BACKEND=${value} is not one of ${BACKEND_ORDER.join(', ')}`);
}

/**
 * Initialises the best backend that loads (or the forced one) and returns what was picked.
 * Calling it again returns the first report unless a different backend is forced.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendReport> {
  const forced = options.force ?? parseForced(process.env.NEUROPRUNE_BACKEND);
  if (current && (forced === undefined || forced === current.picked)) return current;

  const skipped: BackendReport['skipped'] = [];
  let report: BackendReport | undefined;
  if (forced) {
    try {
      const tfName = await tryBackend(forced, true);
      report = { picked: forced, tfName, reason: 'forced', skipped, kernels: lastKernels, adapter: lastAdapter };
    } catch (err) {
      throw new Error(`backend '${forced}' was forced but did not load: ${firstLine(err)}`);
    }
  } else {
    for (const choice of BACKEND_ORDER) {
      try {
        const tfName = await tryBackend(choice, false);
        report = { picked: choice, tfName, reason: 'best backend that loaded', skipped, kernels: lastKernels, adapter: lastAdapter };
        break;
      } catch (err) {
        skipped.push({ backend: choice, reason: firstLine(err) });
      }
    }
  }
  if (!report) throw new Error('no TF.js backend loaded: ' + skipped.map((s) => `${s.backend}: ${s.reason}`).join('; '));
  await tf.ready();
  current = report;
  if (options.log) for (const line of describeBackend(report)) process.stderr.write(line + '\n');
  return report;
}

/**
 * The report as printable lines: the pick first, then a warning when the native kernels should
 * be in use and are not (the install step's warning is easy to miss), then one line per backend
 * that was skipped.
 */
export function describeBackend(report: BackendReport): string[] {
  // native: `backend: native (OpenBLAS 0.3.21, 2 threads) (...)`; webgpu: the adapter; wasm: what its kernels add.
  const extra = report.adapter ? ` (${adapterLabel(report.adapter)})`
    : report.picked === 'native' && report.kernels ? ` (${report.kernels.detail})`
    : report.kernels && report.kernels.mode !== 'off' ? ` (+ ${report.kernels.detail})` : '';
  const lines = [`backend: ${report.picked}${extra} (${report.reason})`];
  if (report.kernels?.warning) lines.push(`backend: WARNING: ${report.kernels.warning}`);
  for (const s of report.skipped) lines.push(`backend: skipped ${s.backend}: ${s.reason}`);
  return lines;
}

/** The report of the last `initBackend`, if any. */
export function currentBackend(): BackendReport | undefined {
  return current;
}

export { registerWasmSegmentSum };
