/**
 * The `webgpu` backend: TF.js's @tensorflow/tfjs-backend-webgpu on Node through Dawn, the WebGPU
 * implementation of Chromium, which the npm package `webgpu` ships prebuilt (dawn.node). Dawn
 * drives Vulkan: NVIDIA, AMD and Intel drivers, and without a GPU Mesa's software driver lavapipe.
 *
 * Two things the browser gives TF.js and Node does not are supplied here:
 * - `navigator.gpu` and the WebGPU globals (GPUBufferUsage, ...), from dawn.node;
 * - synchronous reads. TF.js's webgpu `readSync` draws the buffer onto an OffscreenCanvas, which
 *   Node lacks, and the toolkit reads with `dataSync` in many places (evaluation, head pruning,
 *   compaction, checkpoints). A buffer map completes only when Dawn processes its events, which
 *   dawn.node schedules with `setImmediate` (src/dawn/node/binding/AsyncRunner.cpp) and so only
 *   after the current JavaScript returns. `installImmediatePump` wraps `setImmediate` so that the
 *   callbacks Dawn queues can also be run early; `readSync` then copies the tensor to a staging
 *   buffer, asks for the map, and runs Dawn's pending callbacks until the map is done. The
 *   callbacks run once either way: an early run removes them from the queue the event loop sees.
 *
 * Ops TF.js's webgpu backend lacks or gets wrong here, and what stands in:
 * - AddN over more inputs than a shader may bind (`chunkAddN`): chunked.
 * - The toolkit's own kernels (Neuroprune*: fused GELU/softmax/LayerNorm, dropout, the fused
 *   regularizers, the embedding gradient) are registered for the CPU backends only; on webgpu the
 *   model code takes the plain TF.js ops they replace (src/backend/kernels checks
 *   `tf.getKernel(name, tf.getBackend())`), and the dropout mask is made on the host and uploaded.
 */
import * as tf from '@tensorflow/tfjs';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';

/** What the adapter says of itself, for the backend line. */
export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software rasteriser (lavapipe, SwiftShader): a correctness path, not a fast one. */
  software: boolean;
}

