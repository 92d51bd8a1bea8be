/**
 * NeuroPrune's regularizers and the AdamW update over the wasm heap or the native backend's typed
 * arrays, through the native addon.
 *
 * - `NeuropruneRegMlp[Grad]` / `NeuropruneRegAttn[Grad]` (wasm kernels): R_mlp of one
 *   `[rows, cols]` matrix and R_attn of one block's Q, K, V, the value in one pass over the
 *   weights and the gradient (times the upstream scalar) in one more, written straight into new
 *   wasm tensors (see src/neuroprune/fusedRegularizers.ts for the formulas).
 * - `nativeAdamWUpdate`: one AdamW step of one parameter, updating the parameter and its moments
 *   in place on the heap when no other tensor shares their buffers (otherwise into fresh buffers).
 *
 * Everything here is active only on a backend that registered the addon for it
 * (`installWasmKernels` on wasm, `registerNativeBackend` on native); callers fall back to their
 * own paths otherwise. `trainingKernelCalls` counts the native calls
 * (tests use it to check which path ran).
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeBlas } from './native';
import type { WasmBackendLike, WasmTensorInfo } from './matmul';

export const TRAINING_KERNELS = ['NeuropruneRegMlp', 'NeuropruneRegMlpGrad', 'NeuropruneRegAttn', 'NeuropruneRegAttnGrad'] as const;

/** How many times each native path has run in this process (values, gradients, updates). */
export const trainingKernelCalls = { regMlp: 0, regMlpGrad: 0, regAttn: 0, regAttnGrad: 0, adamw: 0 };

type Kernel = (args: { inputs: Record<string, WasmTensorInfo>; backend: WasmBackendLike; attrs: Record<string, unknown> }) => WasmTensorInfo | WasmTensorInfo[];

interface RefCountingBackend extends WasmBackendLike { refCount(dataId: object): number }

interface TrainingBackend {
  blas: NativeBlas;
  /** The backend's tensors as typed arrays (the backend itself on wasm, an adapter on native). */
  heap: (backend: object) => RefCountingBackend;
  /**
   * Whether the variable itself may be updated in place. Yes on wasm, whose `dataSync()` copies
   * out of the heap; no on native, whose `dataSync()` returns the tensor's own array: a caller
   * holding a variable's values across a step (to compare before and after, say) would see them
   * change. There the parameter goes through a fresh buffer (one more pass over it, small next to
   * the step) and `assign`; the moments, which only the optimizer holds, stay in place.
   */
  paramsInPlace: boolean;
}

/** The addon, per backend name, while its kernels are installed there. */
const active = new Map<string, TrainingBackend>();

/** Registers (or, with `undefined`, removes) the addon for `backendName`'s training paths. */
export function registerTrainingBlas(backendName: string, blas: NativeBlas | undefined, heap?: (backend: object) => RefCountingBackend): void {
  if (!blas) {
    active.delete(backendName);
    return;
  }
  active.set(backendName, {
    blas,
    heap: heap ?? ((backend) => backend as RefCountingBackend),
    paramsInPlace: backendName === 'wasm',
  });
}

/** The wasm backend's registration (kept for `installWasmKernels`). */
export function setTrainingBlas(blas: NativeBlas | undefined): void {
  registerTrainingBlas('wasm', blas);
}

/**
 * The value kernels read the weights once; the gradient kernels (`dy` the upstream scalar) read
 * them again and write `dy * dR/dw` directly, which costs less than saving the gradient from the
 * forward pass and scaling it by `dy` afterwards (one write and one read-and-write more).
 */
