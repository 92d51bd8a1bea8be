import * as tf from '@tensorflow/tfjs';

interface EngineHooks {
  trackTensor: (t: tf.Tensor, backend: unknown) => void;
  removeDataId: (dataId: object, backend: unknown) => void;
  state: { tensorInfo: WeakMap<object, unknown> };
}

/**
 * Peak bytes of distinct tensor buffers alive while `f` runs, above those alive before it.
 * (`tf.memory().numBytes` counts every tensor object, so a saved clone or a reshape counts its
 * buffer again; here a buffer counts once, from its first tensor until the backend frees it.)
 */
export function peakBufferBytes(f: () => void): number {
  const engine = tf.engine() as unknown as EngineHooks;
  const { trackTensor, removeDataId } = engine;
  const sizes = new Map<object, number>();
  let live = 0, peak = 0;
  engine.trackTensor = (t, backend) => {
    const fresh = !engine.state.tensorInfo.has(t.dataId);
    trackTensor.call(engine, t, backend);
    if (fresh && t.dtype !== 'string') {
      const bytes = t.size * (t.dtype === 'complex64' ? 8 : 4);
      sizes.set(t.dataId, bytes);
      live += bytes;
      peak = Math.max(peak, live);
    }
  };
  engine.removeDataId = (dataId, backend) => {
    removeDataId.call(engine, dataId, backend);
    const bytes = sizes.get(dataId);
    if (bytes !== undefined) { live -= bytes; sizes.delete(dataId); }
  };
  try { f(); } finally { engine.trackTensor = trackTensor; engine.removeDataId = removeDataId; }
  return peak;
}