interface DawnModule {
  create(options: string[]): GpuLike;
  globals: Record<string, unknown>;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<AdapterLike | null>;
}
interface AdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
}
interface GpuBufferLike {
  size: number;
  mapState: string;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
interface TensorDataLike {
  values: tf.backend_util.BackendValues | null;
  dtype: tf.DataType;
  resource?: GpuBufferLike;
  complexTensorInfos?: { real: { dataId: object }; imag: { dataId: object } };
}
interface WebGpuBackendLike {
  tensorMap: { get(dataId: object): TensorDataLike };
  bufferManager: { acquireBuffer(size: number, usage: number): GpuBufferLike; releaseBuffer(b: GpuBufferLike): void };
  commandEncoder: { copyBufferToBuffer(a: GpuBufferLike, ao: number, b: GpuBufferLike, bo: number, n: number): void };
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  convertAndCacheOnCPU(dataId: object, values: tf.backend_util.BackendValues): tf.backend_util.BackendValues;
  readSync(dataId: object): tf.backend_util.BackendValues;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe/i;

/** Whether an adapter is a software rasteriser: its own flag, else the known names. */
export function isSoftwareAdapter(info: Record<string, unknown>, fallbackFlag?: boolean): boolean {
  if (info.isFallbackAdapter === true || fallbackFlag === true) return true;
  if (info.architecture === 'software') return true;
  return SOFTWARE.test(`${info.device ?? ''} ${info.description ?? ''}`);
}

/** `mesa llvmpipe: Mesa 25.0.7 (LLVM 15.0.6), software` */
export function adapterLabel(a: AdapterDescription): string {
  const name = a.description || a.device || 'unknown adapter';
  const arch = a.architecture && a.architecture !== 'software' ? ` ${a.architecture}` : '';
  return `${a.vendor || 'unknown vendor'}${arch} ${name}, ${a.software ? 'software rasteriser: correctness, not speed' : 'GPU'}`;
}

let pumpInstalled = false;
const pending = new Set<() => void>();

/**
 * Wraps `setImmediate` so that Dawn's event-processing callbacks can be run early. Only native
 * anonymous functions are tracked (those dawn.node creates); every other callback goes straight
 * to Node's `setImmediate`.
 */
function installImmediatePump(): void {
  if (pumpInstalled) return;
  pumpInstalled = true;
  const original = globalThis.setImmediate;
  const wrapped = function (this: unknown, fn: (...a: unknown[]) => void, ...args: unknown[]) {
    if (typeof fn === 'function' && fn.name === '' && Function.prototype.toString.call(fn).includes('[native code]')) {
      const entry = () => {
        if (pending.delete(entry)) fn(...args);
      };
      pending.add(entry);
      return original(entry);
    }
    return original(fn, ...args);
  } as unknown as typeof setImmediate;
  Object.assign(wrapped, original);
  globalThis.setImmediate = wrapped;
}

/** Runs Dawn's queued callbacks once; returns how many ran. */
function pumpDawn(): number {
  const queued = [...pending];
  for (const f of queued) f();
  return queued.length;
}

/** Maps `buffer` for reading without returning to the event loop. */
function mapReadSync(buffer: GpuBufferLike): void {
  buffer.mapAsync(GPUMapModeRead()).catch(() => undefined);
  let spins = 0;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (buffer.mapState === 'pending') {
    if (pumpDawn() === 0) throw new Error('webgpu readSync: Dawn queued no event processing while a buffer map was pending');
    // Give the driver's threads (lavapipe computes on the CPU) the cores after a burst of polls.
    if (++spins % 64 === 0) Atomics.wait(sleeper, 0, 0, 0.05);
  }
  // A failed map (a lost device) leaves the buffer unmapped.
  if (buffer.mapState !== 'mapped') throw new Error(`webgpu readSync: the GPU did not map the staging buffer (state '${buffer.mapState}'); the device may be lost`);
}

function GPUMapModeRead(): number {
  return (globalThis as unknown as { GPUMapMode: { READ: number } }).GPUMapMode.READ;
}
function usage(): { COPY_DST: number; MAP_READ: number } {
  return (globalThis as unknown as { GPUBufferUsage: { COPY_DST: number; MAP_READ: number } }).GPUBufferUsage;
}

/** A `readSync` for the webgpu backend that needs no canvas: staging buffer, map, pump. */
function readSyncNode(this: WebGpuBackendLike, dataId: object): tf.backend_util.BackendValues {
  const data = this.tensorMap.get(dataId);
  if (data.values != null || data.dtype === 'string') return data.values as tf.backend_util.BackendValues;
  if (data.dtype === 'complex64') {
    const real = this.readSync(data.complexTensorInfos!.real.dataId) as Float32Array;
    const imag = this.readSync(data.complexTensorInfos!.imag.dataId) as Float32Array;
    const merged = tf.backend_util.mergeRealAndImagArrays(real, imag);
    return this.convertAndCacheOnCPU(dataId, merged);
  }
  const src = data.resource!;
  const staging = this.bufferManager.acquireBuffer(src.size, usage().COPY_DST | usage().MAP_READ);
  this.ensureCommandEncoderReady();
  this.endComputePassEncoder();
  this.commandEncoder.copyBufferToBuffer(src, 0, staging, 0, src.size);
  this.submitQueue();
  mapReadSync(staging);
  const bytes = staging.getMappedRange().slice(0);
  staging.unmap();
  this.bufferManager.releaseBuffer(staging);
  const values = tf.util.convertBackendValuesAndArrayBuffer(bytes, data.dtype);
  return this.convertAndCacheOnCPU(dataId, values);
}

let dawn: DawnModule | undefined;
let gpu: GpuLike | undefined;

/**
 * Gives Node `navigator.gpu` from dawn.node and describes the adapter Dawn picks for
 * TF.js's request (`high-performance`). Throws, naming the package or the driver, when there is
 * no adapter.
 */
export async function probeWebGpu(): Promise<AdapterDescription> {
  if (!process.env.XDG_RUNTIME_DIR) {
    // Mesa warns on every start without it; the directory only matters to display servers.
    process.env.XDG_RUNTIME_DIR = tmpdir();
  }
  installImmediatePump();
  if (!dawn) {
    const pkg = 'webgpu';
    try {
      dawn = (await import(pkg)) as DawnModule;
    } catch (err) {
      throw new Error(`the 'webgpu' package (Dawn for Node) did not load: ${(err as Error).message.split('\n')[0]}`);
    }
    Object.assign(globalThis, dawn.globals);
  }
  if (!gpu) gpu = dawn.create([]);
  const nav = ((globalThis as { navigator?: object }).navigator ?? {}) as { gpu?: GpuLike };
  if (nav.gpu !== gpu) {
    Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true });
    if ((globalThis as { navigator?: object }).navigator !== nav) {
      Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
    }
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    throw new Error("Dawn found no WebGPU adapter: install a Vulkan driver (libvulkan1 and the GPU vendor's driver, or for lavapipe a mesa-vulkan-drivers newer than Debian bookworm's 22.3, e.g. bookworm-backports' 25.x)");
  }
  const info = adapter.info ?? {};
  return {
    vendor: String(info.vendor ?? ''),
    architecture: String(info.architecture ?? ''),
    device: String(info.device ?? ''),
    description: String(info.description ?? ''),
    software: isSoftwareAdapter(info, adapter.isFallbackAdapter),
  };
}

/**
 * On Linux, the device node a hardware Vulkan driver needs (Mesa's: a DRM render node; NVIDIA's:
 * /dev/nvidia*; WSL2's: /dev/dxg), or undefined when there is none. Elsewhere: 'unknown'.
 */