export function wasmTrainingKernels(blas: NativeBlas): Record<(typeof TRAINING_KERNELS)[number], Kernel> {
  const view = (backend: WasmBackendLike, t: WasmTensorInfo) => backend.typedArrayFromHeap(t) as Float32Array;
  const scalarOutput = (backend: WasmBackendLike, value: number) => {
    const out = backend.makeOutput([], 'float32');
    view(backend, out)[0] = value;
    return out;
  };
  const regMlp = blas.regMlp!.bind(blas), regAttn = blas.regAttn!.bind(blas);
  return {
    NeuropruneRegMlp: ({ inputs: { x }, backend, attrs }) => {
      const [rows, cols] = x.shape;
      trainingKernelCalls.regMlp++;
      return scalarOutput(backend, regMlp(view(backend, x), null, rows, cols, attrs.eps as number, 0));
    },
    NeuropruneRegMlpGrad: ({ inputs: { x, dy }, backend, attrs }) => {
      const [rows, cols] = x.shape;
      const grad = backend.makeOutput(x.shape, 'float32');
      // Views after the allocation: an allocation may grow (and so detach) the heap.
      regMlp(view(backend, x), view(backend, grad), rows, cols, attrs.eps as number, view(backend, dy)[0]);
      trainingKernelCalls.regMlpGrad++;
      return grad;
    },
    NeuropruneRegAttn: ({ inputs: { q, k, v }, backend, attrs }) => {
      trainingKernelCalls.regAttn++;
      return scalarOutput(backend, regAttn(view(backend, q), view(backend, k), view(backend, v), null, null, null,
        q.shape[0], k.shape[0], v.shape[0], q.shape[1], attrs.delta as number, 0));
    },
    NeuropruneRegAttnGrad: ({ inputs: { q, k, v, dy }, backend, attrs }) => {
      const grads = [q, k, v].map((t) => backend.makeOutput(t.shape, 'float32'));
      regAttn(view(backend, q), view(backend, k), view(backend, v), view(backend, grads[0]), view(backend, grads[1]), view(backend, grads[2]),
        q.shape[0], k.shape[0], v.shape[0], q.shape[1], attrs.delta as number, view(backend, dy)[0]);
      trainingKernelCalls.regAttnGrad++;
      return grads;
    },
  };
}

export interface AdamWStep {
  lr: number; beta1: number; beta2: number; epsilon: number;
  /** 0 for parameters without weight decay. */
  weightDecay: number;
  step: number;
}

/**
 * One AdamW update of `p` with gradient `g`, natively, or `undefined` (nothing done) when the
 * native kernels are not in use for these tensors. Returns the moments to keep: `m` and `v`
 * themselves (updated in place) unless another tensor shares their buffer, in which case fresh
 * tensors (the caller then disposes the old ones). On wasm the variable is updated in place when
 * it is the only holder of its buffer, else through a fresh buffer and `assign`; on native always
 * through a fresh buffer (see `TrainingBackend.paramsInPlace`).
 */
export function nativeAdamWUpdate(p: tf.Variable, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, h: AdamWStep): { m: tf.Tensor; v: tf.Tensor } | undefined {
  const name = tf.getBackend();
  const reg = active.get(name);
  if (!reg || tf.getKernel('NeuropruneRegMlp', name) === undefined) return undefined;
  const blas = reg.blas;
  if ([p, m, v, g].some((t) => t.dtype !== 'float32' || t.size !== p.size)) return undefined;
  const backend = reg.heap(tf.backend());
  if (typeof backend.refCount !== 'function') return undefined;
  // A buffer shared with another tensor (a zero-copy clone or reshape) must not change under it:
  // such a tensor is first copied into a buffer of its own.
  const own = (t: tf.Tensor, inPlace = true): tf.Tensor => {
    if (inPlace && backend.refCount(t.dataId) === 1) return t;
    const info = backend.makeOutput(t.shape, 'float32');
    (backend.typedArrayFromHeap(info) as Float32Array).set(backend.typedArrayFromHeap(t as unknown as WasmTensorInfo) as Float32Array);
    return tf.engine().makeTensorFromTensorInfo(info as unknown as tf.TensorInfo);
  };
  const pw = own(p, reg.paramsInPlace), mw = own(m), vw = own(v);
  const n = p.size;
  if (n > 0) {
    const f32 = (t: tf.Tensor) => backend.typedArrayFromHeap(t as unknown as WasmTensorInfo) as Float32Array;
    blas.adamw!(f32(pw), f32(mw), f32(vw), f32(g), n, h.lr, h.beta1, h.beta2, h.epsilon, h.weightDecay, h.step);
  }
  if (pw !== p) {
    p.assign(pw);
    pw.dispose();
  }
  trainingKernelCalls.adamw++;
  return { m: mw, v: vw };
}