export function gpuDeviceNode(): string | undefined {
  if (process.platform !== 'linux') return 'unknown';
  const render = existsSync('/dev/dri') ? readdirSync('/dev/dri').find((f) => f.startsWith('renderD')) : undefined;
  if (render) return `/dev/dri/${render}`;
  return ['/dev/nvidiactl', '/dev/nvidia0', '/dev/dxg'].find((f) => existsSync(f));
}

/**
 * The adapter automatic selection would use: none without a GPU device node (Dawn is not even
 * loaded, so the Vulkan loader prints nothing), and lavapipe hidden from the Vulkan loader while
 * Dawn enumerates (lavapipe's limits make Dawn print two warnings on every start).
 */
async function probeHardware(): Promise<AdapterDescription> {
  if (gpuDeviceNode() === undefined) {
    throw new Error('no GPU device (/dev/dri/renderD*, /dev/nvidia*, /dev/dxg); NEUROPRUNE_BACKEND=webgpu uses a software adapter (lavapipe)');
  }
  const key = 'VK_LOADER_DRIVERS_DISABLE';
  const saved = process.env[key];
  if (saved === undefined) process.env[key] = '*lvp*';
  try {
    const found = await probeWebGpu();
    if (found.software) throw new Error(`only a software adapter (${found.description || found.device}); NEUROPRUNE_BACKEND=webgpu uses it`);
    return found;
  } catch (err) {
    // The instance made without lavapipe is not the one a forced `webgpu` should use.
    releaseWebGpu();
    throw err;
  } finally {
    if (saved === undefined) delete process.env[key];
  }
}

/**
 * Sets TF.js's `webgpu` backend with a Node `readSync`. `allowSoftware` false refuses a software
 * adapter (automatic selection prefers the native CPU backends to lavapipe).
 */
export async function setWebGpuBackend(allowSoftware: boolean): Promise<AdapterDescription> {
  const adapter = allowSoftware ? await probeWebGpu() : await probeHardware();
  // Registers the backend only if navigator.gpu exists when first imported: after the probe.
  await import('@tensorflow/tfjs-backend-webgpu');
  const cpuForward = process.env.NEUROPRUNE_WEBGPU_CPU_FORWARD;
  if (cpuForward !== undefined && cpuForward !== '') {
    if (cpuForward !== 'on' && cpuForward !== 'off') throw new Error(`NEUROPRUNE_WEBGPU_CPU_FORWARD=${cpuForward} is not 'on' or 'off'`);
    // TF.js runs an op under 1000 elements on the CPU when its inputs' values are on the host
    // (on by default); 'off' sends every op to the GPU.
    tf.env().set('WEBGPU_CPU_FORWARD', cpuForward === 'on');
  }
  if (!(await tf.setBackend('webgpu'))) throw new Error('webgpu backend did not initialise');
  const backend = tf.backend() as unknown as WebGpuBackendLike & { readSync: unknown; device: { limits: { maxStorageBuffersPerShaderStage: number } } };
  backend.readSync = readSyncNode;
  chunkAddN(backend.device.limits.maxStorageBuffersPerShaderStage);
  return adapter;
}

let addNChunked = false;

/**
 * TF.js's webgpu AddN binds every input in one shader, and a device gets 8 storage buffers per
 * stage unless it asks for more (TF.js does not): the sum of a gradient norm over a model's
 * parameters, or of R_attn's terms over its layers, fails to compile. The replacement adds in
 * chunks that fit, left to right (the first chunk, then the running sum with the next inputs), so
 * the order of the additions is the cpu backend's.
 */
function chunkAddN(storageBuffers: number): void {
  if (addNChunked) return;
  const original = tf.getKernel('AddN', 'webgpu');
  if (!original) return;
  addNChunked = true;
  const perCall = Math.max(2, storageBuffers - 1); // one binding is the output
  const kernelFunc = ((args: { inputs: tf.TensorInfo[]; backend: tf.KernelBackend; attrs?: tf.NamedAttrMap }) => {
    const inputs = args.inputs;
    if (inputs.length <= perCall) return original.kernelFunc(args as unknown as Parameters<tf.KernelFunc>[0]);
    const run = (xs: tf.TensorInfo[]) => original.kernelFunc({ ...args, inputs: xs } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    let acc = run(inputs.slice(0, perCall));
    for (let i = perCall; i < inputs.length; i += perCall - 1) {
      const next = run([acc, ...inputs.slice(i, i + perCall - 1)]);
      args.backend.disposeData(acc.dataId);
      acc = next;
    }
    return acc;
  }) as unknown as tf.KernelFunc;
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc });
}

/**
 * Drops the reference to Dawn's instance: while `navigator.gpu` holds it, Dawn keeps the process
 * alive (https://issues.chromium.org/issues/387965810). Used when the adapter is refused.
 */
export function releaseWebGpu(): void {
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator;
  if (nav && nav.gpu === gpu) delete nav.gpu;
  gpu = undefined;
}
